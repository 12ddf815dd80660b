package compress

import (
	"errors"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/tokens"
	"github.com/switchboard-gw/switchboard/translators"
)

// conversation3 is a system prompt and three turns of the same text.
func conversation3(text string) []byte {
	return request("", msg{"system", "Be brief."}, msg{"user", "u1" + text}, msg{"assistant", "a1" + text}, msg{"user", "u2" + text})
}

// TestRealCountsDecide: the decision follows the tokenizer, not bytes/4,
// where the two differ most: English words are about 6 bytes a token,
// spaced digits 1.
func TestRealCountsDecide(t *testing.T) {
	// " hello" x 99: 99 tokens, 594 bytes. Per turn 4 + role 1 + "u1" 2 +
	// 99 = 106 counted, the system prompt 4 + 1 + 3 = 8: 3 + 8 + 318 = 329.
	// By bytes/4 the same prompt is 3 + 9 + 154 + 156 + 154 = 476.
	prose := conversation3(strings.Repeat(" hello", 99))
	// " 7" x 100: 200 tokens, 200 bytes. Per turn 207 counted: 3 + 8 + 621
	// = 632; by bytes/4 3 + 9 + 56 + 58 + 56 = 182.
	digits := conversation3(strings.Repeat(" 7", 100))
	tests := []struct {
		name    string
		body    []byte
		lim     Limits
		opts    tokens.Options
		removed int
		before  int // 0: not counted
	}{
		{name: "prose fits by count", body: prose, lim: Limits{ContextTokens: 400}, before: 329},
		{name: "prose over by bytes/4", body: prose, lim: Limits{ContextTokens: 400}, opts: tokens.Options{Count: tokens.EstimateText}, removed: 1, before: 476},
		{name: "digits over by count", body: digits, lim: Limits{ContextTokens: 450}, removed: 1, before: 632},
		{name: "digits fit by bytes/4", body: digits, lim: Limits{ContextTokens: 450}, opts: tokens.Options{Count: tokens.EstimateText}, before: 182},
		// 329 + 30% is 428: over 400 for a model o200k_base approximates.
		{name: "prose with the margin", body: prose, lim: Limits{ContextTokens: 400}, opts: tokens.ForModels("claude-sonnet-4-5"), removed: 1, before: 329},
		{name: "prose, cl100k", body: prose, lim: Limits{ContextTokens: 400}, opts: tokens.ForModels("gpt-4"), before: 329},
		// Bytes alone show it fits (about 1,900): nothing is counted.
		{name: "far from the limit", body: prose, lim: Limits{ContextTokens: 10_000}, before: 0},
		{name: "far from the limit, margin", body: prose, lim: Limits{ContextTokens: 10_000}, opts: tokens.ForModels("gemini-2.5-pro"), before: 0},
		{name: "no limit", body: prose, before: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := MiddleOut(tc.body, tc.lim, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Removed != tc.removed || res.Changed != (tc.removed > 0) {
				t.Errorf("removed %d (changed %v), want %d", res.Removed, res.Changed, tc.removed)
			}
			if res.TokensBefore != tc.before {
				t.Errorf("TokensBefore %d, want %d", res.TokensBefore, tc.before)
			}
			if tc.removed > 0 && shape(res.Body) != "system:Be user:u1 user:u2" {
				t.Errorf("kept %s", shape(res.Body))
			}
		})
	}
}

func TestCheckCounts(t *testing.T) {
	prose := conversation3(strings.Repeat(" hello", 99)) // 329 counted
	tests := []struct {
		name    string
		lim     Limits
		opts    tokens.Options
		wantErr string
	}{
		{name: "fits by bytes", lim: Limits{ContextTokens: 10_000}},
		{name: "fits by count", lim: Limits{ContextTokens: 329}},
		{name: "one over", lim: Limits{ContextTokens: 328}, wantErr: "needs about 329 (329 in the prompt); add"},
		{name: "margin", lim: Limits{ContextTokens: 400}, opts: tokens.ForModels("claude-sonnet-4-5"),
			wantErr: "needs about 428 (428 in the prompt, counted with a 30% margin for the model's own tokenizer); add"},
		{name: "margin fits", lim: Limits{ContextTokens: 428}, opts: tokens.ForModels("claude-sonnet-4-5")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(prose, tc.lim, tc.opts)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var ae *translators.APIError
			if !errors.As(err, &ae) || ae.Code != "context_length_exceeded" || !strings.Contains(ae.Message, tc.wantErr) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestTruncateUnevenText: a cut sized from the message's average bytes a
// token falls short when the middle it drops is sparser than the rest
// (6 bytes a token of prose between digits at 1); the cut is made
// deeper, from the original text, until it fits.
func TestTruncateUnevenText(t *testing.T) {
	text := strings.Repeat(" 7", 500) + strings.Repeat(" hello", 1000) + strings.Repeat(" 7", 500)
	body := request("", msg{"system", "Be brief."}, msg{"user", text}, msg{"user", "the question"})
	if before, _ := tokens.Estimate(body, tokens.Options{}); before != 3+8+(4+1+3000)+(4+1+2) {
		t.Fatalf("counted %d before", before)
	}
	res, err := MiddleOut(body, Limits{ContextTokens: 2000}, tokens.Options{})
	if err != nil {
		t.Fatal(err)
	}
	prompt, _ := tokens.Estimate(res.Body, tokens.Options{})
	if res.Truncated != 1 || prompt > 2000 || prompt < 1800 || prompt != res.TokensAfter {
		t.Errorf("truncated %d, prompt %d (TokensAfter %d), want 1 and 1800..2000", res.Truncated, prompt, res.TokensAfter)
	}
	if last := gjson.GetBytes(res.Body, "messages.2.content").Str; last != "the question" {
		t.Errorf("last message %q", last)
	}
}

// prompt100K is about 100 KB of prose, code and JSON.
func prompt100K() string {
	para := "The gateway forwards each request to the provider that serves the model, translating the schema on the way. " +
		"It retries on another provider when the first one fails, and it reports usage and cost per key.\n" +
		"```go\nfunc (p *Plugin) Start(ctx context.Context, in Input) (Step, error) {\n\tif in.Body == nil {\n\t\treturn Step{}, nil\n\t}\n\treturn Step{Body: in.Body}, nil\n}\n```\n" +
		`{"id":"call_7Qx2","type":"function","function":{"name":"lookup","arguments":"{\"city\":\"Paris\",\"days\":3}"}}` + "\n"
	s := strings.Repeat(para, 100_000/len(para)+1)
	return s[:100_000]
}

// BenchmarkMiddleOut100K: a 100 KB prompt in 20 turns that fits by its
// byte length (nothing counted), that fits only by its count, and that
// is compressed.
func BenchmarkMiddleOut100K(b *testing.B) {
	text := prompt100K()
	msgs := []msg{{"system", "Be brief."}}
	for i := range 20 {
		role := "user"
		if i%2 == 1 {
			role = "assistant"
		}
		part := text[i*5000 : (i+1)*5000]
		msgs = append(msgs, msg{role, strings.NewReplacer("\n", `\n`, "\t", `\t`, `"`, `\"`, `\`, `\\`).Replace(part)})
	}
	body := request("", msgs...)
	for _, bc := range []struct {
		name string
		ctx  int
	}{
		{"fits by bytes", 200_000},
		{"fits by count", 60_000},
		{"compressed", 10_000},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := MiddleOut(body, Limits{ContextTokens: bc.ctx}, tokens.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
