package testservers

import (
	"net"
	"strconv"
	"testing"
)

// Ports come from below the ephemeral range, free, and never twice.
func TestFreePort(t *testing.T) {
	low := ephemeralLow()
	seen := map[int]bool{}
	for range 200 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if p < firstPort || p >= low {
			t.Fatalf("port %d is outside %d-%d: an outgoing connection may take it first", p, firstPort, low-1)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		l.Close()
	}
}
