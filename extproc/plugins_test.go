package extproc

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/switchboard-gw/switchboard/governance"
	"github.com/switchboard-gw/switchboard/middleware"
	"github.com/switchboard-gw/switchboard/plugins/healing"
	"github.com/switchboard-gw/switchboard/xds"
)

// Gateway keys of the plugin policy tests, declared by hash.
const (
	keyDeniesWeb = "sk-sb-u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8dKLzdocJ" // team-a: web denied
	keyForces    = "sk-sb-2isAjIhKtJ0RlgLKOmxgJTeKdNnFRIBXuDL7DxtpYlS" // team-h: healing and web forced
	keyNarrows   = "sk-sb-XpfKtHF4vUCsMehGAkWvj7FAc9QeWJKY40uvSwMFLZD" // team-n allows web and healing, its key only healing
)

// fakeWeb stands for the web plugin: it records the blocks it started
// with and changes nothing.
type fakeWeb struct {
	mu      sync.Mutex
	options []string
}

func (*fakeWeb) ID() string { return middleware.WebID }

func (w *fakeWeb) Start(_ context.Context, in middleware.Input) (middleware.Step, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.options = append(w.options, string(in.Options))
	return middleware.Step{}, nil
}

func (w *fakeWeb) started() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.options
	w.options = nil
	return out
}

// policyHarness serves testYAML with three governed tenants and the
// chain web (fake) and response-healing.
func policyHarness(t *testing.T) (*harness, *fakeWeb) {
	t.Helper()
	hash := func(k string) string { return governance.FormatHash(governance.HashKey(k)) }
	cfg := mustLoad(t, testYAML+fmt.Sprintf(`plugins:
  web: {base_url: "http://127.0.0.1:1"}
governance:
  store: {path: %s}
  tenants:
    - {name: team-a, plugins: {deny: [web]}}
    - name: team-h
      plugins:
        force: [response-healing, {id: web, max_results: 2}]
    - {name: team-n, plugins: {allow: [web, response-healing]}}
  keys:
    - {id: ka, tenant: team-a, hash: "%s"}
    - {id: kh, tenant: team-h, hash: "%s"}
    - {id: kn, tenant: team-n, hash: "%s", plugins: {allow: [response-healing]}}
`, filepath.Join(t.TempDir(), "g.db"), hash(keyDeniesWeb), hash(keyForces), hash(keyNarrows)))
	h := newHarness(t, cfg)
	gov, stop, err := OpenGov(context.Background(), cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	h.srv.SetGovernance(gov)
	web := &fakeWeb{}
	chain, err := middleware.NewChain(web, healing.Plugin{})
	if err != nil {
		t.Fatal(err)
	}
	h.srv.SetPlugins(chain)
	return h, web
}

// TestPluginPolicy: the caller's tenant and key decide which plugins a
// request may enable (403 plugin_forbidden naming the rule, in the
// client's error shape) and which run unasked.
func TestPluginPolicy(t *testing.T) {
	h, web := policyHarness(t)
	const jsonChat = `{"model":"gpt-4o","response_format":{"type":"json_object"},"messages":[{"role":"user","content":"hi"}]`
	for _, tc := range []struct {
		name, key, path, body string
		status                int
		msg                   string   // error message, or "" for a request that goes on
		web                   []string // blocks the web plugin started with
		handover              bool     // the answer comes back through the chain
	}{
		{name: "denied by the tenant", key: keyDeniesWeb, body: `{"model":"gpt-4o","plugins":[{"id":"web"}],"messages":[{"role":"user","content":"hi"}]}`,
			status: 403, msg: `plugin "web" (plugins[0]) is not allowed for tenant "team-a" (plugins.deny)`},
		{name: ":online is web", key: keyDeniesWeb, body: `{"model":"gpt-4o:online","messages":[{"role":"user","content":"hi"}]}`,
			status: 403, msg: `plugin "web" (model) is not allowed for tenant "team-a" (plugins.deny)`},
		{name: "anthropic shape on /v1/messages", key: keyDeniesWeb, path: "/v1/messages", body: `{"model":"gpt-4o:online","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
			status: 403, msg: `plugin "web" (model) is not allowed for tenant "team-a" (plugins.deny)`},
		{name: "a plain request of the denied tenant", key: keyDeniesWeb, body: string(chatBody("gpt-4o", false))},
		{name: "the key narrows its tenant", key: keyNarrows, body: `{"model":"gpt-4o","plugins":[{"id":"web"}],"messages":[{"role":"user","content":"hi"}]}`,
			status: 403, msg: `plugin "web" (plugins[0]) is not allowed for key "kn" (plugins.allow)`},
		{name: "the key allows what it allows", key: keyNarrows, body: jsonChat + `,"plugins":[{"id":"response-healing"}]}`, handover: true},
		{name: "forced plugins run unasked", key: keyForces, body: jsonChat + `}`, web: []string{`{"id":"web","max_results":2}`}, handover: true},
		{name: "the request's own block wins", key: keyForces, body: jsonChat + `,"plugins":[{"id":"web","max_results":4}]}`,
			web: []string{`{"id":"web","max_results":4}`}, handover: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/v1/chat/completions"
			}
			s := h.open(t, xds.HopRouter)
			continued(t, s.send(requestHeaders(false, ":method", "POST", ":path", path, ":authority", "gw.example.test",
				"content-type", "application/json", "authorization", "Bearer "+tc.key)))
			resp := s.send(requestBody([]byte(tc.body)))
			s.close()
			if err := h.waitEnded(t); err != nil {
				t.Errorf("router hop: Process returned %v", err)
			}
			if tc.msg != "" {
				ir := resp.GetImmediateResponse()
				if got := int(ir.GetStatus().GetCode()); got != tc.status {
					t.Fatalf("status %d, want %d: %s", got, tc.status, ir.GetBody())
				}
				b := ir.GetBody()
				switch {
				case tc.path == "/v1/messages":
					if typ := gjson.GetBytes(b, "error.type").Str; typ != "permission_error" || gjson.GetBytes(b, "type").Str != "error" {
						t.Errorf("anthropic error type %q: %s", typ, b)
					}
				case gjson.GetBytes(b, "error.code").Str != "plugin_forbidden":
					t.Errorf("code %s, want plugin_forbidden", b)
				}
				if m := gjson.GetBytes(b, "error.message").Str; m != tc.msg {
					t.Errorf("message %q, want %q", m, tc.msg)
				}
				if got := web.started(); len(got) > 0 {
					t.Errorf("web started on a refused request: %v", got)
				}
				return
			}
			c := continued(t, resp)
			if got := web.started(); strings.Join(got, " ") != strings.Join(tc.web, " ") {
				t.Errorf("web started with %v, want %v", got, tc.web)
			}
			md := resp.GetDynamicMetadata().GetFields()[xds.RequestNamespace].GetStructValue().GetFields()
			if got := md["handover_all"].GetBoolValue(); got != tc.handover {
				t.Errorf("handover_all %v, want %v", got, tc.handover)
			}
			if body := bodyOut([]byte(tc.body), c); gjson.GetBytes(body, "plugins").Exists() {
				t.Errorf("plugins reached the upstream body: %s", body)
			}
		})
	}
}

// TestPluginPolicyNoKey: with no governance (auth off) there is no
// policy: a request may enable any plugin of the chain.
func TestPluginPolicyNoKey(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	web := &fakeWeb{}
	chain, err := middleware.NewChain(web, healing.Plugin{})
	if err != nil {
		t.Fatal(err)
	}
	h.srv.SetPlugins(chain)
	h.route(t, []byte(`{"model":"gpt-4o:online","messages":[{"role":"user","content":"hi"}]}`))
	if got := web.started(); len(got) != 1 {
		t.Errorf("web started %v, want once", got)
	}
}
