package testservers

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// FreePort is a loopback port nothing listens on, for a server a test
// starts. It is below the kernel's ephemeral range: a port from there
// (what listening on :0 gives) can be taken as the source port of any
// outgoing connection before the server binds it, which CI saw as an
// Envoy failing to start with "Address already in use". Ports are drawn
// at random, so test processes running side by side rarely draw the
// same, and never handed out twice in one process.
func FreePort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	low := ephemeralLow()
	for range 1000 {
		p := firstPort + rand.IntN(low-firstPort)
		if portsGiven[p] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		portsGiven[p] = true
		return p, nil
	}
	return 0, fmt.Errorf("no free port in %d-%d after 1000 tries", firstPort, low-1)
}

// firstPort is the bottom of the range FreePort draws from: above the
// registered ports most services use.
const firstPort = 10000

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// ephemeralLow is the first port of the kernel's ephemeral range
// (Linux's default when it cannot be read).
func ephemeralLow() int {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > firstPort+1000 {
				low = n
			}
		}
	}
	return low
}
