package healing

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// sse builds an OpenAI chat stream from chunk JSON strings, with [DONE].
func sse(chunks ...string) string {
	var b strings.Builder
	for _, c := range chunks {
		b.WriteString("data: " + c + "\n\n")
	}
	b.WriteString("data: [DONE]\n\n")
	return b.String()
}

func deltaChunk(index int, content string) string {
	c, _ := json.Marshal(content)
	return `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":` + string(rune('0'+index)) + `,"delta":{"content":` + string(c) + `},"finish_reason":null}]}`
}

const (
	roleChunk   = `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`
	finishChunk = `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`
	usageChunk  = `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":9,"total_tokens":12}}`
)

// events splits client SSE bytes into their data payloads.
func events(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	for _, ev := range strings.Split(strings.TrimSuffix(string(b), "\n\n"), "\n\n") {
		d, ok := strings.CutPrefix(ev, "data: ")
		if !ok {
			t.Fatalf("not a data event: %q", ev)
		}
		out = append(out, d)
	}
	return out
}

// content joins the content deltas a client would show.
func content(evs []string) string {
	var b strings.Builder
	for _, e := range evs {
		gjson.Get(e, "choices").ForEach(func(_, ch gjson.Result) bool {
			b.WriteString(ch.Get("delta.content").String())
			return true
		})
	}
	return b.String()
}

// feed runs a stream through in the given splits.
func feed(s *Stream, in []byte, splits []int) []byte {
	var out []byte
	prev := 0
	for _, at := range splits {
		out = s.Translate(out, in[prev:at])
		prev = at
	}
	out = s.Translate(out, in[prev:])
	return s.Finish(out)
}

func splitsOf(n int, mode string, r *rand.Rand) []int {
	switch mode {
	case "byte by byte":
		s := make([]int, 0, n)
		for i := 1; i < n; i++ {
			s = append(s, i)
		}
		return s
	case "random":
		var s []int
		for i := r.IntN(20) + 1; i < n; i += r.IntN(20) + 1 {
			s = append(s, i)
		}
		return s
	}
	return nil
}

func TestStream(t *testing.T) {
	person := mustFormat(t, personSchema)
	fenced := sse(roleChunk,
		deltaChunk(0, "```json\n{\"name\": "), deltaChunk(0, "\"Ada\", "), deltaChunk(0, "\"age\": 36,}\n"), deltaChunk(0, "```"),
		finishChunk, usageChunk)
	tests := []struct {
		name       string
		in         string
		want       string // canonical content the client sees
		wantEvents []string
		status     Status
	}{
		{
			name:   "fenced answer healed",
			in:     fenced,
			want:   `{"age":36,"name":"Ada"}`,
			status: StatusHealed,
			// role (content dropped), one healed delta, finish, usage, done
			wantEvents: []string{"role", "content", "finish", "usage", "[DONE]"},
		},
		{
			name:       "cut stream healed at the end",
			in:         "data: " + roleChunk + "\n\n" + "data: " + deltaChunk(0, `{"name": "Ada", "age": 3`) + "\n\n",
			want:       `{"age":3,"name":"Ada"}`,
			status:     StatusHealed,
			wantEvents: []string{"role", "content"},
		},
		{
			name:       "unhealable passes as sent",
			in:         sse(roleChunk, deltaChunk(0, "I can't "), deltaChunk(0, "do that."), finishChunk),
			want:       "I can't do that.",
			status:     StatusFailed,
			wantEvents: []string{"role", "content", "finish", "[DONE]"},
		},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range tests {
		for _, mode := range []string{"whole", "byte by byte", "random"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				s := NewStream(person, Limits{})
				out := feed(s, []byte(tc.in), splitsOf(len(tc.in), mode, r))
				evs := events(t, out)
				got := content(evs)
				if tc.status == StatusHealed {
					got = canon(t, got)
				}
				if got != tc.want {
					t.Errorf("content = %q, want %q", got, tc.want)
				}
				var kinds []string
				for _, e := range evs {
					switch {
					case e == "[DONE]":
						kinds = append(kinds, e)
					case gjson.Get(e, "usage.total_tokens").Exists():
						kinds = append(kinds, "usage")
					case gjson.Get(e, "choices.0.finish_reason").String() != "":
						kinds = append(kinds, "finish")
					case gjson.Get(e, "choices.0.delta.role").Exists():
						kinds = append(kinds, "role")
						if gjson.Get(e, "choices.0.delta.content").Exists() {
							t.Errorf("role chunk still carries content: %s", e)
						}
					default:
						kinds = append(kinds, "content")
						if gjson.Get(e, "id").String() != "c1" || gjson.Get(e, "model").String() != "m" {
							t.Errorf("healed chunk lost id/model: %s", e)
						}
					}
				}
				if strings.Join(kinds, ",") != strings.Join(tc.wantEvents, ",") {
					t.Errorf("events = %v, want %v", kinds, tc.wantEvents)
				}
				if rep := s.Report(); rep.Choices[0].Status != tc.status {
					t.Errorf("report = %+v", rep)
				}
			})
		}
	}
}

func TestStreamPassesToolCallsAndReasoning(t *testing.T) {
	tool := `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t1","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":null}]}`
	reasoning := `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"reasoning":"thinking"},"finish_reason":null}]}`
	in := sse(roleChunk, reasoning, tool, `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`)
	s := NewStream(mustFormat(t, `{"type":"json_object"}`), Limits{})
	out := feed(s, []byte(in), nil)
	if !bytes.Contains(out, []byte(`"reasoning":"thinking"`)) || !bytes.Contains(out, []byte(`"name":"f"`)) {
		t.Errorf("reasoning or tool call lost:\n%s", out)
	}
	if got := s.Report().Summary(); got != "skipped: no text answer" {
		t.Errorf("summary = %q", got)
	}
}

func TestStreamReleasesOverLimit(t *testing.T) {
	in := sse(roleChunk, deltaChunk(0, `{"a": "`+strings.Repeat("x", 60)), deltaChunk(0, strings.Repeat("y", 60)), deltaChunk(0, `"}`), finishChunk)
	s := NewStream(mustFormat(t, `{"type":"json_object"}`), Limits{MaxBytes: 100})
	evs := events(t, feed(s, []byte(in), nil))
	if got, want := content(evs), `{"a": "`+strings.Repeat("x", 60)+strings.Repeat("y", 60)+`"}`; got != want {
		t.Errorf("content = %q, want %q", got, want)
	}
	if got := s.Report().Summary(); got != "skipped: answer is over the healing limit" {
		t.Errorf("summary = %q", got)
	}
}

func TestStreamErrorChunkFlushesFirst(t *testing.T) {
	errChunk := `{"error":{"message":"upstream stopped","type":"upstream_error"}}`
	in := sse(roleChunk, deltaChunk(0, "```json\n{\"ok\": true"), errChunk)
	s := NewStream(mustFormat(t, `{"type":"json_object"}`), Limits{})
	evs := events(t, feed(s, []byte(in), nil))
	if len(evs) != 4 || canon(t, content(evs[:2])) != `{"ok":true}` || evs[2] != errChunk {
		t.Errorf("events = %q", evs)
	}
}

func FuzzStream(f *testing.F) {
	f.Add([]byte(sse(roleChunk, deltaChunk(0, "```json\n{\"a\": 1,"), finishChunk, usageChunk)), 7)
	f.Add([]byte("data: {\"choices\":[{\"index\":3,\"delta\":{\"content\":\"[1,\"}}]}\n\ndata: [DONE]\n\n"), 1)
	f.Add([]byte(": keep-alive\r\n\r\ndata: {oops\n\n"), 2)
	format := Format{Kind: KindJSONObject}
	f.Fuzz(func(t *testing.T, in []byte, step int) {
		step = max(1, step%64)
		s := NewStream(format, Limits{MaxBytes: 4096})
		var out []byte
		for i := 0; i < len(in); i += step {
			out = s.Translate(out, in[i:min(len(in), i+step)])
		}
		out = s.Finish(out)
		_ = s.Report()
		if len(in) > 0 && len(out) == 0 && bytes.Contains(in, []byte("data:")) && bytes.Contains(in, []byte("\n\n")) {
			// Events that end are never swallowed whole unless they are
			// held content, which is flushed by Finish.
			if !bytes.Contains(in, []byte(`"content"`)) {
				t.Errorf("output empty for %q", in)
			}
		}
	})
}
