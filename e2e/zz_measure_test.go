package e2e

import (
	"sort"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/bigcatalog"
	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

func TestZZMeasureRoutes(t *testing.T) {
	up := fakeprovider.New(t)
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
	small := bigcatalog.Spec{Models: 1, PerModel: 3, Providers: 30, BaseURL: up.URL() + "/v1"}
	big := bigcatalog.Spec{Models: 1000, PerModel: 3, Providers: 30, BaseURL: up.URL() + "/v1"}
	gs := startGateway(t, small.YAML())
	gb := startGateway(t, big.YAML())
	chat := func(model string) []byte {
		return []byte(`{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`)
	}
	var ds, db []time.Duration
	for i := 0; i < 300; i++ {
		s := time.Now()
		gs.post(t, "/v1/chat/completions", chat(small.ModelName(0)))
		ds = append(ds, time.Since(s))
		s = time.Now()
		gb.post(t, "/v1/chat/completions", chat(big.ModelName(999)))
		db = append(db, time.Since(s))
	}
	for _, d := range [][]time.Duration{ds, db} {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		t.Logf("p10 %v p50 %v p90 %v", d[30], d[150], d[270])
	}
}
