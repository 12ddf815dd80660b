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
	t.Run("slow provider is not the client's fault", func(t *testing.T) {
		resp, body := gw.post(t, "/v1/chat/completions", chatBody("first", ""))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})
}
