package middleware

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/translators"
)

func TestNewChain(t *testing.T) {
	tests := []struct {
		name    string
		plugins []Plugin
		wantErr string
	}{
		{name: "two plugins", plugins: []Plugin{&fakePlugin{id: "a"}, &fakePlugin{id: "b"}}},
		{name: "twice", plugins: []Plugin{&fakePlugin{id: "a"}, &fakePlugin{id: "a"}}, wantErr: `middleware: plugin "a" is in the chain twice`},
		{name: "no id", plugins: []Plugin{&fakePlugin{}}, wantErr: "middleware: plugin 0 has no id"},
		{name: "nil", plugins: []Plugin{nil}, wantErr: "middleware: plugin 0 is nil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewChain(tc.plugins...)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestBegin(t *testing.T) {
	t.Run("no plugins returns the body itself", func(t *testing.T) {
		p := &fakePlugin{id: "web"}
		c, _ := NewChain(p)
		body := []byte(`{"model":"demo","messages":[]}`)
		run, err := c.Begin(context.Background(), Request{Body: body})
		if err != nil {
			t.Fatal(err)
		}
		if &run.Body[0] != &body[0] || run.Active() || len(p.got) != 0 {
			t.Errorf("run = %+v, plugin started %d times", run, len(p.got))
		}
	})
	t.Run("chain order, rewrites seen by the next, usage and warnings", func(t *testing.T) {
		a := &fakePlugin{id: "a", set: "a_was_here", usage: Usage{SearchCalls: 1, Results: 3, Cost: 0.012}, warn: "backend slow"}
		b := &fakePlugin{id: "b", set: "b_was_here"}
		c, _ := NewChain(a, b)
		// The request names b first: the chain's order wins.
		run, err := c.Begin(context.Background(), Request{Body: []byte(`{"model":"m","stream":true,"plugins":[{"id":"b"},{"id":"a","k":1}]}`)})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(a.got[0].Body); got != `{"model":"m","stream":true}` {
			t.Errorf("a saw %s", got)
		}
		if !a.got[0].Stream || string(a.got[0].Options) != `{"id":"a","k":1}` {
			t.Errorf("a input = %+v", a.got[0])
		}
		if !gjson.GetBytes(b.got[0].Body, "a_was_here").Bool() {
			t.Errorf("b did not see a's rewrite: %s", b.got[0].Body)
		}
		if got := string(run.Body); got != `{"model":"m","stream":true,"a_was_here":true,"b_was_here":true}` {
			t.Errorf("run body = %s", got)
		}
		if diff := cmp.Diff([]Usage{{Plugin: "a", SearchCalls: 1, Results: 3, Cost: 0.012}}, run.Usage); diff != "" {
			t.Errorf("usage (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"a: backend slow"}, run.Warnings); diff != "" {
			t.Errorf("warnings (-want +got):\n%s", diff)
		}
	})
	t.Run("online needs a web plugin in the chain", func(t *testing.T) {
		c, _ := NewChain(&fakePlugin{id: "a"})
		_, err := c.Begin(context.Background(), Request{Body: []byte(`{"model":"m:online"}`)})
		wantAPIError(t, err, 400, `plugin "web" (model) is not served by this gateway (known: a)`)
	})
	t.Run("a local answer stops the way in; earlier afters see it", func(t *testing.T) {
		a := &fakePlugin{id: "a", tag: "a"}
		b := &fakePlugin{id: "b", answer: []byte(`{"object":"chat.completion"}`), tag: "b"}
		z := &fakePlugin{id: "z"}
		c, _ := NewChain(a, b, z)
		run, err := c.Begin(context.Background(), Request{Body: []byte(`{"plugins":[{"id":"a"},{"id":"b"},{"id":"z"}]}`)})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(run.Local); got != `{"object":"chat.completion","tags":["a"]}` {
			t.Errorf("local = %s", got)
		}
		if len(z.got) != 0 {
			t.Error("z started after a local answer")
		}
	})
	t.Run("plugin error names the plugin", func(t *testing.T) {
		c, _ := NewChain(&fakePlugin{id: "web", err: errors.New("searxng: dial tcp: refused")})
		_, err := c.Begin(context.Background(), Request{Body: []byte(`{"plugins":[{"id":"web"}]}`)})
		wantAPIError(t, err, 502, `plugin "web" failed: searxng: dial tcp: refused`)
	})
	t.Run("plugin API error passes as it is", func(t *testing.T) {
		c, _ := NewChain(&fakePlugin{id: "web", err: translators.BadRequest("invalid_plugins", "max_results 50: at most 10")})
		_, err := c.Begin(context.Background(), Request{Body: []byte(`{"plugins":[{"id":"web"}]}`)})
		wantAPIError(t, err, 400, "max_results 50: at most 10")
	})
	t.Run("parse error", func(t *testing.T) {
		c, _ := NewChain(&fakePlugin{id: "web"})
		_, err := c.Begin(context.Background(), Request{Body: []byte(`{"plugins":"web"}`)})
		wantAPIError(t, err, 400, "'plugins' must be an array")
	})
}

func TestRunAnswer(t *testing.T) {
	a, b := &fakePlugin{id: "a", tag: "a"}, &fakePlugin{id: "b", tag: "b"}
	c, _ := NewChain(a, b)
	run, err := c.Begin(context.Background(), Request{Body: []byte(`{"plugins":[{"id":"a"},{"id":"b"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	in := []byte(`{"id":"x"}`)
	out, err := run.Answer(in)
	if err != nil {
		t.Fatal(err)
	}
	// The last started transforms first; the first sees the final answer.
	if got := string(out); got != `{"id":"x","tags":["b","a"]}` {
		t.Errorf("answer = %s", got)
	}
	if string(in) != `{"id":"x"}` {
		t.Errorf("input modified: %s", in)
	}
	var none *Run
	if got, _ := none.Answer(in); string(got) != string(in) {
		t.Errorf("nil run changed the answer: %s", got)
	}
}

func wantAPIError(t *testing.T, err error, status int, msg string) {
	t.Helper()
	var ae *translators.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v, want *APIError", err)
	}
	if ae.Status != status || !strings.Contains(ae.Message, msg) {
		t.Fatalf("error = %d %q, want %d containing %q", ae.Status, ae.Message, status, msg)
	}
}

func BenchmarkBeginNoPlugins(b *testing.B) {
	c, _ := NewChain(&fakePlugin{id: "web"})
	body := []byte(`{"model":"demo","stream":true,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"What is the weather in Paris today? Please answer in one sentence."}]}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Begin(ctx, Request{Body: body}); err != nil {
			b.Fatal(err)
		}
	}
}
