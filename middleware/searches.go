package middleware

import (
	"fmt"
	"strconv"
	"strings"
)

// SearchesHeader carries, on a round the web search loop sends, the
// searches it ran since its last round: "searches=N;results=M". The
// router hop charges them with the round (cost_per_result) and records
// them. A client may send it too, which only adds charges to its own
// key, so the header needs no secret; it is bounded and stripped before
// any provider sees it.
const SearchesHeader = "x-switchboard-web-searches"

// MaxReportedSearches bounds both counts of SearchesHeader.
const MaxReportedSearches = 10000

// FormatSearches is SearchesHeader's value.
func FormatSearches(calls, results int) string {
	return "searches=" + strconv.Itoa(calls) + ";results=" + strconv.Itoa(results)
}

// ParseSearches reads SearchesHeader's value.
func ParseSearches(v string) (Usage, error) {
	calls, results, ok := strings.Cut(v, ";")
	if !ok {
		return Usage{}, fmt.Errorf("%s: want searches=N;results=M", SearchesHeader)
	}
	c, err := searchCount(calls, "searches")
	if err != nil {
		return Usage{}, err
	}
	r, err := searchCount(results, "results")
	if err != nil {
		return Usage{}, err
	}
	return Usage{Plugin: WebID, SearchCalls: c, Results: r}, nil
}

func searchCount(kv, name string) (int, error) {
	k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
	if !ok || k != name {
		return 0, fmt.Errorf("%s: want %s=N", SearchesHeader, name)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > MaxReportedSearches {
		return 0, fmt.Errorf("%s: %s must be a whole number from 0 to %d", SearchesHeader, name, MaxReportedSearches)
	}
	return n, nil
}
