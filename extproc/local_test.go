package extproc

import (
	"context"
	"regexp"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/xds"
)

// The in-process path gives Envoy the same answers as the gRPC path, for
// the same messages: a direct whole answer translated both ways, a
// refusal, and a direct stream.
func TestLocalAnswersAsProcess(t *testing.T) {
	answer := []byte(`{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":2}}`)
	stream := readTranscript(t, "anthropic", "text_stream")
	half := len(stream.body) / 2
	tests := []struct {
		name string
		msgs []*extprocv3.ProcessingRequest
	}{
		{name: "whole answer", msgs: []*extprocv3.ProcessingRequest{
			streamedHeaders("authorization", "Bearer client-gateway-key"),
			chunk(chatBody("claude-sonnet", false), true),
			responseHeaders(false, ":status", "200", "content-type", "application/json", "set-cookie", "s=1", upstreamServiceTime, "3"),
			responseBody(answer, true),
		}},
		{name: "unknown model", msgs: []*extprocv3.ProcessingRequest{
			streamedHeaders(),
			chunk([]byte(`{"model":"nope","messages":[{"role":"user","content":"hi"}]}`), true),
		}},
		{name: "stream", msgs: []*extprocv3.ProcessingRequest{
			streamedHeaders(),
			chunk(chatBody("claude-sonnet", true), true),
			responseHeaders(false, append(stream.headers, upstreamServiceTime, "2")...),
			responseBody(stream.body[:half], false),
			responseBody(stream.body[half:], true),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := directHarness(t)
			l, err := h.srv.OpenLocal(context.Background(), xds.HopRouter, "v-direct")
			if err != nil {
				t.Fatal(err)
			}
			var local []*extprocv3.ProcessingResponse
			done := false
			for _, m := range tc.msgs {
				if done {
					t.Fatalf("in process: done before %T", m.GetRequest())
				}
				out, d, err := l.Handle(m)
				if err != nil {
					t.Fatalf("in process: %T: %v", m.GetRequest(), err)
				}
				// Applied at once, as Envoy's filter would: a body may
				// share memory with the next message's.
				for _, r := range out {
					local = append(local, proto.Clone(r).(*extprocv3.ProcessingResponse))
				}
				done = d
			}
			l.Close()

			router := h.openVersioned(t, "v-direct")
			router.sendAll(tc.msgs...)
			for i, want := range local {
				got, err := router.stream.Recv()
				if err != nil {
					t.Fatalf("gRPC answer %d: %v", i, err)
				}
				if !proto.Equal(normalized(got), normalized(want)) {
					t.Errorf("answer %d differs:\n gRPC:       %v\n in process: %v", i, got, want)
				}
			}
			router.close()
			if err := h.waitEnded(t); err != nil {
				t.Fatal(err)
			}
			if len(local) == 0 {
				t.Fatal("no answers in process")
			}
		})
	}
}

// normalized drops what differs between two runs of one request: the
// time a translated answer was made, and the id a stream gets.
func normalized(r *extprocv3.ProcessingResponse) *extprocv3.ProcessingResponse {
	r = proto.Clone(r).(*extprocv3.ProcessingResponse)
	if c := commonOf(r); c != nil {
		if b := c.GetBodyMutation().GetBody(); b != nil {
			c.BodyMutation.Mutation = &extprocv3.BodyMutation_Body{Body: streamIDRE.ReplaceAll(withoutCreated(b), []byte(`"id":"-"`))}
		}
	}
	return r
}

var streamIDRE = regexp.MustCompile(`"id":"chatcmpl-switchboard-[a-z0-9]+"`)

func commonOf(r *extprocv3.ProcessingResponse) *extprocv3.CommonResponse {
	switch v := r.GetResponse().(type) {
	case *extprocv3.ProcessingResponse_RequestHeaders:
		return v.RequestHeaders.GetResponse()
	case *extprocv3.ProcessingResponse_RequestBody:
		return v.RequestBody.GetResponse()
	case *extprocv3.ProcessingResponse_ResponseHeaders:
		return v.ResponseHeaders.GetResponse()
	case *extprocv3.ProcessingResponse_ResponseBody:
		return v.ResponseBody.GetResponse()
	}
	return nil
}

// A direct stream whose first byte is overdue is answered at the hop's
// wake time, in process as over gRPC: the caller runs the timer.
func TestLocalWake(t *testing.T) {
	cfg := mustLoad(t, testYAML)
	cfg.Version = "v-direct"
	cfg.Routing.PerTryTimeout = config.Duration(200 * time.Millisecond)
	h := newHarness(t, cfg)
	l, err := h.srv.OpenLocal(context.Background(), xds.HopRouter, "v-direct")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !l.WakeAt().IsZero() {
		t.Fatal("a wake before any message")
	}
	for _, m := range []*extprocv3.ProcessingRequest{streamedHeaders(), chunk(chatBody("claude-sonnet", true), true)} {
		if _, done, err := l.Handle(m); err != nil || done {
			t.Fatalf("%T: done %v, err %v", m.GetRequest(), done, err)
		}
	}
	tr := readTranscript(t, "anthropic", "text_stream")
	out, _, err := l.Handle(responseHeaders(false, tr.headers...))
	if err != nil || len(out) != 0 {
		t.Fatalf("stream headers answered at once (%v, %v): they wait for the first byte", out, err)
	}
	at := l.WakeAt()
	if at.IsZero() || time.Until(at) > 300*time.Millisecond {
		t.Fatalf("wake at %v, want within the per-try timeout", time.Until(at))
	}
	time.Sleep(time.Until(at))
	r, done, err := l.Wake()
	if err != nil || !done {
		t.Fatalf("wake: done %v, err %v", done, err)
	}
	checkImmediate(t, r, 504, "upstream_timeout")
}

// A panic in a hop fails that request, not the process it runs in.
func TestLocalPanic(t *testing.T) {
	h := directHarness(t)
	l, err := h.srv.OpenLocal(context.Background(), xds.HopRouter, "v-direct")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.p = panicking{}
	if _, _, err := l.Handle(streamedHeaders()); err == nil {
		t.Fatal("a panic came back as no error")
	}
}

type panicking struct{ passThrough }

func (panicking) requestHeaders(context.Context, *extprocv3.HttpHeaders, *corev3.Metadata) *extprocv3.ProcessingResponse {
	panic("boom")
}
