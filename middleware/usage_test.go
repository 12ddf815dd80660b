package middleware

import (
	"testing"

	"github.com/tidwall/gjson"
)

// echo passes chunks on as they come.
type echo struct{}

func (echo) Chunk(c []byte, emit func([]byte)) { emit(c) }
func (echo) Finish(func([]byte))               {}

// WithUsage: the plugins' searches and cost reach a stream's usage chunk
// and nothing else; with nothing spent the transformer is unchanged.
func TestWithUsage(t *testing.T) {
	us := []Usage{{Plugin: "web", SearchCalls: 1, Cost: 0.25}}
	st := WithUsage(echo{}, us)
	var got [][]byte
	emit := func(c []byte) { got = append(got, c) }
	st.Chunk([]byte(`{"choices":[{"index":0,"delta":{"content":"usage"}}]}`), emit)
	st.Chunk([]byte(`{"choices":[],"usage":{"prompt_tokens":3,"cost":0.5}}`), emit)
	if len(got) != 2 || string(got[0]) != `{"choices":[{"index":0,"delta":{"content":"usage"}}]}` {
		t.Fatalf("chunks %q", got)
	}
	u := gjson.GetBytes(got[1], "usage")
	if u.Get("server_tool_use.web_search_requests").Int() != 1 || u.Get("cost").Float() != 0.75 || u.Get("prompt_tokens").Int() != 3 {
		t.Errorf("usage chunk %s", got[1])
	}
	if _, same := WithUsage(echo{}, nil).(echo); !same {
		t.Error("nothing spent, yet the transformer was wrapped")
	}
}
