package middleware

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var tenantA = Policy{Owner: `tenant "team-a"`, Deny: []string{"web"}}

func TestPolicy(t *testing.T) {
	web, heal := &fakePlugin{id: "web"}, &fakePlugin{id: "response-healing"}
	c, _ := NewChain(web, heal)
	tests := []struct {
		name    string
		policy  Policy
		body    string
		started []string // plugin ids started, with their options
		options []string
		wantErr string
	}{
		{name: "denied", policy: Policy{Deny: []string{"web"}}, body: `{"model":"m:online"}`,
			wantErr: `plugin "web" (model) is not allowed for this key (plugins.deny)`},
		{name: "not in allow", policy: Policy{Allow: []string{"response-healing"}}, body: `{"plugins":[{"id":"web"}]}`,
			wantErr: `plugin "web" (plugins[0]) is not allowed for this key (plugins.allow)`},
		{name: "deny wins over allow", policy: Policy{Allow: []string{"web"}, Deny: []string{"web"}}, body: `{"plugins":[{"id":"web"}]}`,
			wantErr: `plugin "web" (plugins[0]) is not allowed for this key (plugins.deny)`},
		{name: "the refusing tenant is named", policy: tenantA.Narrow(Policy{Owner: `key "k1"`, Allow: []string{"web"}}), body: `{"model":"m:online"}`,
			wantErr: `plugin "web" (model) is not allowed for tenant "team-a" (plugins.deny)`},
		{name: "the refusing key is named", policy: Policy{Owner: `tenant "team-b"`, Deny: []string{"response-healing"}}.Narrow(Policy{Owner: `key "k2"`, Allow: []string{"response-healing"}}),
			body: `{"plugins":[{"id":"web"}]}`, wantErr: `plugin "web" (plugins[0]) is not allowed for key "k2" (plugins.allow)`},
		{name: "a tenant's forced plugin runs though the key denies it", policy: Policy{Owner: `tenant "t"`, Force: []Forced{{ID: "response-healing"}}}.Narrow(Policy{Owner: `key "k"`, Deny: []string{"response-healing"}}),
			body: `{"model":"m"}`, started: []string{"response-healing"}, options: []string{`{"id":"response-healing"}`}},
		{name: "allowed", policy: Policy{Allow: []string{"web"}}, body: `{"plugins":[{"id":"web","max_results":2}]}`,
			started: []string{"web"}, options: []string{`{"id":"web","max_results":2}`}},
		{name: "forced with its block", policy: Policy{Force: []Forced{{ID: "web", Options: []byte(`{"id":"web","max_results":1}`)}}}, body: `{"model":"m"}`,
			started: []string{"web"}, options: []string{`{"id":"web","max_results":1}`}},
		{name: "forced without a block", policy: Policy{Force: []Forced{{ID: "response-healing"}}}, body: `{"model":"m"}`,
			started: []string{"response-healing"}, options: []string{`{"id":"response-healing"}`}},
		{name: "forced and requested keeps the request's block", policy: Policy{Allow: []string{"response-healing"}, Force: []Forced{{ID: "web", Options: []byte(`{"id":"web","max_results":1}`)}}},
			body: `{"plugins":[{"id":"web","max_results":4}]}`, started: []string{"web"}, options: []string{`{"id":"web","max_results":4}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			web.got, heal.got = nil, nil
			_, err := c.Begin(context.Background(), Request{Body: []byte(tc.body), Policy: tc.policy})
			if tc.wantErr != "" {
				wantAPIError(t, err, 403, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var started, options []string
			for _, p := range []*fakePlugin{web, heal} {
				for _, in := range p.got {
					started, options = append(started, p.id), append(options, string(in.Options))
				}
			}
			if diff := cmp.Diff(tc.started, started); diff != "" {
				t.Errorf("started (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.options, options); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPolicyNarrow(t *testing.T) {
	tests := []struct {
		name        string
		tenant, key Policy
		allowed     map[string]bool
		forced      []string
	}{
		{name: "zero and zero allow all", allowed: map[string]bool{"web": true, "x": true}},
		{name: "key narrows", tenant: Policy{Allow: []string{"web", "x"}}, key: Policy{Allow: []string{"web"}}, allowed: map[string]bool{"web": true, "x": false}},
		{name: "key cannot widen", tenant: Policy{Allow: []string{"x"}}, key: Policy{Allow: []string{"web"}}, allowed: map[string]bool{"web": false, "x": false}},
		{name: "tenant deny holds", tenant: Policy{Deny: []string{"web"}}, key: Policy{Allow: []string{"web"}}, allowed: map[string]bool{"web": false}},
		{name: "forces add up, key block wins",
			tenant: Policy{Force: []Forced{{ID: "web", Options: []byte(`{"id":"web","max_results":1}`)}, {ID: "x"}}},
			key:    Policy{Force: []Forced{{ID: "web", Options: []byte(`{"id":"web","max_results":3}`)}}},
			forced: []string{`web {"id":"web","max_results":3}`, "x "}, allowed: map[string]bool{"web": true}},
		{name: "key cannot force what its tenant denies", tenant: Policy{Deny: []string{"web"}}, key: Policy{Force: []Forced{{ID: "web"}}},
			allowed: map[string]bool{"web": false}},
		{name: "key cannot force outside its tenant's allow", tenant: Policy{Allow: []string{"x"}}, key: Policy{Force: []Forced{{ID: "web"}, {ID: "x"}}},
			forced: []string{"x "}, allowed: map[string]bool{"web": false}},
		{name: "key cannot unforce its tenant's", tenant: Policy{Force: []Forced{{ID: "x"}}}, key: Policy{Deny: []string{"x"}},
			forced: []string{"x "}},
		{name: "empty key keeps the tenant's owner", tenant: Policy{Owner: "t", Deny: []string{"web"}}, allowed: map[string]bool{"web": false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.tenant.Narrow(tc.key)
			for id, want := range tc.allowed {
				if got := p.allowed(id); got != want {
					t.Errorf("allowed(%q) = %v, want %v", id, got, want)
				}
			}
			var forced []string
			for _, f := range p.Force {
				forced = append(forced, f.ID+" "+string(f.Options))
			}
			if diff := cmp.Diff(tc.forced, forced); diff != "" {
				t.Errorf("forced (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	known := []string{"web", "response-healing"}
	tests := []struct {
		name    string
		p       Policy
		wantErr string
	}{
		{name: "fine", p: Policy{Allow: []string{"web"}, Force: []Forced{{ID: "response-healing"}}}},
		{name: "unknown allow", p: Policy{Allow: []string{"wbe"}}, wantErr: `middleware: policy: allow "wbe": unknown plugin (known: response-healing, web)`},
		{name: "unknown deny", p: Policy{Deny: []string{"pdf"}}, wantErr: `middleware: policy: deny "pdf": unknown plugin`},
		{name: "forced and denied", p: Policy{Deny: []string{"web"}, Force: []Forced{{ID: "web"}}}, wantErr: `middleware: policy: force "web": the plugin is also denied`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate(known)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestPolicyValidateKey(t *testing.T) {
	tenant := Policy{Allow: []string{"web"}, Force: []Forced{{ID: "response-healing"}}}
	tests := []struct {
		name    string
		key     Policy
		wantErr string
	}{
		{name: "forced and denied by the key itself", key: Policy{Deny: []string{"web"}, Force: []Forced{{ID: "web"}}}, wantErr: `force "web": the plugin is also denied`},
		{name: "forces an allowed plugin", key: Policy{Force: []Forced{{ID: "web"}, {ID: "response-healing", Options: []byte(`{"id":"response-healing"}`)}}}},
		{name: "forces outside the allow list", key: Policy{Force: []Forced{{ID: "file-parser"}}}, wantErr: `force "file-parser": the tenant does not allow the plugin (a key cannot widen its tenant)`},
		{name: "denies a forced plugin", key: Policy{Deny: []string{"response-healing"}}, wantErr: `deny "response-healing": the tenant forces the plugin (a key cannot turn it off)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.key.Validate([]string{"web", "response-healing", "file-parser"})
			if err == nil {
				err = tenant.ValidateKey(tc.key)
			}
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestPolicyForcesAbsentPlugin: a policy forcing a plugin the chain does
// not run (config changed without a restart) is the gateway's fault: 503.
func TestPolicyForcesAbsentPlugin(t *testing.T) {
	c, _ := NewChain(&fakePlugin{id: "response-healing"})
	_, err := c.Begin(context.Background(), Request{Body: []byte(`{"model":"m"}`), Policy: Policy{Force: []Forced{{ID: "web"}}}})
	wantAPIError(t, err, 503, `plugin "web" is forced by the caller's plugin policy but this gateway does not run it (plugins.* changes take a restart)`)
}
