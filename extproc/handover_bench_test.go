package extproc

import (
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/translators"
	"github.com/switchboard-gw/switchboard/xds"
)

// BenchmarkHandOff is the upstream hop's answer to a stream's headers
// when it hands the body to the router hop: the hand-over metadata.
func BenchmarkHandOff(b *testing.B) {
	p := &upstreamProcessor{provider: &config.Provider{Name: "anthropic"}, model: "claude-sonnet", attempt: 1,
		x: &translators.Exchange{}, mode: modeStream, handOver: true, sent: time.Now()}
	p.cand.Model = "claude-sonnet-4-5-20250929"
	p.x.Stream, p.x.IncludeUsage = true, true
	b.ReportAllocs()
	for b.Loop() {
		r := p.handOff(nil)
		if r.DynamicMetadata.Fields[xds.AttemptNamespace].GetStructValue().Fields["mode"].GetStringValue() != "stream" {
			b.Fatal("no hand-over")
		}
	}
}
