package web

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/middleware"
	"github.com/switchboard-gw/switchboard/translators"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var goldenDir = filepath.Join("..", "..", "testdata", "plugins", "web", "golden")

var fixedNow = func() time.Time { return time.Date(2026, 12, 14, 9, 30, 0, 0, time.UTC) }

// goldenRun starts the chain with the web plugin on a stub backend.
func goldenRun(t *testing.T, request []byte) *middleware.Run {
	t.Helper()
	p, err := New(Config{Backends: []Backend{&stubBackend{name: "searxng", results: goResults}}, Now: fixedNow, CostPerResult: 0.004})
	if err != nil {
		t.Fatal(err)
	}
	c, err := middleware.NewChain(p)
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.Begin(context.Background(), middleware.Request{Body: request})
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(goldenDir, "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases in %s: %v", goldenDir, err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			run := goldenRun(t, read(t, dir, "request.in.json"))
			compare(t, dir, "request.out.json", indent(t, run.Body))
			if in, ok := readOpt(t, dir, "answer.in.json"); ok {
				out, err := run.Answer(in)
				if err != nil {
					t.Fatal(err)
				}
				out = middleware.ApplyUsage(out, run.Usage)
				compare(t, dir, "answer.out.json", indent(t, out))
			}
			if in, ok := readOpt(t, dir, "stream.in.sse"); ok {
				whole := streamThrough(run, [][]byte{in})
				compare(t, dir, "stream.out.sse", whole)
				var bytewise [][]byte
				for i := range in {
					bytewise = append(bytewise, in[i:i+1])
				}
				if got := streamThrough(run, bytewise); !bytes.Equal(got, whole) {
					t.Errorf("byte by byte differs from whole:\n%s", got)
				}
				r := rand.New(rand.NewPCG(1, 2))
				for range 20 {
					if got := streamThrough(run, randomSplit(r, in)); !bytes.Equal(got, whole) {
						t.Fatalf("random split differs from whole:\n%s", got)
					}
				}
			}
		})
	}
}

// passThrough is an upstream translator whose input is already OpenAI
// chat SSE.
type passThrough struct{}

func (passThrough) Translate(dst, chunk []byte) []byte { return append(dst, chunk...) }
func (passThrough) Finish(dst []byte) []byte           { return dst }
func (passThrough) Usage() translators.Usage           { return translators.Usage{} }

func streamThrough(run *middleware.Run, parts [][]byte) []byte {
	s := middleware.WrapStream(passThrough{}, run.Transformer())
	var out []byte
	for _, p := range parts {
		out = s.Translate(out, p)
	}
	return s.Finish(out)
}

func randomSplit(r *rand.Rand, b []byte) [][]byte {
	var parts [][]byte
	for len(b) > 0 {
		n := min(len(b), 1+r.IntN(40))
		parts, b = append(parts, b[:n]), b[n:]
	}
	return parts
}

func read(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readOpt(t *testing.T, dir, name string) ([]byte, bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if os.IsNotExist(err) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return b, true
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return append(buf.Bytes(), '\n')
}

func compare(t *testing.T, dir, name string, got []byte) {
	t.Helper()
	path := filepath.Join(dir, name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}
