package routing

import (
	"net/url"
	"strings"
)

// Entry is one planned candidate: a provider serving a public model.
type Entry struct{ Provider, Model string }

// Encode writes the plan for the upstream hop: groups separated by ";",
// candidates by ",", each "provider|model" with both parts query-escaped.
func (p Plan) Encode() string {
	var b strings.Builder
	for i, g := range p.Groups {
		if i > 0 {
			b.WriteByte(';')
		}
		for j, c := range g {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(url.QueryEscape(c.Provider.Name))
			b.WriteByte('|')
			b.WriteString(url.QueryEscape(c.Route.Name))
		}
	}
	return b.String()
}

// DecodeGroup returns the candidates of attempt n (1-based) of an encoded
// plan. Like Envoy's priority groups, attempts past the end reuse the last
// group.
func DecodeGroup(s string, n int) []Entry {
	if s == "" {
		return nil
	}
	groups := strings.Split(s, ";")
	if n < 1 {
		n = 1
	}
	if n > len(groups) {
		n = len(groups)
	}
	var out []Entry
	for _, c := range strings.Split(groups[n-1], ",") {
		prov, model, ok := strings.Cut(c, "|")
		if !ok {
			continue
		}
		p, err1 := url.QueryUnescape(prov)
		m, err2 := url.QueryUnescape(model)
		if err1 == nil && err2 == nil {
			out = append(out, Entry{p, m})
		}
	}
	return out
}

// Attempts is the number of attempts an encoded plan holds (its groups).
func Attempts(s string) int {
	if s == "" {
		return 0
	}
	return strings.Count(s, ";") + 1
}

// Earlier lists the candidates of the attempts before attempt n, for
// reporting which attempts failed over.
func Earlier(s string, n int) []Entry {
	var out []Entry
	for i := 1; i < n; i++ {
		out = append(out, DecodeGroup(s, i)...)
	}
	return out
}
