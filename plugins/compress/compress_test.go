package compress

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/tokens"
	"github.com/switchboard-gw/switchboard/translators"
)

// words makes a text of exactly n o200k_base tokens: the tag, then
// " hello"s, one token each (TestWords checks it).
func words(tag string, n int) string {
	return tag + strings.Repeat(" hello", n-o200kCount(tag))
}

func o200kCount(s string) int {
	count, err := tokens.Counter(tokens.O200k)
	if err != nil {
		panic(err)
	}
	return count(s)
}

func TestWords(t *testing.T) {
	for _, tag := range []string{"sys", "u1", "a1", "res"} {
		for _, n := range []int{10, 50, 100, 1000} {
			if got := o200kCount(words(tag, n)); got != n {
				t.Errorf("words(%q, %d) has %d tokens", tag, n, got)
			}
		}
	}
}

type msg struct{ role, content string }

func request(extra string, msgs ...msg) []byte {
	var b strings.Builder
	b.WriteString(`{"model":"m"` + extra + `,"messages":[`)
	for i, m := range msgs {
		if i > 0 {
			b.WriteByte(',')
		}
		switch {
		case m.role == "call":
			b.WriteString(`{"role":"assistant","content":null,"tool_calls":[{"id":"` + m.content + `","type":"function","function":{"name":"lookup","arguments":"{}"}}]}`)
		case m.role == "tool":
			b.WriteString(`{"role":"tool","tool_call_id":"` + m.content + `","content":"` + words("res", 50) + `"}`)
		default:
			b.WriteString(`{"role":"` + m.role + `","content":"` + m.content + `"}`)
		}
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// shape lists the kept messages as role:tag, where tag is the first word
// of the content (its first 4 bytes, for a cut one) or the tool call id.
func shape(body []byte) string {
	var out []string
	gjson.GetBytes(body, "messages").ForEach(func(_, m gjson.Result) bool {
		tag := m.Get("tool_calls.0.id").String()
		if tag == "" {
			tag = m.Get("tool_call_id").String()
		}
		if f := strings.Fields(m.Get("content").String()); tag == "" && len(f) > 0 {
			tag = f[0]
		}
		out = append(out, m.Get("role").String()+":"+tag)
		return true
	})
	return strings.Join(out, " ")
}

func TestMiddleOut(t *testing.T) {
	conversation := []msg{
		{"system", words("sys", 100)},
		{"user", words("u1", 100)},
		{"assistant", words("a1", 100)},
		{"user", words("u2", 100)},
		{"assistant", words("a2", 100)},
		{"user", words("u3", 100)},
		{"assistant", words("a3", 100)},
		{"user", words("u4", 100)},
	}
	toolConversation := []msg{
		{"system", words("sys", 50)},
		{"user", words("u1", 50)},
		{"call", "c1"}, {"tool", "c1"},
		{"assistant", words("a1", 50)},
		{"user", words("u2", 50)},
		{"call", "c2"}, {"tool", "c2"},
		{"user", words("u3", 50)},
	}
	tests := []struct {
		name      string
		body      []byte
		lim       Limits
		want      string // shape of the kept messages
		removed   int
		truncated int
		wantErr   string
		unchanged bool
		cutFirst  bool // the first message is cut, the latest kept whole
	}{
		{
			name: "fits: untouched", body: request("", conversation...), lim: Limits{ContextTokens: 10_000},
			want: "system:sys user:u1 assistant:a1 user:u2 assistant:a2 user:u3 assistant:a3 user:u4", unchanged: true,
		},
		{
			name: "no limits known: untouched", body: request("", conversation...),
			want: "system:sys user:u1 assistant:a1 user:u2 assistant:a2 user:u3 assistant:a3 user:u4", unchanged: true,
		},
		{
			// 8 messages of 105 tokens (4 + role 1 + 100) + 3: 843. 600
			// leaves room for 5.
			name: "removes from the middle first", body: request("", conversation...), lim: Limits{ContextTokens: 600},
			want: "system:sys user:u1 assistant:a1 assistant:a3 user:u4", removed: 3,
		},
		{
			name: "completion budget counts", body: request(`,"max_tokens":300`, conversation...), lim: Limits{ContextTokens: 900},
			want: "system:sys user:u1 assistant:a1 assistant:a3 user:u4", removed: 3,
		},
		{
			name: "keeps system, first and last only", body: request("", conversation...), lim: Limits{ContextTokens: 330},
			want: "system:sys user:u1 user:u4", removed: 5,
		},
		{
			name: "then truncates the latest turns", body: request("", conversation...), lim: Limits{ContextTokens: 250},
			want: "system:sys user:u1 user:u4", removed: 5, truncated: 1, cutFirst: true,
		},
		{
			// 3 + five texts of 55 + two call units of 66 (call 4 + role 1 +
			// tool call 4 + name 1 + args 1, result 55): 410. Removing u2
			// and a1 leaves 300; 290 takes the c2 unit too.
			name: "tool calls stay with their results", body: request("", toolConversation...), lim: Limits{ContextTokens: 290},
			want: "system:sys user:u1 assistant:c1 tool:c1 user:u3", removed: 4,
		},
		{
			// OpenRouter's message cap: half from each end, pinned kept.
			name: "message limit", body: request("", conversation...), lim: Limits{MaxMessages: 4},
			want: "system:sys user:u1 assistant:a3 user:u4", removed: 4,
		},
		{
			name: "message limit keeps pairs", body: request("", toolConversation...), lim: Limits{MaxMessages: 5},
			want: "system:sys user:u1 assistant:c1 tool:c1 user:u3", removed: 4,
		},
		{
			name: "system prompt alone too long", body: request("", msg{"system", words("sys", 5000)}, msg{"user", words("u1", 10)}), lim: Limits{ContextTokens: 100},
			wantErr: "context length is 100 tokens",
		},
		{
			name: "completion budget over the context", body: request(`,"max_completion_tokens":5000`, conversation...), lim: Limits{ContextTokens: 4000},
			wantErr: "5000 for the completion) even after middle-out compression",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := string(tc.body)
			res, err := MiddleOut(tc.body, tc.lim, tokens.Options{})
			if string(tc.body) != in {
				t.Fatal("MiddleOut modified its input")
			}
			if tc.wantErr != "" {
				var ae *translators.APIError
				if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != "context_length_exceeded" || !strings.Contains(ae.Message, tc.wantErr) {
					t.Fatalf("err = %v, want 400 context_length_exceeded with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := shape(res.Body); got != tc.want {
				t.Errorf("kept %s\nwant %s", got, tc.want)
			}
			if res.Removed != tc.removed || res.Truncated != tc.truncated {
				t.Errorf("removed %d truncated %d, want %d %d", res.Removed, res.Truncated, tc.removed, tc.truncated)
			}
			if res.Changed == tc.unchanged {
				t.Errorf("changed = %v", res.Changed)
			}
			if tc.unchanged {
				return
			}
			if !gjson.ValidBytes(res.Body) || gjson.GetBytes(res.Body, "model").String() != "m" {
				t.Fatalf("body broken: %s", res.Body)
			}
			prompt, completion := tokens.Estimate(res.Body, tokens.Options{})
			if prompt != res.TokensAfter {
				t.Errorf("TokensAfter %d, counted again %d", res.TokensAfter, prompt)
			}
			if tc.lim.ContextTokens > 0 && prompt+completion > tc.lim.ContextTokens {
				t.Errorf("still over: %d + %d > %d", prompt, completion, tc.lim.ContextTokens)
			}
			if res.Truncated > 0 && !strings.Contains(string(res.Body), "truncated by middle-out") {
				t.Errorf("no truncation marker in %s", res.Body)
			}
			if tc.cutFirst {
				last := gjson.GetBytes(res.Body, "messages.@reverse.0.content").String()
				first := gjson.GetBytes(res.Body, "messages.1.content").String()
				if strings.Contains(last, "truncated") || !strings.Contains(first, "truncated") {
					t.Errorf("cut the wrong message: first %q last %q", first, last)
				}
				if gjson.GetBytes(res.Body, "messages.0.content").String() != words("sys", 100) {
					t.Error("the system prompt was cut")
				}
			}
			pairsKept(t, res.Body)
		})
	}
}

// pairsKept fails when a tool result is kept without its call or a call
// without its results.
func pairsKept(t *testing.T, body []byte) {
	t.Helper()
	calls := map[string]bool{}
	answered := map[string]bool{}
	gjson.GetBytes(body, "messages").ForEach(func(_, m gjson.Result) bool {
		m.Get("tool_calls").ForEach(func(_, c gjson.Result) bool {
			calls[c.Get("id").String()] = true
			return true
		})
		if id := m.Get("tool_call_id").String(); id != "" {
			if !calls[id] {
				t.Errorf("tool result %s kept without its call", id)
			}
			answered[id] = true
		}
		return true
	})
	for id := range calls {
		if !answered[id] {
			t.Errorf("call %s kept without its result", id)
		}
	}
}

func TestCheck(t *testing.T) {
	body := request("", msg{"user", words("u1", 1000)})
	if err := Check(body, Limits{ContextTokens: 2000}, tokens.Options{}); err != nil {
		t.Errorf("fits, got %v", err)
	}
	err := Check(body, Limits{ContextTokens: 500}, tokens.Options{})
	var ae *translators.APIError
	if !errors.As(err, &ae) || ae.Code != "context_length_exceeded" || !strings.Contains(ae.Message, `add "transforms": ["middle-out"]`) {
		t.Errorf("err = %v", err)
	}
	err = Check(request("", msg{"user", "a"}, msg{"user", "b"}), Limits{MaxMessages: 1}, tokens.Options{})
	if err == nil || !strings.Contains(err.Error(), "at most 1 messages, the request has 2") {
		t.Errorf("err = %v", err)
	}
}

func TestWants(t *testing.T) {
	for body, want := range map[string]bool{
		`{"transforms":["middle-out"]}`: true,
		`{"transforms":[]}`:             false,
		`{"transforms":["other"]}`:      false,
		`{}`:                            false,
	} {
		if Wants([]byte(body)) != want {
			t.Errorf("Wants(%s) != %v", body, want)
		}
	}
}

func TestCutMiddleKeepsRunes(t *testing.T) {
	s := strings.Repeat("日本語", 50)
	got := cutMiddle(s, 40)
	if !strings.Contains(got, TruncationMarker) || !strings.HasPrefix(got, "日") || !strings.HasSuffix(got, "語") {
		t.Errorf("cutMiddle = %q", got)
	}
	for _, part := range strings.Split(got, TruncationMarker) {
		if !strings.HasPrefix(s, part) && !strings.HasSuffix(s, part) {
			t.Errorf("part %q is not a head or tail", part)
		}
	}
}

func TestManyMessagesIsLinear(t *testing.T) {
	msgs := []msg{{"system", "s"}}
	for i := range 20_000 {
		msgs = append(msgs, msg{"user", fmt.Sprintf("m%04d", i%10000)})
	}
	res, err := MiddleOut(request("", msgs...), Limits{MaxMessages: 100}, tokens.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := gjson.GetBytes(res.Body, "messages.#").Int(); n != 100 {
		t.Errorf("kept %d messages", n)
	}
}
