package extproc

import (
	"context"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/structpb"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/switchboard-gw/switchboard/governance"
	"github.com/switchboard-gw/switchboard/xds"
)

// Prompt and answer capture (governance.capture): for the tenants it
// names, the usage record keeps the request's chat form and the answer
// as the client got it, each cut at max_bytes, until the retention
// period removes them. Off by default; never for other tenants.

type captureState struct {
	prompt    string
	answer    []byte
	max       int
	truncated bool
}

func (c *captureState) add(b []byte) {
	if c == nil {
		return
	}
	if room := c.max - len(c.answer); room < len(b) {
		b = b[:max(room, 0)]
		c.truncated = true
	}
	c.answer = append(c.answer, b...)
}

// startCapture decides whether this request is captured, and keeps its
// prompt.
func (p *routerProcessor) startCapture(body []byte) {
	w := p.caller.who
	if p.s.gov == nil || w == nil || !p.cfg.Governance.Captures(w.Tenant) {
		return
	}
	c := &captureState{max: p.cfg.Governance.Capture.MaxBytes}
	if len(body) > c.max {
		body, c.truncated = body[:c.max], true
	}
	c.prompt = string(body)
	p.capture = c
}

// captureRequest asks the upstream hop to hand every answer over, so the
// router hop sees the answer it captures.
func (p *routerProcessor) captureRequest(resp *extprocv3.ProcessingResponse) {
	if p.capture == nil {
		return
	}
	resp.DynamicMetadata.Fields[xds.RequestNamespace].GetStructValue().Fields["handover_all"] = structpb.NewBoolValue(true)
}

func (p *routerProcessor) captured() *governance.Capture {
	if p.capture == nil {
		return nil
	}
	return &governance.Capture{Prompt: p.capture.prompt, Answer: string(p.capture.answer), Truncated: p.capture.truncated}
}

// purgeCaptures removes captured text past the retention period, hourly.
func (g *Gov) purgeCaptures(ctx context.Context, retention time.Duration) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := g.Store.PurgeCaptures(ctx, time.Now().Add(-retention)); err != nil {
			g.log.Warn("governance: purge captures", zap.Error(err))
		} else if n > 0 {
			g.log.Info("governance: captures past retention removed", zap.Int64("records", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
