package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// slowClientTimeouts are short client timeouts for these tests.
const slowClientTimeouts = `timeouts:
  connect: 2s
  request: 60s
  idle: 30s
  client_headers: 1s
  client_request: 2s
`

// trickle writes a request's head, then the rest of it a little at a
// time, and returns when Envoy answers or closes the connection: the
// status it answered (0 for a close without one) and how long that took.
func trickle(t *testing.T, gw *gateway, head, drip string) (int, time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", gw.port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := c.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if _, err := c.Write([]byte(drip)); err != nil {
					return
				}
			}
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	took := time.Since(start)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("Envoy still waiting after %v: the slow client was not cut", took)
		}
		return 0, took
	}
	resp.Body.Close()
	return resp.StatusCode, took
}

// A client that sends its headers, then trickles a body that never
// completes, is cut at timeouts.client_request; one that trickles its
// headers, at timeouts.client_headers. Each would otherwise hold Envoy's
// memory for as long as it likes.
func TestSlowClientsAreCut(t *testing.T) {
	up := fakeprovider.New(t)
	// The provider takes longer than client_request to answer: the
	// answer's time does not count against the client.
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat")), DelayFirstByte: 3 * time.Second})
	gw := startGateway(t, slowClientTimeouts+fmt.Sprintf(demoModels, up.URL()))

	t.Run("body trickled", func(t *testing.T) {
		head := "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 26214400\r\n\r\n" +
			`{"model":"first","messages":[{"role":"user","content":"`
		status, took := trickle(t, gw, head, strings.Repeat("a", 1024))
		t.Logf("status %d after %v", status, took)
		if status != http.StatusRequestTimeout && status != 0 {
			t.Errorf("status %d, want 408 or the connection closed", status)
		}
		if took < 1500*time.Millisecond || took > 4*time.Second {
			t.Errorf("cut after %v, want about timeouts.client_request (2s)", took)
		}
	})
	t.Run("headers trickled", func(t *testing.T) {
		status, took := trickle(t, gw, "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n", "x-pad: 1\r\n")
		t.Logf("status %d after %v", status, took)
		if status != http.StatusRequestTimeout && status != 0 {
			t.Errorf("status %d, want 408 or the connection closed", status)
		}
		if took < 700*time.Millisecond || took > 3*time.Second {
			t.Errorf("cut after %v, want about timeouts.client_headers (1s)", took)
		}
	})
	// The router hop answers a request's headers once the body is in
	// (extproc/joined.go): a body that comes late, or in pieces, is
	// served; one whose end Envoy never marks is cut like a slow one.
	body := `{"model":"first","messages":[{"role":"user","content":"hi"}]}`
	t.Run("body in pieces", func(t *testing.T) {
		head := fmt.Sprintf("POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
		if status, took := rawRequest(t, gw, head+body[:10], body[10:30], body[30:]); status != 200 {
			t.Errorf("status %d after %v, want 200", status, took)
		}
	})
	t.Run("HTTP/1.1 chunked body with trailers", func(t *testing.T) {
		// Envoy drops HTTP/1.1 trailers (enable_trailers is off): the
		// body ends as any chunked body does.
		head := "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nTrailer: x-t\r\n\r\n"
		if status, took := rawRequest(t, gw, head+fmt.Sprintf("%x\r\n%s\r\n0\r\nx-t: 1\r\n\r\n", len(body), body)); status != 200 {
			t.Errorf("status %d after %v, want 200", status, took)
		}
	})
	h2c := func(sized bool) (int, time.Duration) {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		c := &http.Client{Transport: &http.Transport{Protocols: &p}}
		req, err := http.NewRequestWithContext(ctxT(t), "POST", gw.url("/v1/chat/completions"), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if !sized {
			req.ContentLength = -1
		}
		req.Header.Set("content-type", "application/json")
		req.Trailer = http.Header{"X-T": {"1"}}
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	t.Run("HTTP/2 body with trailers and a content-length", func(t *testing.T) {
		if status, took := h2c(true); status != 200 {
			t.Errorf("status %d after %v, want 200: the body is complete at its length", status, took)
		}
	})
	t.Run("HTTP/2 body with trailers and no content-length", func(t *testing.T) {
		// Envoy holds the trailers while the router hop holds the
		// headers answer, so the body's end never comes: cut as a body
		// that never finishes.
		if status, took := h2c(false); status != http.StatusRequestTimeout || took < 1500*time.Millisecond || took > 4*time.Second {
			t.Errorf("status %d after %v, want 408 at about timeouts.client_request (2s)", status, took)
		}
	})
	t.Run("slow provider is not the client's fault", func(t *testing.T) {
		resp, body := gw.post(t, "/v1/chat/completions", chatBody("first", ""))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})
}

// rawRequest writes a request in parts, 100 ms apart, and returns the
// status Envoy answered (0 for a close without one) and how long it took.
func rawRequest(t *testing.T, gw *gateway, parts ...string) (int, time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", gw.port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	for i, p := range parts {
		if i > 0 {
			time.Sleep(100 * time.Millisecond)
		}
		if _, err := c.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, time.Since(start)
	}
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}
