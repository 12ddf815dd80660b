package middleware

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

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
			wantErr: `plugin "web" (model) is not allowed for this key`},
		{name: "not in allow", policy: Policy{Allow: []string{"response-healing"}}, body: `{"plugins":[{"id":"web"}]}`,
			wantErr: `plugin "web" (plugins[0]) is not allowed for this key`},
		{name: "deny wins over allow", policy: Policy{Allow: []string{"web"}, Deny: []string{"web"}}, body: `{"plugins":[{"id":"web"}]}`,
			wantErr: `plugin "web" (plugins[0]) is not allowed for this key`},
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
