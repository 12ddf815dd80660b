package e2e

import (
	"sort"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/bigcatalog"
	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// BenchmarkRouteLookupCost measures what a 1,000-model catalog adds to a
// chat against a one-model gateway: b.N interleaved requests each, at 1
// concurrent (docs/performance.md, "Large catalogs"). Run it with
// go test ./e2e -run XXX -bench RouteLookupCost -benchtime 300x.
func BenchmarkRouteLookupCost(b *testing.B) {
	up := fakeprovider.New(b)
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(b, transcript("openai", "chat"))})
	small := bigcatalog.Spec{Models: 1, PerModel: 3, Providers: 30, BaseURL: up.URL() + "/v1"}
	big := bigcatalog.Spec{Models: 1000, PerModel: 3, Providers: 30, BaseURL: up.URL() + "/v1"}
	gs, gb := startGateway(b, small.YAML()), startGateway(b, big.YAML())
	chat := func(model string) []byte {
		return []byte(`{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`)
	}
	var ds, db []time.Duration
	for b.Loop() {
		s := time.Now()
		gs.post(b, "/v1/chat/completions", chat(small.ModelName(0)))
		ds = append(ds, time.Since(s))
		s = time.Now()
		gb.post(b, "/v1/chat/completions", chat(big.ModelName(999)))
		db = append(db, time.Since(s))
	}
	p50 := func(d []time.Duration) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	b.ReportMetric(float64(p50(ds).Microseconds()), "p50-1-model-µs")
	b.ReportMetric(float64(p50(db).Microseconds()), "p50-1000-models-µs")
}
