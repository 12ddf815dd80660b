package tokens

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/tiktoken-go/tokenizer/codec"
)

// words makes a text of exactly n o200k_base tokens: the tag, then
// " hello"s, one token each.
func words(tag string, n int) string {
	return tag + strings.Repeat(" hello", n-o200kCount(tag))
}

func o200kCount(s string) int {
	count, err := Counter(O200k)
	if err != nil {
		panic(err)
	}
	return count(s)
}

type msg struct{ role, content string }

// request is a chat body of msgs ("call": an assistant tool call of that
// id, "tool": its 50-token result).
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
			if n := count(s); n > ByteBound(s) {
				t.Fatalf("%s: %q has %d tokens, byteBound %d", e, s, n, ByteBound(s))
			}
			if n := EstimateText(s); n > ByteBound(s) {
				t.Fatalf("EstimateText(%q) = %d, byteBound %d", s, n, ByteBound(s))
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
			n, bound := PromptTokens([]byte(b), Tally{count: count}), PromptTokens([]byte(b), BytesTally)
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
		{name: "far, margin", body: prose, model: "claude-sonnet-4-5", limit: 100_000, want: WithMargin(3*len(prose), ApproxMargin)},
		// The texts' byte bound: fits.
		{name: "walked", body: prose, model: "gpt-4o", limit: 2000, want: PromptTokens(prose, BytesTally)},
		{name: "counted", body: prose, model: "gpt-4o", limit: 400, want: 329},
		{name: "counted, margin", body: prose, model: "claude-sonnet-4-5", limit: 400, want: 428},
		{name: "counted, cl100k", body: prose, model: "gpt-4", limit: 400, want: 329},
		// 765 for the image is more than three a byte: walked, not guessed.
		{name: "image", body: withImage, model: "gpt-4o", limit: 1000, want: PromptTokens(withImage, BytesTally)},
		{name: "image counted", body: withImage, model: "gpt-4o", limit: 700, want: 3 + 4 + 1 + 765},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := NewNeeds(tc.body, CompletionBudget(tc.body)).Of(tc.model, tc.limit); got != tc.want {
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
	if got := n.Of("claude-sonnet-4-5", 320); got != WithMargin(308, ApproxMargin)+50 || len(n.counted) != 1 {
		t.Errorf("second model: %d, %d counts", got, len(n.counted))
	}
}

func TestEstimate(t *testing.T) {
	body := []byte(`{"max_tokens":10,"tools":[{"type":"function","function":{"name":"f"}}],"messages":[
		{"role":"user","content":[{"type":"text","text":"abcdefgh"},{"type":"image_url","image_url":{"url":"https://x/y.png"}}]},
		{"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{\"q\":1}"}}]}]}`)
	prompt, completion := Estimate(body, Options{})
	// o200k_base: the tools JSON is 13 tokens, "abcdefgh" 1, "user" 1,
	// "assistant" 1, "f" 1, {"q":1} 5.
	// request + tools + user(4 + role + text + image) + assistant(4 + role + call 4 + name + args)
	want := 3 + 13 + (4 + 1 + 1 + 765) + (4 + 1 + 4 + 1 + 5)
	if prompt != want || completion != 10 {
		t.Errorf("Estimate = %d, %d; want %d, 10", prompt, completion, want)
	}
	words := func(s string) int { return len(strings.Fields(s)) }
	if p, _ := Estimate([]byte(`{"messages":[{"role":"user","content":"one two three"}]}`), Options{Count: words}); p != 3+4+1+3 {
		t.Errorf("custom counter: %d", p)
	}
	// The estimate of old, and the fallback: bytes / 4.
	if p, _ := Estimate(body, Options{Count: EstimateText}); p != 3+12+(4+1+2+765)+(4+3+4+1+2) {
		t.Errorf("EstimateText: %d", p)
	}
}
