package middleware

import (
	"context"
	"testing"
)

func TestWrapStream(t *testing.T) {
	a, b := &fakePlugin{id: "a", tag: "a"}, &fakePlugin{id: "b", tag: "b"}
	c, _ := NewChain(a, b)
	tests := []struct {
		name   string
		ids    string
		in     string
		finish string
		want   string
	}{
		{name: "one transformer, finish before done", ids: `[{"id":"a"}]`,
			in:   "data: {\"n\":1}\n\ndata: {\"n\":2}\n\ndata: [DONE]\n\n",
			want: "data: {\"n\":1,\"tags\":[\"a\"]}\n\ndata: {\"n\":2,\"tags\":[\"a\"]}\n\ndata: {\"finish\":\"a\",\"seen\":2}\n\ndata: [DONE]\n\n"},
		{name: "two transformers, the last started first", ids: `[{"id":"a"},{"id":"b"}]`,
			in: "data: {\"n\":1}\n\ndata: [DONE]\n\n",
			// b's leftover still goes through a.
			want: "data: {\"n\":1,\"tags\":[\"b\",\"a\"]}\n\ndata: {\"finish\":\"b\",\"seen\":1,\"tags\":[\"a\"]}\n\ndata: {\"finish\":\"a\",\"seen\":2}\n\ndata: [DONE]\n\n"},
		{name: "done written by the upstream's finish", ids: `[{"id":"a"}]`,
			in: "data: {\"n\":1}\n\n", finish: "data: [DONE]\n\n",
			want: "data: {\"n\":1,\"tags\":[\"a\"]}\n\ndata: {\"finish\":\"a\",\"seen\":1}\n\ndata: [DONE]\n\n"},
		{name: "no done at all", ids: `[{"id":"a"}]`,
			in:   "data: {\"n\":1}\n\n",
			want: "data: {\"n\":1,\"tags\":[\"a\"]}\n\ndata: {\"finish\":\"a\",\"seen\":1}\n\n"},
		{name: "named events and comments pass", ids: `[{"id":"a"}]`,
			in:   ": keepalive\n\nevent: ping\ndata: {}\n\ndata: [DONE]\n\n",
			want: "event: ping\ndata: {}\n\ndata: {\"finish\":\"a\",\"seen\":0}\n\ndata: [DONE]\n\n"},
	}
	for _, tc := range tests {
		for _, split := range []string{"whole", "byte by byte"} {
			t.Run(tc.name+"/"+split, func(t *testing.T) {
				run, err := c.Begin(context.Background(), Request{Body: []byte(`{"plugins":` + tc.ids + `}`)})
				if err != nil {
					t.Fatal(err)
				}
				s := WrapStream(&echoStream{finish: tc.finish}, run.Transformer())
				var out []byte
				if split == "whole" {
					out = s.Translate(out, []byte(tc.in))
				} else {
					for i := range len(tc.in) {
						out = s.Translate(out, []byte{tc.in[i]})
					}
				}
				out = s.Finish(out)
				if string(out) != tc.want {
					t.Errorf("stream =\n%q\nwant\n%q", out, tc.want)
				}
				if s.Usage().PromptTokens != 7 {
					t.Errorf("usage not passed through: %+v", s.Usage())
				}
			})
		}
	}
	t.Run("no transformer returns the upstream itself", func(t *testing.T) {
		up := &echoStream{}
		if WrapStream(up, nil) != up {
			t.Error("wrapped without a transformer")
		}
	})
}

func TestApplyUsage(t *testing.T) {
	tests := []struct {
		name string
		in   string
		us   []Usage
		want string
	}{
		{name: "adds searches and cost", in: `{"usage":{"prompt_tokens":3,"cost":0.001}}`,
			us:   []Usage{{Plugin: "web", SearchCalls: 1, Results: 5, Cost: 0.02}},
			want: `{"usage":{"prompt_tokens":3,"cost":0.021,"server_tool_use":{"web_search_requests":1}}}`},
		{name: "adds to a provider's count", in: `{"usage":{"server_tool_use":{"web_search_requests":2}}}`,
			us:   []Usage{{SearchCalls: 1}, {SearchCalls: 2}},
			want: `{"usage":{"server_tool_use":{"web_search_requests":5}}}`},
		{name: "no usage object", in: `{"id":"x"}`, us: []Usage{{SearchCalls: 1}}, want: `{"id":"x"}`},
		{name: "nothing spent", in: `{"usage":{}}`, want: `{"usage":{}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(ApplyUsage([]byte(tc.in), tc.us)); got != tc.want {
				t.Errorf("ApplyUsage = %s, want %s", got, tc.want)
			}
		})
	}
}
