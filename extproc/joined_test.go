package extproc

import (
	"strconv"
	"strings"
	"testing"
	"time"

	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/xds"
)

// streamedHeaders are request headers as Envoy sends them with a
// STREAMED request body that does not wait for the headers answer.
func streamedHeaders(extra ...string) *extprocv3.ProcessingRequest {
	r := postHeaders(extra...)
	r.ProtocolConfig = &extprocv3.ProtocolConfiguration{RequestBodyMode: filterv3.ProcessingMode_STREAMED,
		ResponseBodyMode: filterv3.ProcessingMode_STREAMED, SendBodyWithoutWaitingForHeaderResponse: true}
	return r
}

func chunk(b []byte, eos bool) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: b, EndOfStream: eos}}}
}

// sendAll sends messages without waiting for answers, as Envoy does.
func (s *envoyStream) sendAll(reqs ...*extprocv3.ProcessingRequest) {
	s.t.Helper()
	for _, r := range reqs {
		if err := s.stream.Send(r); err != nil {
			s.t.Fatalf("send %T: %v", r.GetRequest(), err)
		}
	}
}

// The headers answer waits for the body and carries what the body phase
// decided, and the body (CONTINUE_AND_REPLACE): no chunk gets an answer.
// A large body the hop leaves unchanged is not sent back: each chunk is
// answered as it came.
func TestJoinedRequest(t *testing.T) {
	large := []byte(`{"model":"claude-sonnet","messages":[{"role":"user","content":"` + strings.Repeat("a", quickBody) + `"}]}`)
	for _, tc := range []struct {
		name, version string
		body          []byte
		direct        bool
	}{
		{"direct", "v-direct", chatBody("claude-sonnet", false), true},
		{"two hops", "", chatBody("claude-sonnet", false), false},
		{"two hops, large", "", large, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := directHarness(t)
			router := h.openVersioned(t, tc.version)
			body := tc.body
			cut := len(body) / 2
			hs := streamedHeaders("content-length", strconv.Itoa(len(body)))
			router.sendAll(hs, chunk(body[:cut], false), chunk(body[cut:], false), chunk(nil, true))
			head := continued(t, router.recv(hs))
			m := readMutation(head.GetHeaderMutation())
			if m.set[xds.ModelHeader] != "claude-sonnet" || !head.GetClearRouteCache() {
				t.Fatalf("headers answer = %v, want the body phase's routing", head)
			}
			var out []byte
			if len(body) > quickBody {
				if head.GetStatus() == extprocv3.CommonResponse_CONTINUE_AND_REPLACE {
					t.Fatal("a large unchanged body was sent back")
				}
				for i := range 3 {
					c := router.recv(hs).GetRequestBody().GetResponse()
					if c == nil || c.GetBodyMutation() != nil || c.GetHeaderMutation() != nil {
						t.Fatalf("chunk %d answer = %v, want it unchanged", i, c)
					}
				}
				out = body
			} else {
				if head.GetStatus() != extprocv3.CommonResponse_CONTINUE_AND_REPLACE {
					t.Fatalf("status %v, want the body with the headers answer", head.GetStatus())
				}
				out = head.GetBodyMutation().GetBody()
			}
			if tc.direct {
				if m.set[":path"] != "/v1/messages" || gjson.GetBytes(out, "model").Str != "claude-sonnet-4-5-20250929" {
					t.Errorf("direct request: path %q, body %s", m.set[":path"], out)
				}
			} else if string(out) != string(body) {
				t.Errorf("body = %.200s, want the client's unchanged (%v)", out, head.GetBodyMutation())
			}
			router.close()
			// Nothing more comes: the chunks need no answer.
			if extra, err := router.stream.Recv(); err == nil {
				t.Errorf("unexpected answer after the request: %v", extra)
			}
			if err := h.waitEnded(t); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A body is complete at its content-length: a request with trailers
// gets no end-of-stream chunk while the headers answer is held.
func TestJoinedRequestAtLength(t *testing.T) {
	h := directHarness(t)
	router := h.openVersioned(t, "v-direct")
	body := chatBody("claude-sonnet", false)
	hs := streamedHeaders("content-length", strconv.Itoa(len(body)))
	router.sendAll(hs, chunk(body, false))
	head := continued(t, router.recv(hs))
	if head.GetStatus() != extprocv3.CommonResponse_CONTINUE_AND_REPLACE || readMutation(head.GetHeaderMutation()).set[":path"] != "/v1/messages" {
		t.Fatalf("headers answer = %v, want the translated request", head)
	}
	router.close()
	if err := h.waitEnded(t); err != nil {
		t.Fatal(err)
	}
}

// A body that is slow to come gets Envoy to wait for the headers answer
// as long as the listener waits for the request, so a slow upload ends
// in the listener's 408, not in an ext_proc timeout; then it is answered.
func TestJoinedSlowBody(t *testing.T) {
	defer func(d time.Duration) { bodyPatience = d }(bodyPatience)
	bodyPatience = 50 * time.Millisecond
	cfg := mustLoad(t, testYAML)
	h := newHarness(t, cfg)
	router := h.open(t, xds.HopRouter)
	body := chatBody("claude-sonnet", false)
	hs := streamedHeaders("content-length", strconv.Itoa(len(body)))
	router.sendAll(hs, chunk(body[:10], false))
	// Until BodyWait after the headers: the listener's own limit, and a
	// second more.
	if w, want := router.recv(hs).GetOverrideMessageTimeout().AsDuration(), xds.BodyWait(cfg.Timeouts.ClientRequest.D()); w > want || w < want-time.Second {
		t.Fatalf("Envoy asked to wait %v, want about %v", w, want)
	}
	router.sendAll(chunk(body[10:], true))
	if head := continued(t, router.recv(hs)); readMutation(head.GetHeaderMutation()).set[xds.ModelHeader] != "claude-sonnet" {
		t.Fatalf("headers answer = %v", head)
	}
	router.close()
	if err := h.waitEnded(t); err != nil {
		t.Fatal(err)
	}
}

// Refusals still come at once: at the headers when the headers decide,
// at the chunk that crosses limits.max_request_bytes (Envoy enforces no
// limit on a streamed body), with the body when the body decides. A
// large or unsized body gets Envoy to wait for the headers answer.
func TestJoinedRefusals(t *testing.T) {
	cfg := mustLoad(t, testYAML)
	cfg.Limits.MaxRequestBytes = 1000
	h := newHarness(t, cfg)
	t.Run("at the headers", func(t *testing.T) {
		router := h.open(t, xds.HopRouter)
		r := streamedHeaders()
		r.GetRequestHeaders().Headers.Headers[1].RawValue = []byte("/v1/nothing")
		checkImmediate(t, router.send(r), 404, "unknown_path")
		router.close()
		if err := h.waitEnded(t); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("over the limit", func(t *testing.T) {
		router := h.open(t, xds.HopRouter)
		hs := streamedHeaders()
		router.sendAll(hs, chunk(make([]byte, 600), false), chunk(make([]byte, 600), false))
		r := router.recv(hs).GetImmediateResponse()
		if r.GetStatus().GetCode() != 413 || r.GetDetails() != payloadTooLarge || decodeError(t, r.GetBody()).code() != "request_too_large" {
			t.Errorf("over the limit: %v", r)
		}
		router.close()
		if err := h.waitEnded(t); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("by its content-length", func(t *testing.T) {
		router := h.open(t, xds.HopRouter)
		r := router.send(streamedHeaders("content-length", "5000"))
		if ir := r.GetImmediateResponse(); ir.GetStatus().GetCode() != 413 || ir.GetDetails() != payloadTooLarge {
			t.Errorf("a body announced over the limit: %v, want 413 at the headers", r)
		}
		router.close()
		if err := h.waitEnded(t); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("by the body", func(t *testing.T) {
		router := h.open(t, xds.HopRouter)
		hs := streamedHeaders("content-length", "9")
		router.sendAll(hs, chunk([]byte(`{"model":`), false), chunk(nil, true))
		checkImmediate(t, router.recv(hs), 400, "invalid_json")
		router.close()
		if err := h.waitEnded(t); err != nil {
			t.Fatal(err)
		}
	})
}
