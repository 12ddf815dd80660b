package extproc

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	prioritygroupv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/router/cluster_specifiers/priority_group/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/routing"
	"github.com/switchboard-gw/switchboard/xds"
)

func TestRouterRoutes(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	tests := []struct {
		name         string
		extra        []string // request headers besides the usual ones
		body         string
		wantModel    string
		wantAttempts string
		wantPlan     string
		wantOverride [][]string // cluster:weight per group; nil: no override
		wantRemove   []string
	}{
		{
			name:         "openai model",
			body:         string(chatBody("gpt-4o", false)),
			wantModel:    "gpt-4o",
			wantAttempts: "1",
			wantPlan:     "openai|gpt-4o",
		},
		{
			name:         "anthropic model streamed",
			body:         string(chatBody("claude-sonnet", true)),
			wantModel:    "claude-sonnet",
			wantAttempts: "1",
			wantPlan:     "anthropic|claude-sonnet",
		},
		{
			name:         "configured priority levels need no override",
			body:         string(chatBody("tiered", false)),
			wantModel:    "tiered",
			wantAttempts: "2",
			wantPlan:     "openai|tiered;anthropic|tiered",
		},
		{
			name:         "provider.order overrides the groups",
			body:         `{"model":"tiered","provider":{"order":["anthropic","openai"]},"messages":[{"role":"user","content":"hi"}]}`,
			wantModel:    "tiered",
			wantAttempts: "2",
			wantPlan:     "anthropic|tiered;openai|tiered",
			wantOverride: [][]string{{"provider_anthropic:1000"}, {"provider_openai:1"}},
		},
		{
			name:         "provider.only leaves one attempt",
			body:         `{"model":"tiered","provider":{"only":["anthropic"]},"messages":[{"role":"user","content":"hi"}]}`,
			wantModel:    "tiered",
			wantAttempts: "1",
			wantPlan:     "anthropic|tiered",
			wantOverride: [][]string{{"provider_anthropic:1000"}},
		},
		{
			name:         "fallback models",
			body:         `{"model":"gpt-4o","models":["claude-sonnet","tiered"],"messages":[{"role":"user","content":"hi"}]}`,
			wantModel:    "gpt-4o",
			wantAttempts: "3",
			wantPlan:     "openai|gpt-4o;anthropic|claude-sonnet;openai|tiered",
			wantOverride: [][]string{{"provider_openai:1"}, {"provider_anthropic:1"}, {"provider_openai:1"}},
		},
		{
			name:         "models list alone, with a suffix",
			body:         `{"models":["claude-sonnet:nitro","gpt-4o"],"messages":[{"role":"user","content":"hi"}]}`,
			wantModel:    "claude-sonnet",
			wantAttempts: "2",
			wantPlan:     "anthropic|claude-sonnet;openai|gpt-4o",
			wantOverride: [][]string{{"provider_anthropic:1"}, {"provider_openai:1"}},
		},
		{
			name:         "allow_fallbacks false",
			body:         `{"model":"tiered","models":["gpt-4o"],"provider":{"allow_fallbacks":false},"messages":[{"role":"user","content":"hi"}]}`,
			wantModel:    "tiered",
			wantAttempts: "1",
			wantPlan:     "openai|tiered",
			wantOverride: [][]string{{"provider_openai:1"}},
		},
		{
			name: "client-sent control headers are removed",
			extra: []string{"x-switchboard-provider", "anthropic", "x-switchboard-model", "claude-sonnet", "x-switchboard-attempts", "9",
				"x-switchboard-debug", "1", "x-envoy-retry-on", "5xx", "x-envoy-max-retries", "50", "x-envoy-upstream-rq-timeout-ms", "1",
				"x-envoy-upstream-rq-per-try-timeout-ms", "1", "x-envoy-retry-grpc-on", "cancelled", "x-envoy-internal", "true"},
			body:         string(chatBody("gpt-4o", false)),
			wantModel:    "gpt-4o",
			wantAttempts: "1",
			wantPlan:     "openai|gpt-4o",
			wantRemove: []string{"x-switchboard-provider", "x-switchboard-model", "x-switchboard-attempts", "x-switchboard-debug",
				"x-envoy-retry-on", "x-envoy-max-retries", "x-envoy-upstream-rq-timeout-ms", "x-envoy-upstream-rq-per-try-timeout-ms",
				"x-envoy-retry-grpc-on", "x-envoy-internal"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := h.open(t, xds.HopRouter)
			if c := continued(t, s.send(postHeaders(tc.extra...))); c.GetHeaderMutation() != nil || c.GetClearRouteCache() {
				t.Errorf("request headers: want plain continue, got %v", c)
			}
			resp := s.send(requestBody([]byte(tc.body)))
			c := continued(t, resp)
			if !c.GetClearRouteCache() {
				t.Error("clear_route_cache = false, want true: Envoy must route again on the new headers")
			}
			if c.GetBodyMutation() != nil {
				t.Errorf("router hop changed the body: %v", c.GetBodyMutation())
			}
			m := readMutation(c.GetHeaderMutation())
			want := map[string]string{xds.ModelHeader: tc.wantModel, xds.AttemptsHeader: tc.wantAttempts}
			if len(m.set) != len(want) || m.set[xds.ModelHeader] != tc.wantModel || m.set[xds.AttemptsHeader] != tc.wantAttempts {
				t.Errorf("set headers = %v, want exactly %v", m.set, want)
			}
			if len(m.remove) != len(tc.wantRemove) {
				t.Errorf("remove_headers = %q, want %q", m.remove, tc.wantRemove)
			}
			for _, r := range tc.wantRemove {
				if !m.removes(r) {
					t.Errorf("remove_headers = %q, want %q in it", m.remove, r)
				}
			}

			md := resp.GetDynamicMetadata().GetFields()
			req := md[xds.RequestNamespace].GetStructValue().GetFields()
			if got := req["model"].GetStringValue(); got != tc.wantModel {
				t.Errorf("%s.model = %q, want %q", xds.RequestNamespace, got, tc.wantModel)
			}
			if got := req["plan"].GetStringValue(); got != tc.wantPlan {
				t.Errorf("%s.plan = %q, want %q", xds.RequestNamespace, got, tc.wantPlan)
			}
			override, ok := md[xds.PlanNamespace]
			if tc.wantOverride == nil {
				// (and the small body, forwarded to the upstream hop)
				if _, body := md[xds.BodyNamespace]; ok || len(md) != 1 && !(len(md) == 2 && body) {
					t.Errorf("dynamic metadata = %v, want only %s (the route's own groups serve the plan)", resp.GetDynamicMetadata(), xds.RequestNamespace)
				}
			} else {
				checkOverride(t, override.GetStructValue(), tc.wantOverride)
			}
			s.close()
			if err := h.waitEnded(t); err != nil {
				t.Errorf("Process returned %v", err)
			}
		})
	}
}

// checkOverride reads a switchboard.plan value as Envoy does, into a
// PriorityGroupsOverride, and compares its groups.
func checkOverride(t *testing.T, v *structpb.Struct, want [][]string) {
	t.Helper()
	if v == nil {
		t.Fatalf("no %s metadata, want the override %q", xds.PlanNamespace, want)
	}
	js, err := protojson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var o prioritygroupv3.PriorityGroupsOverride
	if err := protojson.Unmarshal(js, &o); err != nil {
		t.Fatalf("%s = %s is not a PriorityGroupsOverride: %v", xds.PlanNamespace, js, err)
	}
	var got [][]string
	names := map[string]bool{}
	for _, g := range o.GetPriorityGroups() {
		var cs []string
		for _, c := range g.GetClusters() {
			cs = append(cs, fmt.Sprintf("%s:%d", c.GetClusterName(), c.GetWeight().GetValue()))
		}
		got = append(got, cs)
		if g.GetName() == "" || names[g.GetName()] {
			t.Errorf("group name %q is empty or repeated", g.GetName())
		}
		names[g.GetName()] = true
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("override groups = %q, want %q", got, want)
	}
}

func TestRouterRejects(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	// Nothing of the config may leak into a reply to an unknown caller.
	configWords := []string{"openai", "anthropic", "example.test", "gpt-4o", "claude", "tiered", "sk-"}
	tests := []struct {
		name       string
		headers    []string // full request headers; nil is a chat POST
		eos        bool     // request headers end the stream (no body)
		body       string   // sent when the headers do not answer
		wantStatus int
		wantCode   string
		wantMsg    string // substring of error.message
	}{
		{
			name:       "GET is not allowed",
			headers:    []string{":method", "GET", ":path", "/v1/chat/completions?x=1", ":authority", "gw.example.test"},
			eos:        true,
			wantStatus: 405,
			wantCode:   "method_not_allowed",
			wantMsg:    "GET is not allowed on /v1/chat/completions; use POST",
		},
		{
			name:       "POST without a body",
			eos:        true,
			wantStatus: 400,
			wantCode:   "missing_body",
			wantMsg:    "request body is required",
		},
		{
			name:       "malformed JSON",
			body:       `{"model":"gpt-4o","messages":[`,
			wantStatus: 400,
			wantCode:   "invalid_json",
			wantMsg:    "not valid JSON",
		},
		{
			name:       "body is not an object",
			body:       `["gpt-4o"]`,
			wantStatus: 400,
			wantCode:   "invalid_request",
			wantMsg:    "must be a JSON object",
		},
		{
			name:       "empty messages",
			body:       `{"model":"gpt-4o","messages":[]}`,
			wantStatus: 400,
			wantCode:   "invalid_messages",
			wantMsg:    "'messages' must be a non-empty array",
		},
		{
			name:       "messages missing",
			body:       `{"model":"gpt-4o"}`,
			wantStatus: 400,
			wantCode:   "invalid_messages",
			wantMsg:    "'messages' must be a non-empty array",
		},
		{
			name:       "unknown model",
			body:       `{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 404,
			wantCode:   "model_not_found",
			wantMsg:    `model "gpt-5" is not served by this gateway`,
		},
		{
			name:       "missing model",
			body:       `{"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 404,
			wantCode:   "model_not_found",
			wantMsg:    "request has no 'model'",
		},
		{
			name:       "model is not a string",
			body:       `{"model":4,"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 400,
			wantCode:   "invalid_model",
			wantMsg:    "'model' must be a string",
		},
		{
			name:       "unknown fallback model",
			body:       `{"model":"gpt-4o","models":["gpt-5"],"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 404,
			wantCode:   "model_not_found",
			wantMsg:    `fallback model in 'models' "gpt-5" is not served by this gateway`,
		},
		{
			name:       "models is not a list",
			body:       `{"models":"gpt-5","messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 400,
			wantCode:   "invalid_models",
			wantMsg:    "'models' must be an array of model names",
		},
		{
			name:       "provider is not an object",
			body:       `{"model":"gpt-5","provider":"x","messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 400,
			wantCode:   "invalid_provider",
			wantMsg:    "'provider' must be an object",
		},
		{
			name:       "bad sort",
			body:       `{"model":"gpt-5","provider":{"sort":"fastest"},"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 400,
			wantCode:   "invalid_provider",
			wantMsg:    `provider.sort "fastest" is not one of price, throughput, latency`,
		},
		{
			name:       "ten million nested arrays",
			body:       `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"x":` + strings.Repeat("[", 10_000_000) + strings.Repeat("]", 10_000_000) + `}`,
			wantStatus: 400,
			wantCode:   "json_too_deep",
			wantMsg:    "nests deeper than 128 levels",
		},
		{
			name:       "duplicate model",
			body:       `{"model":"gpt-4o","model":"claude-sonnet","messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 400,
			wantCode:   "duplicate_key",
			wantMsg:    `duplicate object member name "model"`,
		},
		{
			name:       "duplicate model spelled with an escape",
			body:       `{"model":"gpt-4o","\u006dodel":"claude-sonnet","messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 400,
			wantCode:   "duplicate_key",
			wantMsg:    `"model"`,
		},
		{
			name:       "duplicate max_tokens and stream",
			body:       `{"model":"gpt-4o","max_tokens":5,"stream":false,"messages":[{"role":"user","content":"hi"}],"stream":true}`,
			wantStatus: 400,
			wantCode:   "duplicate_key",
			wantMsg:    `"stream"`,
		},
		{
			name:       "duplicate key nested",
			body:       `{"model":"gpt-4o","stream_options":{"include_usage":false,"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 400,
			wantCode:   "duplicate_key",
			wantMsg:    `"include_usage" within "/stream_options"`,
		},
		{
			name:       "100,000 fallback models",
			body:       `{"model":"gpt-4o","models":[` + strings.TrimSuffix(strings.Repeat(`"m",`, 100_000), ",") + `],"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 400,
			wantCode:   "too_many_models",
			wantMsg:    "'models' lists 100000 models; the limit is 32",
		},
		{
			name:       "10,000 providers in provider.order",
			body:       `{"model":"gpt-4o","provider":{"order":[` + strings.TrimSuffix(strings.Repeat(`"p",`, 10_000), ",") + `]},"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 400,
			wantCode:   "too_many_providers",
			wantMsg:    "provider.order lists 10000 providers; the limit is 64",
		},
		{
			name:       "huge unknown model name is cut short",
			body:       `{"model":"` + strings.Repeat("m", 5000) + `","messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 404,
			wantCode:   "model_not_found",
			wantMsg:    strings.Repeat("m", 100) + `..."`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := h.open(t, xds.HopRouter)
			headers := postHeaders()
			if tc.headers != nil {
				headers = requestHeaders(tc.eos, tc.headers...)
			}
			headers.GetRequestHeaders().EndOfStream = tc.eos
			resp := s.send(headers)
			if !tc.eos {
				continued(t, resp)
				resp = s.send(requestBody([]byte(tc.body)))
			}
			e := checkImmediate(t, resp, tc.wantStatus, tc.wantCode)
			if !strings.Contains(e.Error.Message, tc.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", e.Error.Message, tc.wantMsg)
			}
			if len(e.Error.Message) > 300 {
				t.Errorf("message is %d bytes long", len(e.Error.Message))
			}
			for _, w := range configWords {
				if strings.Contains(e.Error.Message, w) {
					t.Errorf("message %q reveals config (%q)", e.Error.Message, w)
				}
			}
			s.close()
			if err := h.waitEnded(t); err != nil {
				t.Errorf("Process returned %v", err)
			}
		})
	}
}

// TestRouterPriority plans a model whose priority-1 provider has 1000
// times the weight of its priority-0 one: weight only splits within a
// level, so every plan starts with priority 0, and it is always the same
// plan (Envoy, not the hop, draws by weight).
func TestRouterPriority(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	for range 50 {
		r := h.route(t, chatBody("tiered", false))
		if got := r.plan(); got != "openai|tiered;anthropic|tiered" {
			t.Fatalf("plan = %q, want the priority-0 provider openai first", got)
		}
		if r.override != nil {
			t.Fatalf("override %v for the configured order", r.override)
		}
	}
}

// policyYAML restricts the gateway to openai and EU providers that keep
// no data.
const policyYAML = `routing:
  policy:
    providers: [openai, anthropic]
    regions: [eu]
    zdr: true
providers:
  - {name: openai, schema: openai, base_url: "https://openai.example.test/v1", api_key: {env: OPENAI_KEY}}
  - {name: anthropic, schema: anthropic, base_url: "https://anthropic.example.test", api_key: {env: ANTHROPIC_KEY}}
  - {name: other, schema: openai, base_url: "https://other.example.test/v1"}
models:
  - name: m
    providers:
      - {provider: openai, model: gpt-4o, region: eu, zdr: true, context_length: 100}
      - {provider: anthropic, model: claude, region: us, zdr: true, capabilities: [tools]}
      - {provider: other, model: o, region: eu, zdr: true}
  - name: us-only
    providers:
      - {provider: anthropic, model: claude, region: us, zdr: true}
`

// TestRouterPlanErrors: what the policy forbids is 403, what nothing can
// serve is 503 with every reason.
func TestRouterPlanErrors(t *testing.T) {
	h := newHarness(t, mustLoad(t, policyYAML))
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantType   string
		wantCode   string
		wantMsg    string
	}{
		{
			name:       "provider.only outside the policy",
			body:       `{"model":"m","provider":{"only":["other"]},"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 403, wantType: "permission_error", wantCode: "forbidden_by_policy",
			wantMsg: `provider "other" is not allowed by the gateway policy (routing.policy.providers)`,
		},
		{
			name:       "provider.order outside the policy",
			body:       `{"model":"m","provider":{"order":["openai","nope"]},"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 403, wantType: "permission_error", wantCode: "forbidden_by_policy",
			wantMsg: `provider "nope" is not allowed by the gateway policy (routing.policy.providers)`,
		},
		{
			name:       "the policy leaves no provider",
			body:       `{"model":"us-only","messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 403, wantType: "permission_error", wantCode: "forbidden_by_policy",
			wantMsg: `no provider can serve model "us-only": us-only on anthropic: region "us" not in the policy's allow-list (routing.policy.regions)`,
		},
		{
			name: "the request leaves no provider",
			body: `{"model":"m","provider":{"ignore":["openai"]},"max_tokens":50,` +
				`"tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 503, wantType: "server_error", wantCode: "no_provider_available",
			wantMsg: `no provider can serve model "m": m on openai: in provider.ignore; ` +
				`m on anthropic: region "us" not in the policy's allow-list (routing.policy.regions); ` +
				`m on other: not in the policy's provider allow-list (routing.policy.providers)`,
		},
		{
			name:       "context length and capabilities",
			body:       `{"model":"m","max_tokens":500,"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:,"}}]}]}`,
			wantStatus: 503, wantType: "server_error", wantCode: "no_provider_available",
			wantMsg: `m on openai: context length 100 is below the ~`,
		},
		{
			name:       "provider.only names a provider the policy's regions refuse",
			body:       `{"model":"m","provider":{"only":["anthropic"]},"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 403, wantType: "permission_error", wantCode: "forbidden_by_policy",
			wantMsg: `provider.only names provider "anthropic", which the gateway policy refuses: region "us" not in the policy's allow-list (routing.policy.regions)`,
		},
		{
			name:       "provider.order names a provider the policy refuses",
			body:       `{"model":"m","provider":{"order":["anthropic","openai"]},"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 403, wantType: "permission_error", wantCode: "forbidden_by_policy",
			wantMsg: `provider.order names provider "anthropic"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := h.open(t, xds.HopRouter)
			continued(t, s.send(postHeaders()))
			resp := s.send(requestBody([]byte(tc.body)))
			e := checkImmediate(t, resp, tc.wantStatus, tc.wantCode)
			if e.Error.Type != tc.wantType {
				t.Errorf("type = %q, want %q", e.Error.Type, tc.wantType)
			}
			if !strings.Contains(e.Error.Message, tc.wantMsg) {
				t.Errorf("message =\n%s\nwant it to contain\n%s", e.Error.Message, tc.wantMsg)
			}
			s.close()
			if err := h.waitEnded(t); err != nil {
				t.Errorf("Process returned %v", err)
			}
		})
	}

	// Within the policy, the plan holds only what it allows.
	r := h.route(t, []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if got := r.plan(); got != "openai|m" {
		t.Errorf("plan = %q, want only openai", got)
	}
	checkOverride(t, r.override, [][]string{{"provider_openai:1"}})
}

// TestRouterCircuit: a provider whose circuit the upstream hop opened is
// planned last.
func TestRouterCircuit(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	br := routing.Breaker{FailuresToOpen: 1, Cooldown: time.Hour, MaxCooldown: time.Hour}
	h.srv.Stats().Observe("openai", "gpt-4o-mini", routing.Outcome{Status: 503}, br)
	r := h.route(t, chatBody("tiered", false))
	if got := r.plan(); got != "anthropic|tiered;openai|tiered" {
		t.Errorf("plan = %q, want the open openai last", got)
	}
	checkOverride(t, r.override, [][]string{{"provider_anthropic:1000"}, {"provider_openai:1"}})
	// Another model on the same provider is not affected.
	if got := h.route(t, chatBody("gpt-4o", false)).plan(); got != "openai|gpt-4o" {
		t.Errorf("gpt-4o plan = %q", got)
	}
}

// TestRouterSticky keeps a conversation (x-session-id or session_id) on
// one provider of the top priority level, for its prompt cache.
func TestRouterSticky(t *testing.T) {
	h := newHarness(t, mustLoad(t, `providers:
  - {name: openai, schema: openai, base_url: "https://openai.example.test/v1", api_key: {env: OPENAI_KEY}}
  - {name: anthropic, schema: anthropic, base_url: "https://anthropic.example.test", api_key: {env: ANTHROPIC_KEY}}
models:
  - name: both
    providers:
      - {provider: openai, model: gpt-4o}
      - {provider: anthropic, model: claude}
`))
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	first := map[string]int{}
	for i := range 40 {
		session := fmt.Sprintf("conversation-%d", i)
		a := h.route(t, []byte(`{"model":"both",`+msgs+`}`), "x-session-id", session).plan()
		b := h.route(t, []byte(`{"model":"both",`+msgs+`}`), "x-session-id", session).plan()
		c := h.route(t, []byte(`{"model":"both","session_id":"`+session+`",`+msgs+`}`), "x-session-id", "other").plan()
		if a != b || a != c {
			t.Fatalf("session %s: plans %q, %q and (session_id) %q differ", session, a, b, c)
		}
		if a != "openai|both;anthropic|both" && a != "anthropic|both;openai|both" {
			t.Fatalf("session %s: plan %q, want one provider per attempt", session, a)
		}
		first[strings.SplitN(a, "|", 2)[0]]++
	}
	if first["openai"] < 5 || first["anthropic"] < 5 {
		t.Errorf("first providers over 40 sessions = %v, want both", first)
	}
	// Without a session, a weighted draw orders the level: one provider
	// per attempt, so a failure falls over to the other.
	if got := h.route(t, []byte(`{"model":"both",`+msgs+`}`)).plan(); got != "openai|both;anthropic|both" && got != "anthropic|both;openai|both" {
		t.Errorf("plan without a session = %q", got)
	}
}

// TestRouterClosesAfterBody: an answer the upstream hop did not hand
// over (no hand-over metadata: an error, a small held answer, Envoy's own
// reply) passes the router hop, which then closes its stream without
// waiting for Envoy to end it.
func TestRouterClosesAfterBody(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	s := h.open(t, xds.HopRouter)
	continued(t, s.send(postHeaders()))
	continued(t, s.send(requestBody(chatBody("gpt-4o", false))))
	continued(t, s.send(responseHeaders(false, ":status", "503", "content-type", "application/json")))
	// No CloseSend from the client: the server ends the stream itself.
	if err := h.waitEnded(t); err != nil {
		t.Fatalf("Process returned %v", err)
	}
	if _, err := s.stream.Recv(); err != io.EOF {
		t.Fatalf("Recv after the body answer = %v, want io.EOF (stream closed by the server)", err)
	}
}
