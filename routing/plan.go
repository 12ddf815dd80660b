package routing

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/translators"
)

// Group is one attempt's candidates: Envoy picks among them by weight.
type Group []config.Candidate

// Plan is the ordered attempts for one request.
type Plan struct {
	Groups []Group
	// Default is true when the plan equals the primary model's configured
	// priority groups, so Envoy's own weighted groups serve it unchanged.
	Default bool
	// Skipped says why candidates were left out.
	Skipped []Skip
}

// Skip is one candidate left out of a plan, and why.
type Skip struct{ Model, Provider, Reason string }

func (s Skip) String() string { return s.Model + " on " + s.Provider + ": " + s.Reason }

// Build makes the plan for a request. Errors are 404 (unknown model),
// 403 (the request asks for what the policy forbids) or 503 (no provider
// can serve it, with every reason).
func Build(cat *config.Catalog, policy config.Policy, maxAttempts int, p Prefs, stats *Stats) (Plan, *translators.APIError) {
	if err := checkPolicy(policy, p); err != nil {
		return Plan{}, err
	}
	models := []string{p.Model}
	if p.AllowFallbacks {
		models = append(models, p.Fallbacks...)
	}
	var plan Plan
	var perModel [][]config.Candidate
	policyOnly := true
	// Per provider: why the policy refused it, and whether any of its
	// candidates passed the policy. A request naming a refused provider
	// is told so (403), not served by another.
	refused := map[string]string{}
	passed := map[string]bool{}
	for i, name := range models {
		route, ok := cat.Model(name)
		if !ok {
			what := "model"
			if i > 0 {
				what = "fallback model in 'models'"
			}
			return Plan{}, &translators.APIError{Status: 404, Type: translators.TypeInvalidRequest, Code: "model_not_found",
				Message: what + " " + quote(name) + " is not served by this gateway; GET /v1/models lists the models it serves"}
		}
		var kept []config.Candidate
		for _, c := range route.Candidates {
			reason, byPolicy := exclude(c, policy, p)
			if byPolicy {
				if _, ok := refused[c.Provider.Name]; !ok {
					refused[c.Provider.Name] = reason
				}
			} else {
				passed[c.Provider.Name] = true
			}
			if reason != "" {
				plan.Skipped = append(plan.Skipped, Skip{name, c.Provider.Name, reason})
				policyOnly = policyOnly && byPolicy
				continue
			}
			kept = append(kept, c)
		}
		perModel = append(perModel, kept)
	}
	if err := namedButRefused(p, refused, passed); err != nil {
		return Plan{}, err
	}
	groups := order(perModel, p, stats)
	if len(groups) == 0 {
		return plan, noProvider(p.Model, plan.Skipped, policyOnly)
	}
	if !p.AllowFallbacks {
		groups = groups[:1]
	}
	if len(groups) > maxAttempts {
		groups = groups[:maxAttempts]
	}
	plan.Groups = groups
	route, _ := cat.Model(p.Model)
	plan.Default = sameGroups(groups, DefaultGroups(route))
	return plan, nil
}

// DefaultGroups are a route's configured priority levels, each split by
// weight: what Envoy is configured with when a request has no preferences.
func DefaultGroups(r *config.Route) []Group { return byPriority(r.Candidates) }

func checkPolicy(pol config.Policy, p Prefs) *translators.APIError {
	if len(pol.Providers) == 0 {
		return nil
	}
	for _, list := range [][]string{p.Only, p.Order} {
		for _, name := range list {
			if !slices.Contains(pol.Providers, name) {
				return &translators.APIError{Status: 403, Type: "permission_error", Code: "forbidden_by_policy",
					Message: "provider " + quote(name) + " is not allowed by the gateway policy (routing.policy.providers)"}
			}
		}
	}
	return nil
}

// namedButRefused is the 403 for a request whose provider.only or
// provider.order names a provider the central policy refuses for every
// candidate it could serve: asking for it is trying to loosen the policy.
func namedButRefused(p Prefs, refused map[string]string, passed map[string]bool) *translators.APIError {
	for _, l := range []struct {
		key   string
		names []string
	}{{"provider.only", p.Only}, {"provider.order", p.Order}} {
		for _, name := range l.names {
			if reason, ok := refused[name]; ok && !passed[name] {
				return &translators.APIError{Status: 403, Type: "permission_error", Code: "forbidden_by_policy",
					Message: l.key + " names provider " + quote(name) + ", which the gateway policy refuses: " + reason}
			}
		}
	}
	return nil
}

// exclude says why a candidate cannot serve the request ("" if it can),
// and whether the reason is the central policy.
func exclude(c config.Candidate, pol config.Policy, p Prefs) (string, bool) {
	s := c.Spec
	switch {
	case len(pol.Providers) > 0 && !slices.Contains(pol.Providers, c.Provider.Name):
		return "not in the policy's provider allow-list (routing.policy.providers)", true
	case len(pol.Regions) > 0 && !slices.Contains(pol.Regions, s.Region):
		return "region " + quote(s.Region) + " not in the policy's allow-list (routing.policy.regions)", true
	case pol.ZDR && !s.ZDR:
		return "no zero data retention (routing.policy.zdr)", true
	case pol.DenyDataCollection && s.TrainsOnPrompts:
		return "may train on prompts (routing.policy.deny_data_collection)", true
	case overPrice(s.Pricing, pol.MaxPrice):
		return "above the policy's max_price (routing.policy.max_price)", true
	case len(p.Only) > 0 && !slices.Contains(p.Only, c.Provider.Name):
		return "not in provider.only", false
	case slices.Contains(p.Ignore, c.Provider.Name):
		return "in provider.ignore", false
	case p.ZDR && !s.ZDR:
		return "no zero data retention (provider.zdr)", false
	case p.DenyDataCollection && s.TrainsOnPrompts:
		return "may train on prompts (provider.data_collection: deny)", false
	case overPrice(s.Pricing, p.MaxPrice):
		return "above provider.max_price", false
	}
	for _, need := range p.Needs {
		if !c.Can(need) {
			return "lacks capability " + need, false
		}
	}
	if s.ContextLength > 0 {
		if need := p.tokensOn(c.Model, s.ContextLength); need > s.ContextLength {
			return fmt.Sprintf(contextReason+"%d is below the ~%d tokens this request needs", s.ContextLength, need), false
		}
	}
	return "", false
}

// contextReason starts the skip reason of a prompt over a context length.
const contextReason = "context length "

func overPrice(have, max config.Price) bool {
	return (max.Prompt > 0 && have.Prompt > max.Prompt) ||
		(max.Completion > 0 && have.Completion > max.Completion) ||
		(max.Request > 0 && have.Request > max.Request)
}

func noProvider(model string, skipped []Skip, policyOnly bool) *translators.APIError {
	reasons := make([]string, len(skipped))
	for i, s := range skipped {
		reasons[i] = s.String()
	}
	msg := "no provider can serve model " + quote(model) + ": " + strings.Join(reasons, "; ")
	if policyOnly && len(skipped) > 0 {
		return &translators.APIError{Status: 403, Type: "permission_error", Code: "forbidden_by_policy", Message: msg}
	}
	// Too long for every provider: the request's fault, told before any
	// provider is called, as OpenAI words it.
	if len(skipped) > 0 && !slices.ContainsFunc(skipped, func(s Skip) bool { return !strings.HasPrefix(s.Reason, contextReason) }) {
		return &translators.APIError{Status: 400, Type: translators.TypeInvalidRequest, Code: "context_length_exceeded", Param: "messages",
			Message: msg + "; shorten the prompt or lower max_tokens, or add \"transforms\": [\"middle-out\"] to compress it"}
	}
	return &translators.APIError{Status: 503, Type: translators.TypeServer, Code: "no_provider_available", Message: msg}
}

// order turns each model's kept candidates into attempt groups.
func order(perModel [][]config.Candidate, p Prefs, stats *Stats) []Group {
	ranked := p.Sort != "" || len(p.Order) > 0 || p.Session != "" || p.MinThroughput > 0 || p.MaxLatency > 0
	var groups []Group
	if p.Sort != "" && !p.PartitionByModel {
		var all []config.Candidate
		for _, cs := range perModel {
			all = append(all, cs...)
		}
		perModel = [][]config.Candidate{all}
	}
	for _, cs := range perModel {
		if len(cs) == 0 {
			continue
		}
		if !ranked {
			// Within a priority level the providers are ordered by a
			// weighted random draw, one attempt each, so a failed attempt
			// falls over to the level's other providers (an Envoy group
			// would pick the same provider again on retry).
			var levels []Group
			for _, g := range byPriority(cs) {
				for _, c := range weightedOrder(g) {
					levels = append(levels, Group{c})
				}
			}
			groups = append(groups, healthFirst(levels, stats)...)
			continue
		}
		cs = slices.Clone(cs)
		switch {
		case len(p.Order) > 0:
			sort.SliceStable(cs, func(i, j int) bool { return orderIndex(p.Order, cs[i]) < orderIndex(p.Order, cs[j]) })
		case p.Sort != "":
			sortBy(cs, p.Sort, stats)
		case p.Session != "":
			sticky(cs, p.Session)
		}
		if p.MinThroughput > 0 || p.MaxLatency > 0 {
			// Deprioritise, never exclude.
			sort.SliceStable(cs, func(i, j int) bool { return meets(cs[i], p, stats) && !meets(cs[j], p, stats) })
		}
		for _, c := range cs {
			groups = append(groups, Group{c})
		}
		groups = healthFirst(groups, stats)
	}
	return groups
}

// weightedOrder draws the candidates one by one, each with probability
// proportional to its weight among those left.
func weightedOrder(g Group) Group {
	if len(g) < 2 {
		return g
	}
	left := slices.Clone(g)
	out := make(Group, 0, len(g))
	for len(left) > 0 {
		total := 0
		for _, c := range left {
			total += max(c.Weight, 1)
		}
		x := rand.IntN(total)
		i := 0
		for ; i < len(left)-1; i++ {
			if x < max(left[i].Weight, 1) {
				break
			}
			x -= max(left[i].Weight, 1)
		}
		out = append(out, left[i])
		left = slices.Delete(left, i, i+1)
	}
	return out
}

// byPriority groups candidates by priority level (they come sorted).
func byPriority(cs []config.Candidate) []Group {
	var gs []Group
	for i, c := range cs {
		if i == 0 || c.Priority != cs[i-1].Priority {
			gs = append(gs, nil)
		}
		gs[len(gs)-1] = append(gs[len(gs)-1], c)
	}
	return gs
}

// healthFirst moves candidates whose circuit is open behind the healthy
// ones: they are tried last rather than never, so a request still has a
// chance when everything is failing.
func healthFirst(gs []Group, stats *Stats) []Group {
	var good, bad []Group
	for _, g := range gs {
		var ok, sick Group
		for _, c := range g {
			if stats.view(c.Provider.Name, c.Model).healthy {
				ok = append(ok, c)
			} else {
				sick = append(sick, c)
			}
		}
		if len(ok) > 0 {
			good = append(good, ok)
		}
		for _, c := range sick {
			bad = append(bad, Group{c})
		}
	}
	return append(good, bad...)
}

func orderIndex(order []string, c config.Candidate) int {
	if i := slices.Index(order, c.Provider.Name); i >= 0 {
		return i
	}
	return len(order) + c.Priority
}

// sortBy orders by price (cheapest first), throughput (fastest first) or
// latency (lowest first). Unmeasured providers go after measured ones.
func sortBy(cs []config.Candidate, key string, stats *Stats) {
	score := func(c config.Candidate) float64 {
		v := stats.view(c.Provider.Name, c.Model)
		switch key {
		case SortPrice:
			pr := c.Spec.Pricing
			return pr.Prompt + pr.Completion + pr.Request*1e6
		case SortThroughput:
			if !v.hasP {
				return math.Inf(1)
			}
			return -v.tps
		default:
			if !v.hasT {
				return math.Inf(1)
			}
			return v.ttft
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return score(cs[i]) < score(cs[j]) })
}

// meets reports whether a candidate meets the preferred throughput and
// latency; unmeasured candidates are given the benefit of the doubt.
func meets(c config.Candidate, p Prefs, stats *Stats) bool {
	v := stats.view(c.Provider.Name, c.Model)
	if p.MinThroughput > 0 && v.hasP && v.tps < p.MinThroughput {
		return false
	}
	if p.MaxLatency > 0 && v.hasT && v.ttft > p.MaxLatency {
		return false
	}
	return true
}

// sticky puts first the provider a session hashes to among the top
// priority level (rendezvous hashing: stable as providers come and go,
// and the same on every gateway replica without shared state).
func sticky(cs []config.Candidate, session string) {
	top := 0
	for top < len(cs) && cs[top].Priority == cs[0].Priority {
		top++
	}
	best, bestScore := 0, uint64(0)
	for i := 0; i < top; i++ {
		h := fnv.New64a()
		h.Write([]byte(session))
		h.Write([]byte{0})
		h.Write([]byte(cs[i].Provider.Name))
		if s := h.Sum64(); i == 0 || s > bestScore {
			best, bestScore = i, s
		}
	}
	c := cs[best]
	copy(cs[1:best+1], cs[:best])
	cs[0] = c
}

func sameGroups(a, b []Group) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j].Provider != b[i][j].Provider || a[i][j].Model != b[i][j].Model {
				return false
			}
		}
	}
	return true
}

func quote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}
