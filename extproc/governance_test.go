package extproc

import (
	"strconv"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/translators"
	"github.com/switchboard-gw/switchboard/xds"
)

// TestAttemptMetadataBilledBadAnswer: a 200 that is no answer but reports
// usage is charged: the upstream hop lists the attempt with its request
// (no response yet) and then reports what the provider billed, as the
// latest attempt ("usage") and as attempt_<n>, which later attempts'
// metadata leaves in place.
func TestAttemptMetadataBilledBadAnswer(t *testing.T) {
	h := newHarness(t, mustLoad(t, pricedYAML))
	s := h.open(t, xds.HopUpstream)
	continued(t, s.send(attempt{provider: "openai", model: "gpt-4o", n: 2}.headers()))
	listed := s.send(requestBody(chatBody("gpt-4o", false)))
	continued(t, listed)
	pre := readAttempts(listed.GetDynamicMetadata().GetFields()[xds.AttemptNamespace].GetStructValue().GetFields())
	if len(pre) != 1 || pre[0].attempt != 2 || pre[0].provider != "openai" || pre[0].model != "gpt-4o-2024-08-06" || pre[0].status != 0 {
		t.Fatalf("attempt listed with its request: %+v, want attempt 2 on openai, no status", pre)
	}
	body := `{"id":"x","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}`
	answers := s.respond(responseHeaders(false, ":status", "200", "content-type", "application/json", "content-length", strconv.Itoa(len(body))),
		responseBody([]byte(body), true))
	if m := readMutation(continued(t, answers[0]).GetHeaderMutation()); m.set[":status"] != "502" {
		t.Fatalf(":status %q, want 502 (falls back)", m.set[":status"])
	}
	a := answers[0].GetDynamicMetadata().GetFields()[xds.AttemptNamespace].GetStructValue().GetFields()
	u := translators.Usage{PromptTokens: 10, CompletionTokens: 5}
	cost, _ := translators.Price{Prompt: 2.5, Completion: 10, Request: 0.001}.Cost(u)
	want := attemptUsage{Usage: u, cost: cost,
		provider: "openai", model: "gpt-4o-2024-08-06", status: 502, attempt: 2, errCode: "bad_upstream_response"}
	if got := readAttemptUsage(a); got != want {
		t.Errorf("usage %+v, want %+v", got, want)
	}
	if got := readAttempts(a); len(got) != 1 || got[0] != want {
		t.Errorf("attempts %+v, want [%+v]", got, want)
	}
	s.close()
	_ = h.waitEnded(t)
}

// TestSettledAttempts: the router hop charges every reported attempt,
// with the served one's own figures in its place.
func TestSettledAttempts(t *testing.T) {
	field := func(n int, f map[string]any) (string, *structpb.Value) {
		v, err := structpb.NewValue(f)
		if err != nil {
			t.Fatal(err)
		}
		return attemptField(n), v
	}
	md := map[string]*structpb.Value{}
	for _, a := range []struct {
		n int
		f map[string]any
	}{
		{3, map[string]any{"provider": "c", "model": "c-1", "attempt": 3.0}}, // no response yet: the served one
		{1, map[string]any{"provider": "a", "model": "a-1", "attempt": 1.0, "prompt": 10.0, "completion": 5.0, "cost": 0.15, "status": 502.0}},
		{2, map[string]any{"provider": "b", "model": "b-1", "attempt": 2.0}}, // no response ever
	} {
		k, v := field(a.n, a.f)
		md[k] = v
	}
	md["mode"] = structpb.NewStringValue("stream") // other fields are no attempts
	got := readAttempts(md)
	if len(got) != 3 || got[0].provider != "a" || got[1].provider != "b" || got[2].provider != "c" {
		t.Fatalf("attempts %+v, want a, b, c in order", got)
	}
	if c := billedByOthers(got, 3); c != 0.15 {
		t.Errorf("billed before the served attempt: %v, want 0.15", c)
	}
	served := attemptUsage{Usage: translators.Usage{PromptTokens: 20, CompletionTokens: 4}, cost: 0.48, provider: "c", model: "c-1", status: 200, attempt: 3}
	all := withServed(got, served)
	if len(all) != 3 || all[2] != served || got[2].status != 0 {
		t.Errorf("withServed %+v, want the served attempt in third place (and the input unchanged)", all)
	}
	// From an upstream hop that lists no attempts: the served one alone.
	if one := withServed(nil, served); len(one) != 1 || one[0] != served {
		t.Errorf("withServed(nil) = %+v", one)
	}
	if none := withServed(got, attemptUsage{}); len(none) != 3 {
		t.Errorf("no served attempt: %+v, want the three reported", none)
	}
}
