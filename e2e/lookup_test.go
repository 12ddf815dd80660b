package e2e

import (
	"os"
	"sort"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/bigcatalog"
	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// TestRouteLookupCost measures what a 1,000-model catalog adds to a chat
// against a one-model gateway: 300 interleaved requests each, at 1
// concurrent (docs/performance.md, "Large catalogs"). A measurement, not
// a check: it runs with SWITCHBOARD_MEASURE=1.
func TestRouteLookupCost(t *testing.T) {
	if os.Getenv("SWITCHBOARD_MEASURE") == "" {
		t.Skip("a measurement: set SWITCHBOARD_MEASURE=1")
	}
	up := fakeprovider.New(t)
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
	small := bigcatalog.Spec{Models: 1, PerModel: 3, Providers: 30, BaseURL: up.URL() + "/v1"}
	big := bigcatalog.Spec{Models: 1000, PerModel: 3, Providers: 30, BaseURL: up.URL() + "/v1"}
	gs, gb := startGateway(t, small.YAML()), startGateway(t, big.YAML())
	chat := func(model string) []byte {
		return []byte(`{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`)
	}
	var ds, db []time.Duration
	for range 300 {
		s := time.Now()
		gs.post(t, "/v1/chat/completions", chat(small.ModelName(0)))
		ds = append(ds, time.Since(s))
		s = time.Now()
		gb.post(t, "/v1/chat/completions", chat(big.ModelName(999)))
		db = append(db, time.Since(s))
	}
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"1 model", ds}, {"1,000 models, the last", db}} {
		sort.Slice(m.d, func(i, j int) bool { return m.d[i] < m.d[j] })
		t.Logf("%s: p10 %v, p50 %v, p90 %v", m.name, m.d[30], m.d[150], m.d[270])
	}
}
