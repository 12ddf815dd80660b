package routing

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/config"
)

func TestBuild(t *testing.T) {
	cat := loadCatalog(t, catalogYAML)
	tests := []struct {
		name        string
		policy      config.Policy
		max         int // max attempts; 0 is 10
		prefs       Prefs
		want        string // show(plan.Groups)
		wantDefault bool
		wantSkipped []string // Skip.String() of each left-out candidate
	}{
		{
			// A weighted level becomes one attempt per provider in a weighted
			// draw, so a failure falls over within the level: not Envoy's
			// configured groups, hence no default.
			name:  "weighted level drawn into single attempts",
			prefs: Prefs{Model: "chat", AllowFallbacks: true},
			want:  "[alpha@chat beta@chat] [gamma@chat]",
		},
		{
			name:        "another model's default",
			prefs:       Prefs{Model: "mini", AllowFallbacks: true},
			want:        "[delta@mini] [alpha@mini]",
			wantDefault: true,
		},
		{
			name:  "fallback models follow the primary",
			prefs: Prefs{Model: "chat", Fallbacks: []string{"mini"}, AllowFallbacks: true},
			want:  "[alpha@chat beta@chat] [gamma@chat] [delta@mini] [alpha@mini]",
		},
		{
			name:  "max attempts caps the plan",
			max:   4,
			prefs: Prefs{Model: "chat", Fallbacks: []string{"mini"}, AllowFallbacks: true},
			want:  "[alpha@chat beta@chat] [gamma@chat] [delta@mini]",
		},
		{
			name:  "max attempts below the default groups is no default",
			max:   2,
			prefs: Prefs{Model: "chat", AllowFallbacks: true},
			want:  "[alpha@chat beta@chat]",
		},
		{
			name:  "allow_fallbacks false keeps the first attempt only",
			prefs: Prefs{Model: "mini", Fallbacks: []string{"chat"}, AllowFallbacks: false},
			want:  "[delta@mini]",
		},
		{
			name:  "provider.order, unlisted providers after by priority",
			prefs: Prefs{Model: "chat", Order: []string{"gamma", "beta"}, AllowFallbacks: true},
			want:  "[gamma@chat] [beta@chat] [alpha@chat]",
		},
		{
			name:  "provider.order listing the default order is still ranked",
			prefs: Prefs{Model: "chat", Order: []string{"alpha", "beta", "gamma"}, AllowFallbacks: true},
			want:  "[alpha@chat] [beta@chat] [gamma@chat]",
		},
		{
			name:  "provider.order applies to fallback models too",
			prefs: Prefs{Model: "chat", Fallbacks: []string{"mini"}, Order: []string{"alpha"}, AllowFallbacks: true},
			want:  "[alpha@chat] [beta@chat] [gamma@chat] [alpha@mini] [delta@mini]",
		},
		{
			name:  "sort by price",
			prefs: Prefs{Model: "chat", Sort: SortPrice, PartitionByModel: true, AllowFallbacks: true},
			want:  "[beta@chat] [alpha@chat] [gamma@chat]",
		},
		{
			name:  "sort by price within each model",
			prefs: Prefs{Model: "chat", Fallbacks: []string{"mini"}, Sort: SortPrice, PartitionByModel: true, AllowFallbacks: true},
			want:  "[beta@chat] [alpha@chat] [gamma@chat] [alpha@mini] [delta@mini]",
		},
		{
			name:  "sort by price across models",
			prefs: Prefs{Model: "chat", Fallbacks: []string{"mini"}, Sort: SortPrice, PartitionByModel: false, AllowFallbacks: true},
			want:  "[alpha@mini] [delta@mini] [beta@chat] [alpha@chat] [gamma@chat]",
		},
		{
			name:        "provider.only",
			prefs:       Prefs{Model: "chat", Only: []string{"beta"}, AllowFallbacks: true},
			want:        "[beta@chat]",
			wantSkipped: []string{"chat on alpha: not in provider.only", "chat on gamma: not in provider.only"},
		},
		{
			name:        "provider.ignore",
			prefs:       Prefs{Model: "chat", Ignore: []string{"alpha"}, AllowFallbacks: true},
			want:        "[beta@chat] [gamma@chat]",
			wantSkipped: []string{"chat on alpha: in provider.ignore"},
		},
		{
			name:        "provider.zdr",
			prefs:       Prefs{Model: "chat", ZDR: true, AllowFallbacks: true},
			want:        "[alpha@chat] [gamma@chat]",
			wantSkipped: []string{"chat on beta: no zero data retention (provider.zdr)"},
		},
		{
			name:        "provider.data_collection deny",
			prefs:       Prefs{Model: "chat", DenyDataCollection: true, AllowFallbacks: true},
			want:        "[alpha@chat] [gamma@chat]",
			wantSkipped: []string{"chat on beta: may train on prompts (provider.data_collection: deny)"},
		},
		{
			name:        "provider.max_price",
			prefs:       Prefs{Model: "chat", MaxPrice: config.Price{Prompt: 1.5}, AllowFallbacks: true},
			want:        "[alpha@chat beta@chat]",
			wantSkipped: []string{"chat on gamma: above provider.max_price"},
		},
		{
			name:        "provider.max_price on completion",
			prefs:       Prefs{Model: "chat", MaxPrice: config.Price{Completion: 1.5}, AllowFallbacks: true},
			want:        "[beta@chat]",
			wantSkipped: []string{"chat on alpha: above provider.max_price", "chat on gamma: above provider.max_price"},
		},
		{
			name:        "missing capability",
			prefs:       Prefs{Model: "chat", Needs: []string{config.CapTools, config.CapVision}, AllowFallbacks: true},
			want:        "[alpha@chat] [gamma@chat]",
			wantSkipped: []string{"chat on beta: lacks capability vision"},
		},
		{
			name:        "context too small",
			prefs:       Prefs{Model: "chat", Tokens: 5000, AllowFallbacks: true},
			want:        "[alpha@chat beta@chat]",
			wantSkipped: []string{"chat on gamma: context length 1000 is below the ~5000 tokens this request needs"},
		},
		{
			name:        "policy provider allow-list",
			policy:      config.Policy{Providers: []string{"alpha", "gamma", "delta"}},
			prefs:       Prefs{Model: "chat", AllowFallbacks: true},
			want:        "[alpha@chat] [gamma@chat]",
			wantSkipped: []string{"chat on beta: not in the policy's provider allow-list (routing.policy.providers)"},
		},
		{
			name:        "request narrows the policy",
			policy:      config.Policy{Providers: []string{"alpha", "gamma"}},
			prefs:       Prefs{Model: "chat", Only: []string{"gamma"}, AllowFallbacks: true},
			want:        "[gamma@chat]",
			wantSkipped: []string{"chat on alpha: not in provider.only", "chat on beta: not in the policy's provider allow-list (routing.policy.providers)"},
		},
		{
			name:        "policy regions",
			policy:      config.Policy{Regions: []string{"eu"}},
			prefs:       Prefs{Model: "chat", AllowFallbacks: true},
			want:        "[beta@chat]",
			wantSkipped: []string{`chat on alpha: region "us" not in the policy's allow-list (routing.policy.regions)`, `chat on gamma: region "us" not in the policy's allow-list (routing.policy.regions)`},
		},
		{
			name:        "policy zdr",
			policy:      config.Policy{ZDR: true},
			prefs:       Prefs{Model: "chat", AllowFallbacks: true},
			want:        "[alpha@chat] [gamma@chat]",
			wantSkipped: []string{"chat on beta: no zero data retention (routing.policy.zdr)"},
		},
		{
			name:        "policy deny_data_collection",
			policy:      config.Policy{DenyDataCollection: true},
			prefs:       Prefs{Model: "chat", AllowFallbacks: true},
			want:        "[alpha@chat] [gamma@chat]",
			wantSkipped: []string{"chat on beta: may train on prompts (routing.policy.deny_data_collection)"},
		},
		{
			name:        "policy max_price",
			policy:      config.Policy{MaxPrice: config.Price{Completion: 1.5}},
			prefs:       Prefs{Model: "chat", AllowFallbacks: true},
			want:        "[beta@chat]",
			wantSkipped: []string{"chat on alpha: above the policy's max_price (routing.policy.max_price)", "chat on gamma: above the policy's max_price (routing.policy.max_price)"},
		},
		{
			name:   "policy max_price on the request fee",
			policy: config.Policy{MaxPrice: config.Price{Request: 0.5}},
			prefs:  Prefs{Model: "chat", AllowFallbacks: true},
			want:   "[alpha@chat beta@chat] [gamma@chat]",
		},
		{
			name:        "a skipped fallback model still plans the rest",
			prefs:       Prefs{Model: "chat", Fallbacks: []string{"mini"}, Ignore: []string{"delta"}, AllowFallbacks: true},
			want:        "[alpha@chat beta@chat] [gamma@chat] [alpha@mini]",
			wantSkipped: []string{"mini on delta: in provider.ignore"},
		},
		{
			name:  "fallback model with every provider skipped",
			prefs: Prefs{Model: "mini", Fallbacks: []string{"chat"}, Only: []string{"delta"}, AllowFallbacks: true},
			want:  "[delta@mini]",
			wantSkipped: []string{"mini on alpha: not in provider.only", "chat on alpha: not in provider.only",
				"chat on beta: not in provider.only", "chat on gamma: not in provider.only"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			max := tc.max
			if max == 0 {
				max = 10
			}
			plan, err := Build(cat, tc.policy, max, tc.prefs, nil)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			got := show(plan.Groups)
			if unranked(tc.prefs) {
				got = levels(plan.Groups)
			}
			if got != tc.want {
				t.Errorf("groups = %s, want %s", got, tc.want)
			}
			if plan.Default != tc.wantDefault {
				t.Errorf("Default = %v, want %v", plan.Default, tc.wantDefault)
			}
			var skipped []string
			for _, s := range plan.Skipped {
				skipped = append(skipped, s.String())
			}
			if strings.Join(skipped, "\n") != strings.Join(tc.wantSkipped, "\n") {
				t.Errorf("skipped =\n%s\nwant\n%s", strings.Join(skipped, "\n"), strings.Join(tc.wantSkipped, "\n"))
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	cat := loadCatalog(t, catalogYAML)
	tests := []struct {
		name       string
		policy     config.Policy
		prefs      Prefs
		wantStatus int
		wantType   string
		wantCode   string
		wantMsg    string // the whole message
	}{
		{
			name:       "unknown model",
			prefs:      Prefs{Model: "nope", AllowFallbacks: true},
			wantStatus: 404, wantType: "invalid_request_error", wantCode: "model_not_found",
			wantMsg: `model "nope" is not served by this gateway; GET /v1/models lists the models it serves`,
		},
		{
			name:       "unknown fallback model",
			prefs:      Prefs{Model: "chat", Fallbacks: []string{"mini", "nope"}, AllowFallbacks: true},
			wantStatus: 404, wantType: "invalid_request_error", wantCode: "model_not_found",
			wantMsg: `fallback model in 'models' "nope" is not served by this gateway; GET /v1/models lists the models it serves`,
		},
		{
			name:       "huge unknown model name is cut short",
			prefs:      Prefs{Model: strings.Repeat("m", 500), AllowFallbacks: true},
			wantStatus: 404, wantType: "invalid_request_error", wantCode: "model_not_found",
			wantMsg: `model "` + strings.Repeat("m", 100) + `..." is not served by this gateway; GET /v1/models lists the models it serves`,
		},
		{
			name:       "provider.only outside the policy",
			policy:     config.Policy{Providers: []string{"alpha"}},
			prefs:      Prefs{Model: "chat", Only: []string{"alpha", "beta"}, AllowFallbacks: true},
			wantStatus: 403, wantType: "permission_error", wantCode: "forbidden_by_policy",
			wantMsg: `provider "beta" is not allowed by the gateway policy (routing.policy.providers)`,
		},
		{
			name:       "provider.order outside the policy",
			policy:     config.Policy{Providers: []string{"alpha", "beta"}},
			prefs:      Prefs{Model: "chat", Order: []string{"gamma"}, AllowFallbacks: true},
			wantStatus: 403, wantType: "permission_error", wantCode: "forbidden_by_policy",
			wantMsg: `provider "gamma" is not allowed by the gateway policy (routing.policy.providers)`,
		},
		{
			name:       "policy leaves no provider",
			policy:     config.Policy{Regions: []string{"ap"}},
			prefs:      Prefs{Model: "chat", AllowFallbacks: true},
			wantStatus: 403, wantType: "permission_error", wantCode: "forbidden_by_policy",
			wantMsg: `no provider can serve model "chat": ` +
				`chat on alpha: region "us" not in the policy's allow-list (routing.policy.regions); ` +
				`chat on beta: region "eu" not in the policy's allow-list (routing.policy.regions); ` +
				`chat on gamma: region "us" not in the policy's allow-list (routing.policy.regions)`,
		},
		{
			name:       "request leaves no provider",
			prefs:      Prefs{Model: "chat", Only: []string{"delta"}, AllowFallbacks: true},
			wantStatus: 503, wantType: "server_error", wantCode: "no_provider_available",
			wantMsg: `no provider can serve model "chat": chat on alpha: not in provider.only; chat on beta: not in provider.only; chat on gamma: not in provider.only`,
		},
		{
			name:       "policy and request together leave no provider",
			policy:     config.Policy{ZDR: true},
			prefs:      Prefs{Model: "chat", Ignore: []string{"alpha"}, Tokens: 2000, AllowFallbacks: true},
			wantStatus: 503, wantType: "server_error", wantCode: "no_provider_available",
			wantMsg: `no provider can serve model "chat": ` +
				`chat on alpha: in provider.ignore; ` +
				`chat on beta: no zero data retention (routing.policy.zdr); ` +
				`chat on gamma: context length 1000 is below the ~2000 tokens this request needs`,
		},
		{
			name:       "every reason of every model is listed",
			prefs:      Prefs{Model: "chat", Fallbacks: []string{"mini"}, Ignore: []string{"alpha", "beta", "gamma", "delta"}, AllowFallbacks: true},
			wantStatus: 503, wantType: "server_error", wantCode: "no_provider_available",
			wantMsg: `no provider can serve model "chat": chat on alpha: in provider.ignore; chat on beta: in provider.ignore; ` +
				`chat on gamma: in provider.ignore; mini on delta: in provider.ignore; mini on alpha: in provider.ignore`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Build(cat, tc.policy, 10, tc.prefs, nil)
			if err == nil {
				t.Fatalf("Build = %s, want an error", show(plan.Groups))
			}
			if err.Status != tc.wantStatus || err.Type != tc.wantType || err.Code != tc.wantCode {
				t.Errorf("error = %d %s %s, want %d %s %s", err.Status, err.Type, err.Code, tc.wantStatus, tc.wantType, tc.wantCode)
			}
			if err.Message != tc.wantMsg {
				t.Errorf("message =\n%s\nwant\n%s", err.Message, tc.wantMsg)
			}
		})
	}
}

// TestBuildWithStats orders by what the gateway measured.
func TestBuildWithStats(t *testing.T) {
	cat := loadCatalog(t, catalogYAML)
	br := Breaker{FailuresToOpen: 2, Cooldown: 30 * time.Second, MaxCooldown: 5 * time.Minute}
	clk := newClock()
	stats := NewStats(clk.now)
	// alpha: slow to start, fast to generate; beta: quick to start, slow
	// to generate; gamma: never measured.
	stats.Observe("alpha", "a-chat", ok(2*time.Second, time.Second, 100), br)
	stats.Observe("beta", "b-chat", ok(500*time.Millisecond, 2*time.Second, 50), br)

	tests := []struct {
		name  string
		prefs Prefs
		want  string
	}{
		{name: "throughput, unmeasured last", prefs: Prefs{Model: "chat", Sort: SortThroughput, PartitionByModel: true, AllowFallbacks: true}, want: "[alpha@chat] [beta@chat] [gamma@chat]"},
		{name: "latency, unmeasured last", prefs: Prefs{Model: "chat", Sort: SortLatency, PartitionByModel: true, AllowFallbacks: true}, want: "[beta@chat] [alpha@chat] [gamma@chat]"},
		{name: "preferred min throughput deprioritises", prefs: Prefs{Model: "chat", MinThroughput: 60, AllowFallbacks: true}, want: "[alpha@chat] [gamma@chat] [beta@chat]"},
		{name: "preferred max latency deprioritises", prefs: Prefs{Model: "chat", MaxLatency: 1, AllowFallbacks: true}, want: "[beta@chat] [gamma@chat] [alpha@chat]"},
		{name: "preferences everyone meets keep the order", prefs: Prefs{Model: "chat", MinThroughput: 10, MaxLatency: 5, AllowFallbacks: true}, want: "[alpha@chat] [beta@chat] [gamma@chat]"},
		{name: "no preference keeps the groups", prefs: Prefs{Model: "chat", AllowFallbacks: true}, want: "[alpha@chat beta@chat] [gamma@chat]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Build(cat, config.Policy{}, 10, tc.prefs, stats)
			if err != nil {
				t.Fatal(err)
			}
			got := show(plan.Groups)
			if unranked(tc.prefs) {
				got = levels(plan.Groups)
			}
			if got != tc.want {
				t.Errorf("groups = %s, want %s", got, tc.want)
			}
		})
	}

	// Two failures in a row open alpha's circuit: it is tried last, not
	// never, and the plan is no longer the configured default.
	fail := Outcome{Status: 503}
	stats.Observe("alpha", "a-chat", fail, br)
	stats.Observe("alpha", "a-chat", fail, br)
	open := []struct {
		name  string
		prefs Prefs
		want  string
	}{
		{name: "open circuit last", prefs: Prefs{Model: "chat", AllowFallbacks: true}, want: "[beta@chat] [gamma@chat] [alpha@chat]"},
		{name: "open circuit last despite provider.order", prefs: Prefs{Model: "chat", Order: []string{"alpha"}, AllowFallbacks: true}, want: "[beta@chat] [gamma@chat] [alpha@chat]"},
		{name: "open circuit on another model's provider is no matter", prefs: Prefs{Model: "mini", AllowFallbacks: true}, want: "[delta@mini] [alpha@mini]"},
	}
	for _, tc := range open {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Build(cat, config.Policy{}, 10, tc.prefs, stats)
			if err != nil {
				t.Fatal(err)
			}
			if got := show(plan.Groups); got != tc.want {
				t.Errorf("groups = %s, want %s", got, tc.want)
			}
			if tc.prefs.Model == "chat" && plan.Default {
				t.Error("Default = true with a provider moved last")
			}
		})
	}

	// After the cool-down alpha is back in its place.
	clk.advance(31 * time.Second)
	plan, _ := Build(cat, config.Policy{}, 10, Prefs{Model: "chat", AllowFallbacks: true}, stats)
	if got, want := levels(plan.Groups), "[alpha@chat beta@chat] [gamma@chat]"; got != want {
		t.Errorf("after the cool-down: groups = %s, want %s", got, want)
	}
}

// TestBuildSticky keeps a session on one provider of the top priority
// level, and spreads sessions over all of them.
func TestBuildSticky(t *testing.T) {
	cat := loadCatalog(t, catalogYAML)
	first := map[string]int{}
	for i := range 200 {
		session := fmt.Sprintf("session-%d", i)
		var want string
		for j := range 5 {
			plan, err := Build(cat, config.Policy{}, 10, Prefs{Model: "chat", Session: session, AllowFallbacks: true}, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := show(plan.Groups)
			if j == 0 {
				want = got
			} else if got != want {
				t.Fatalf("session %s: plan %s, then %s", session, want, got)
			}
			if len(plan.Groups) != 3 || plan.Groups[2][0].Provider.Name != "gamma" {
				t.Fatalf("session %s: plan %s, want one group each, the priority-1 gamma last", session, got)
			}
			if plan.Default {
				t.Fatalf("session %s: a sticky plan is not the default", session)
			}
		}
		p0, _ := Build(cat, config.Policy{}, 10, Prefs{Model: "chat", Session: session, AllowFallbacks: true}, nil)
		first[p0.Groups[0][0].Provider.Name]++
	}
	if first["alpha"] < 40 || first["beta"] < 40 || len(first) != 2 {
		t.Errorf("first providers over 200 sessions = %v, want both alpha and beta often", first)
	}

	// A session's choice does not depend on the order of the config.
	swapped := strings.Replace(catalogYAML,
		"      - {provider: alpha, model: a-chat, weight: 3, region: us, zdr: true, pricing: {prompt: 1, completion: 2}}\n      - {provider: beta, model: b-chat, region: eu, trains_on_prompts: true, capabilities: [tools], pricing: {prompt: 0.5, completion: 1}}\n",
		"      - {provider: beta, model: b-chat, region: eu, trains_on_prompts: true, capabilities: [tools], pricing: {prompt: 0.5, completion: 1}}\n      - {provider: alpha, model: a-chat, weight: 3, region: us, zdr: true, pricing: {prompt: 1, completion: 2}}\n", 1)
	if swapped == catalogYAML {
		t.Fatal("swap did not apply")
	}
	cat2 := loadCatalog(t, swapped)
	for i := range 50 {
		session := fmt.Sprintf("s%d", i)
		a, _ := Build(cat, config.Policy{}, 10, Prefs{Model: "chat", Session: session, AllowFallbacks: true}, nil)
		b, _ := Build(cat2, config.Policy{}, 10, Prefs{Model: "chat", Session: session, AllowFallbacks: true}, nil)
		if a.Groups[0][0].Provider.Name != b.Groups[0][0].Provider.Name {
			t.Errorf("session %s: %s with one config order, %s with the other", session, a.Groups[0][0].Provider.Name, b.Groups[0][0].Provider.Name)
		}
	}

	// provider.order wins over stickiness.
	plan, _ := Build(cat, config.Policy{}, 10, Prefs{Model: "chat", Session: "s1", Order: []string{"gamma"}, AllowFallbacks: true}, nil)
	if got := plan.Groups[0][0].Provider.Name; got != "gamma" {
		t.Errorf("order with a session: first = %s, want gamma", got)
	}
}

func TestDefaultGroups(t *testing.T) {
	cat := loadCatalog(t, `providers:
  - {name: a, schema: openai, base_url: "https://a.example.test"}
  - {name: b, schema: openai, base_url: "https://b.example.test"}
  - {name: c, schema: openai, base_url: "https://c.example.test"}
models:
  - name: m
    providers:
      - {provider: c, priority: 5}
      - {provider: a, priority: 2}
      - {provider: b, priority: 2, weight: 9}
`)
	r, _ := cat.Model("m")
	gs := DefaultGroups(r)
	if got, want := show(gs), "[a@m b@m] [c@m]"; got != want {
		t.Errorf("DefaultGroups = %s, want %s", got, want)
	}
	if w := gs[0][1].Weight; w != 9 {
		t.Errorf("weight of b = %d, want 9", w)
	}
}

// TestBuildNamedButRefused: a request whose provider.only or
// provider.order names a provider the policy refuses is told so (403
// naming the rule), never served by another provider or given a 503.
func TestBuildNamedButRefused(t *testing.T) {
	cat := loadCatalog(t, catalogYAML)
	tests := []struct {
		name    string
		policy  config.Policy
		prefs   Prefs
		wantMsg string // "" means a plan, no error
	}{
		{
			name:    "only names a provider over the price cap",
			policy:  config.Policy{MaxPrice: config.Price{Completion: 10}},
			prefs:   Prefs{Model: "chat", Only: []string{"gamma"}, AllowFallbacks: true},
			wantMsg: `provider.only names provider "gamma", which the gateway policy refuses: above the policy's max_price (routing.policy.max_price)`,
		},
		{
			name:    "order names a provider without zero retention",
			policy:  config.Policy{ZDR: true},
			prefs:   Prefs{Model: "chat", Order: []string{"beta", "alpha"}, AllowFallbacks: true},
			wantMsg: `provider.order names provider "beta", which the gateway policy refuses: no zero data retention (routing.policy.zdr)`,
		},
		{
			name:   "a provider the policy admits for one requested model is not refused",
			policy: config.Policy{MaxPrice: config.Price{Completion: 1}},
			prefs:  Prefs{Model: "chat", Fallbacks: []string{"mini"}, Order: []string{"alpha"}, AllowFallbacks: true},
		},
		{
			name:   "a provider that serves none of the models is no policy matter",
			policy: config.Policy{ZDR: true},
			prefs:  Prefs{Model: "chat", Order: []string{"delta"}, AllowFallbacks: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(cat, tc.policy, 10, tc.prefs, nil)
			if tc.wantMsg == "" {
				if err != nil {
					t.Fatalf("Build: %v, want a plan", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Build made a plan, want 403 %q", tc.wantMsg)
			}
			if err.Status != 403 || err.Code != "forbidden_by_policy" || err.Message != tc.wantMsg {
				t.Errorf("error = %d %s %q, want 403 forbidden_by_policy %q", err.Status, err.Code, err.Message, tc.wantMsg)
			}
		})
	}
}
