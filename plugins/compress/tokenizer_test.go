package compress

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/tiktoken-go/tokenizer/codec"

	"github.com/switchboard-gw/switchboard/translators"
)

func TestCounterExact(t *testing.T) {
	goCode := "func main() {\n\tfmt.Println(\"hi\")\n}\n"
	tests := []struct {
		name          string
		text          string
		o200k, cl100k int
	}{
		{name: "empty", text: "", o200k: 0, cl100k: 0},
		{name: "hello world", text: "hello world", o200k: 2, cl100k: 2},
		// OpenAI's cookbook example ("How to count tokens with tiktoken"):
		// 6 tokens in both; TestCounterIDs checks the ids it lists.
		{name: "cookbook", text: "tiktoken is great!", o200k: 6, cl100k: 6},
		{name: "accents", text: "héllo wörld", o200k: 5, cl100k: 6},
		{name: "japanese", text: "こんにちは世界", o200k: 2, cl100k: 4},
		{name: "go code", text: goCode, o200k: 10, cl100k: 10},
		// Digits go in runs of at most 3, spaces alone before a digit.
		{name: "spaced digits", text: "7 7 7 7", o200k: 7, cl100k: 7},
		{name: "special tokens are text", text: "<|endoftext|>", o200k: 7, cl100k: 7},
	}
	o200k, err := Counter(O200k)
	if err != nil {
		t.Fatal(err)
	}
	cl100k, err := Counter(Cl100k)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := o200k(tc.text); got != tc.o200k {
				t.Errorf("o200k_base: %d tokens, want %d", got, tc.o200k)
			}
			if got := cl100k(tc.text); got != tc.cl100k {
				t.Errorf("cl100k_base: %d tokens, want %d", got, tc.cl100k)
			}
		})
	}
	if _, err := Counter("p50k_base"); err == nil || !strings.Contains(err.Error(), `unknown encoding "p50k_base"`) {
		t.Errorf("unknown encoding: err = %v", err)
	}
}

// TestCounterIDs pins the vocabularies to the token ids OpenAI's
// cookbook prints for "tiktoken is great!".
func TestCounterIDs(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    *codec.Codec
		want []uint
	}{
		{name: "o200k_base", c: codec.NewO200kBase(), want: []uint{83, 8251, 2488, 382, 2212, 0}},
		{name: "cl100k_base", c: codec.NewCl100kBase(), want: []uint{83, 1609, 5963, 374, 2294, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, _, err := tc.c.Encode("tiktoken is great!")
			if err != nil || !slices.Equal(ids, tc.want) {
				t.Errorf("ids %v, %v; want %v", ids, err, tc.want)
			}
		})
	}
}

// TestByteBound checks the claim the shortcut rests on: no string has
// more tokens than byteBound says, in either encoding, whatever it is
// made of (invalid UTF-8 included).
func TestByteBound(t *testing.T) {
	pieces := []string{"a", "Z", " ", "\n", "\t", "7", "42", ".", "{", "\"", "é", "ß", "日", "本", "語", "😀", "👩‍💻",
		"\xff", "\xfe", "\xe2\x82", "\xc3", "\x80", "the", " hello", "\r\n", "\u00a0", "\u200b"}
	rng := rand.New(rand.NewPCG(1, 2))
	samples := []string{"\xff", "\xff\xfe\xfd", strings.Repeat("\x80", 40), strings.Repeat("7 ", 50), strings.Repeat("😀", 30)}
	for range 3000 {
		var b strings.Builder
		for range 1 + rng.IntN(40) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		samples = append(samples, b.String())
	}
	for _, e := range []Encoding{O200k, Cl100k} {
		count, err := Counter(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range samples {
			if n := count(s); n > byteBound(s) {
				t.Fatalf("%s: %q has %d tokens, byteBound %d", e, s, n, byteBound(s))
			}
			if n := EstimateText(s); n > byteBound(s) {
				t.Fatalf("EstimateText(%q) = %d, byteBound %d", s, n, byteBound(s))
			}
		}
	}
}

// TestBytesTallyBounds: the byte bound of whole requests, measured on
// their JSON text, is never below their count.
func TestBytesTallyBounds(t *testing.T) {
	bodies := []string{
		string(conversation3(strings.Repeat(" 7", 100))),
		string(request("", msg{"system", "s"}, msg{"user", "u"}, msg{"call", "c1"}, msg{"tool", "c1"})),
		`{"tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":[{"type":"text","text":"abc"},{"type":"image_url","image_url":{"url":"x"}},{"type":"input_audio","input_audio":{"data":"AAAA"}}]}]}`,
		`{"messages":[{"role":"user","content":"\u00e9\u00e9\n\n\t\"\\ \ud83d\ude00 \ud800"},{"role":"assistant","content":null,"refusal":"no","reasoning_content":"7 7 7","function_call":{"name":"f","arguments":"{\"a\":1}"}}]}`,
		`{"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}},"messages":[{"role":"user","name":"bob","content":"日本語のテキスト"}]}`,
	}
	for _, e := range []Encoding{O200k, Cl100k} {
		count, _ := Counter(e)
		for _, b := range bodies {
			if !gjson.Valid(b) {
				t.Fatalf("invalid test body %s", b)
			}
			n, bound := promptTokens([]byte(b), tally{count: count}), promptTokens([]byte(b), bytesTally)
			if n > bound {
				t.Errorf("%s: %d tokens, bound %d, for %s", e, n, bound, b)
			}
		}
	}
}

func TestEncodingOf(t *testing.T) {
	tests := []struct {
		model string
		enc   Encoding
		exact bool
	}{
		{"gpt-4o", O200k, true},
		{"gpt-4o-mini-2024-07-18", O200k, true},
		{"chatgpt-4o-latest", O200k, true},
		{"gpt-4.1-mini", O200k, true},
		{"gpt-5", O200k, true},
		{"gpt-5.1-codex", O200k, true},
		{"o3-mini", O200k, true},
		{"o1", O200k, true},
		{"openai/gpt-4o", O200k, true},
		{"openai.gpt-oss-120b-1:0", O200k, true},
		{"ft:gpt-4o-mini-2024-07-18:acme::abc123", O200k, true},
		{"GPT-4O", O200k, true},
		{"gpt-4", Cl100k, true},
		{"gpt-4-turbo", Cl100k, true},
		{"gpt-3.5-turbo-0125", Cl100k, true},
		{"gpt-35-turbo", Cl100k, true},
		{"ft:gpt-3.5-turbo:acme::x", Cl100k, true},
		// Not OpenAI's: o200k_base, approximately.
		{"claude-sonnet-4-5", O200k, false},
		{"anthropic/claude-3.5-sonnet", O200k, false},
		{"anthropic.claude-3-haiku-20240307-v1:0", O200k, false},
		{"gemini-2.5-flash", O200k, false},
		{"llama-3.3-70b", O200k, false},
		{"o1x", O200k, false},
		{"gpt-4x", O200k, false},
		{"my-azure-deployment", O200k, false},
		{"", O200k, false},
	}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			enc, exact := EncodingOf(tc.model)
			if enc != tc.enc || exact != tc.exact {
				t.Errorf("EncodingOf = %s, %v; want %s, %v", enc, exact, tc.enc, tc.exact)
			}
		})
	}
}

func TestForModels(t *testing.T) {
	tests := []struct {
		name   string
		models []string
		want   Options
	}{
		{name: "one o200k model", models: []string{"gpt-4o"}, want: Options{Encoding: O200k}},
		{name: "one cl100k model", models: []string{"gpt-4-turbo"}, want: Options{Encoding: Cl100k}},
		{name: "two o200k providers", models: []string{"gpt-4.1", "openai/gpt-4.1"}, want: Options{Encoding: O200k}},
		{name: "claude", models: []string{"claude-opus-4-1"}, want: Options{Encoding: O200k, Margin: ApproxMargin}},
		{name: "gpt with a claude fallback", models: []string{"gpt-4o", "claude-sonnet-4-5"}, want: Options{Encoding: O200k, Margin: ApproxMargin}},
		{name: "mixed OpenAI encodings", models: []string{"gpt-4o", "gpt-4"}, want: Options{Encoding: O200k, Margin: ApproxMargin}},
		{name: "no providers", want: Options{Encoding: O200k, Margin: ApproxMargin}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ForModels(tc.models...)
			if got.Encoding != tc.want.Encoding || got.Margin != tc.want.Margin || got.Count != nil {
				t.Errorf("ForModels = %+v, want %+v", got, tc.want)
			}
		})
	}
}

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
		opts    Options
		removed int
		before  int // 0: not counted
	}{
		{name: "prose fits by count", body: prose, lim: Limits{ContextTokens: 400}, before: 329},
		{name: "prose over by bytes/4", body: prose, lim: Limits{ContextTokens: 400}, opts: Options{Count: EstimateText}, removed: 1, before: 476},
		{name: "digits over by count", body: digits, lim: Limits{ContextTokens: 450}, removed: 1, before: 632},
		{name: "digits fit by bytes/4", body: digits, lim: Limits{ContextTokens: 450}, opts: Options{Count: EstimateText}, before: 182},
		// 329 + 30% is 428: over 400 for a model o200k_base approximates.
		{name: "prose with the margin", body: prose, lim: Limits{ContextTokens: 400}, opts: ForModels("claude-sonnet-4-5"), removed: 1, before: 329},
		{name: "prose, cl100k", body: prose, lim: Limits{ContextTokens: 400}, opts: ForModels("gpt-4"), before: 329},
		// Bytes alone show it fits (about 1,900): nothing is counted.
		{name: "far from the limit", body: prose, lim: Limits{ContextTokens: 10_000}, before: 0},
		{name: "far from the limit, margin", body: prose, lim: Limits{ContextTokens: 10_000}, opts: ForModels("gemini-2.5-pro"), before: 0},
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
		opts    Options
		wantErr string
	}{
		{name: "fits by bytes", lim: Limits{ContextTokens: 10_000}},
		{name: "fits by count", lim: Limits{ContextTokens: 329}},
		{name: "one over", lim: Limits{ContextTokens: 328}, wantErr: "needs about 329 (329 in the prompt); add"},
		{name: "margin", lim: Limits{ContextTokens: 400}, opts: ForModels("claude-sonnet-4-5"),
			wantErr: "needs about 428 (428 in the prompt, counted with a 30% margin for the model's own tokenizer); add"},
		{name: "margin fits", lim: Limits{ContextTokens: 428}, opts: ForModels("claude-sonnet-4-5")},
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
	if before, _ := Estimate(body, Options{}); before != 3+8+(4+1+3000)+(4+1+2) {
		t.Fatalf("counted %d before", before)
	}
	res, err := MiddleOut(body, Limits{ContextTokens: 2000}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	prompt, _ := Estimate(res.Body, Options{})
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

// BenchmarkCount100K counts 100 KB with o200k_base.
func BenchmarkCount100K(b *testing.B) {
	count, err := Counter(O200k)
	if err != nil {
		b.Fatal(err)
	}
	s := prompt100K()
	tokens := count(s)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		count(s)
	}
	b.ReportMetric(float64(tokens), "tokens/op")
	b.ReportMetric(float64(tokens)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
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
				if _, err := MiddleOut(body, Limits{ContextTokens: bc.ctx}, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestNeeds(t *testing.T) {
	prose := conversation3(strings.Repeat(" hello", 99)) // 329 counted, no completion budget
	withImage := []byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`)
	tests := []struct {
		name  string
		body  []byte
		model string
		limit int
		want  int
	}{
		// Three tokens a byte of body: fits, nothing walked or counted.
		{name: "far", body: prose, model: "gpt-4o", limit: 100_000, want: 3 * len(prose)},
		{name: "far, margin", body: prose, model: "claude-sonnet-4-5", limit: 100_000, want: withMargin(3*len(prose), ApproxMargin)},
		// The texts' byte bound: fits.
		{name: "walked", body: prose, model: "gpt-4o", limit: 2000, want: promptTokens(prose, bytesTally)},
		{name: "counted", body: prose, model: "gpt-4o", limit: 400, want: 329},
		{name: "counted, margin", body: prose, model: "claude-sonnet-4-5", limit: 400, want: 428},
		{name: "counted, cl100k", body: prose, model: "gpt-4", limit: 400, want: 329},
		// 765 for the image is more than three a byte: walked, not guessed.
		{name: "image", body: withImage, model: "gpt-4o", limit: 1000, want: promptTokens(withImage, bytesTally)},
		{name: "image counted", body: withImage, model: "gpt-4o", limit: 700, want: 3 + 4 + 1 + 765},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := NewNeeds(tc.body, completionBudget(tc.body)).Of(tc.model, tc.limit); got != tc.want {
				t.Errorf("Of(%s, %d) = %d, want %d", tc.model, tc.limit, got, tc.want)
			}
		})
	}
	// The completion budget counts, and a second model of the same
	// encoding reuses the count.
	body := request(`,"max_tokens":50`, msg{"user", words("u1", 300)})
	n := NewNeeds(body, 50)
	if got := n.Of("gpt-4o", 320); got != 3+4+1+300+50 {
		t.Errorf("with max_tokens: %d", got)
	}
	if got := n.Of("claude-sonnet-4-5", 320); got != withMargin(308, ApproxMargin)+50 || len(n.counted) != 1 {
		t.Errorf("second model: %d, %d counts", got, len(n.counted))
	}
}
