package middleware

import "testing"

func TestParseSearches(t *testing.T) {
	for _, c := range []struct {
		in             string
		calls, results int
		ok             bool
	}{
		{FormatSearches(2, 9), 2, 9, true},
		{"searches=0; results=0", 0, 0, true},
		{"searches=1", 0, 0, false},
		{"results=1;searches=1", 0, 0, false},
		{"searches=-1;results=1", 0, 0, false},
		{"searches=1;results=10001", 0, 0, false},
		{"searches=1;results=1e3", 0, 0, false},
		{"searches=1;results=", 0, 0, false},
		{"", 0, 0, false},
	} {
		u, err := ParseSearches(c.in)
		if (err == nil) != c.ok || u.SearchCalls != c.calls || u.Results != c.results || (c.ok && u.Plugin != WebID) {
			t.Errorf("ParseSearches(%q) = %+v, %v", c.in, u, err)
		}
	}
}
