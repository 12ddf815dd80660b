package xds

import (
	"context"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"go.uber.org/zap"
)

// Retry backoff after a rejection: Envoy gets the rejected version again
// after 1 s, then 2 s, 4 s, ... up to 30 s, until it accepts it or a new
// config replaces it. (Without it, the control plane answered each NACK
// with the same push at once: thousands a second.)
var (
	retryBase = time.Second
	retryMax  = 30 * time.Second
)

// Rejection is a version an Envoy refused, and why.
type Rejection struct {
	Version   string          `json:"version"`
	Type      string          `json:"type"`
	Error     string          `json:"error"`
	Count     int             `json:"count"`
	First     time.Time       `json:"first"`
	Last      time.Time       `json:"last"`
	NextRetry time.Time       `json:"next_retry,omitzero"`
	types     map[string]bool // every type URL rejected in the streak
}

// probe is the accepted snapshot with the rejected types taken from next.
// A retry offers Envoy only what it refused, so the types it took do not
// flip to the new version and back on every retry; once it takes them,
// the rest of next follows.
func probe(accepted, next *cache.Snapshot, types map[string]bool) *cache.Snapshot {
	p := &cache.Snapshot{Resources: accepted.Resources}
	for t := range types {
		i := cache.GetResponseType(t)
		p.Resources[i] = next.Resources[i]
	}
	return p
}

// rejected handles a NACK: logged once per version and type (later ones
// at debug level), counted, and put off. With an accepted version to go
// back to, Envoy is given it again, and after the backoff it is offered
// the rejected types of the new version alone (probe), then the rest once
// it takes them. With none yet (a rejection at start-up), the stream
// waits out the backoff before the push is retried.
func (s *Server) rejected(ctx context.Context, id int64, req *discoveryv3.DiscoveryRequest) {
	s.mu.Lock()
	v := s.version
	if st := s.streams[id]; st != nil {
		if pv, ok := st.nonces[req.GetResponseNonce()]; ok {
			v = pv
		}
	}
	now := time.Now()
	typ := typeName(req.GetTypeUrl())
	s.metrics.rejections.WithLabelValues(typ).Inc()
	if key := v + "/" + typ; !s.logged[key] {
		if len(s.logged) > 64 {
			clear(s.logged)
		}
		s.logged[key] = true
		s.log.Error("envoy rejected config", zap.String("type", typ), zap.String("version", v),
			zap.String("running", req.GetVersionInfo()), zap.String("error", req.GetErrorDetail().GetMessage()))
	} else {
		s.log.Debug("envoy rejected config again", zap.String("type", typ), zap.String("version", v))
	}
	if v != s.version {
		s.mu.Unlock() // an older push; the newest one gets its own answer
		return
	}
	r := s.reject
	if r == nil || r.Version != v {
		r = &Rejection{Version: v, First: now, types: map[string]bool{}}
	}
	r.Type = typ
	r.types[req.GetTypeUrl()] = true
	r.Count++
	r.Last, r.Error = now, req.GetErrorDetail().GetMessage()
	wait := min(retryBase<<min(r.Count-1, 16), retryMax)
	r.NextRetry = now.Add(wait)
	s.reject = r
	s.metrics.rejected.Set(1)

	back := s.snaps[s.accepted]
	if back == nil || s.accepted == v {
		wake := s.wake
		s.mu.Unlock()
		// Nothing to go back to: hold this stream's answer (the push
		// again) for the backoff, or until a new version is set.
		select {
		case <-time.After(wait):
		case <-wake:
		case <-ctx.Done():
		}
		return
	}
	defer s.mu.Unlock()
	if s.pushed != back {
		if err := s.setLocked(ctx, back); err != nil {
			s.log.Error("xds: going back to the accepted config failed", zap.Error(err))
			return
		}
	}
	if s.retry != nil {
		s.retry.Stop()
	}
	s.retry = time.AfterFunc(wait, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.version != v || s.accepted == v {
			return
		}
		s.log.Info("retrying rejected config", zap.String("version", v), zap.Int("rejections", r.Count))
		if err := s.setLocked(ctx, probe(back, s.snaps[v], r.types)); err != nil {
			s.log.Error("xds: retry failed", zap.Error(err))
		}
		s.probing = true
	})
}
