package xds

import (
	"context"
	"net"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
)

// TestKeepaliveAdmitsEnvoyPings: the ADS server takes pings at the
// policy's rate from a connection, as Envoy sends them (every 30 s in the
// bootstrap). gRPC's default policy answered the third with GOAWAY "too
// many pings", and Envoy's stream was cut about every 131 s. It takes
// ~31 s: pings must be MinTime apart.
func TestKeepaliveAdmitsEnvoyPings(t *testing.T) {
	t.Parallel() // its 31 s overlap the package's other tests
	tmpl, err := os.ReadFile("../envoy/bootstrap.yaml.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`connection_keepalive: \{interval: (\d+)s`).FindSubmatch(tmpl)
	if m == nil {
		t.Fatal("no connection_keepalive interval in the bootstrap")
	}
	interval, _ := time.ParseDuration(string(m[1]) + "s")
	if KeepalivePolicy.MinTime >= interval || !KeepalivePolicy.PermitWithoutStream {
		t.Fatalf("policy %+v does not admit Envoy's pings every %v", KeepalivePolicy, interval)
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(ServerOptions()...)
	NewServer(context.Background(), zap.NewNop()).Register(g)
	go func() { _ = g.Serve(lis) }()
	defer g.Stop()
	conn, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	var wmu sync.Mutex // a Framer writes one frame at a time
	write := func(f func() error) error {
		wmu.Lock()
		defer wmu.Unlock()
		return f()
	}
	if err := write(func() error { return fr.WriteSettings() }); err != nil {
		t.Fatal(err)
	}
	goaway := make(chan string, 1)
	go func() {
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					_ = write(fr.WriteSettingsAck)
				}
			case *http2.GoAwayFrame:
				goaway <- f.ErrCode.String() + " " + string(f.DebugData())
				return
			}
		}
	}()
	gap := KeepalivePolicy.MinTime + 100*time.Millisecond
	for i := range 4 {
		if i > 0 {
			select {
			case why := <-goaway:
				t.Fatalf("server sent GOAWAY (%s) after %d pings %v apart", why, i, gap)
			case <-time.After(gap):
			}
		}
		if err := write(func() error { return fr.WritePing(false, [8]byte{byte(i)}) }); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case why := <-goaway:
		t.Fatalf("server sent GOAWAY (%s) after 4 pings %v apart", why, gap)
	case <-time.After(time.Second):
	}
}
