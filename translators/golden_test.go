package translators

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const testdata = "../testdata"

// transcript is one recorded provider response (testdata/transcripts).
type transcript struct {
	status int
	header http.Header
	body   []byte
}

// readTranscript parses testdata/transcripts/<provider>/<name>.http, a raw
// HTTP/1.1 response whose body runs to the end of the file.
func readTranscript(tb testing.TB, provider, name string) transcript {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(testdata, "transcripts", provider, name+".http"))
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		tb.Fatalf("%s/%s: %v", provider, name, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s/%s: %v", provider, name, err)
	}
	return transcript{status: resp.StatusCode, header: resp.Header, body: body}
}

// transcriptBodies returns the bodies of all of a provider's transcripts,
// the seeds of the fuzz targets.
func transcriptBodies(tb testing.TB, provider string) [][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(testdata, "transcripts", provider, "*.http"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no %s transcripts: %v", provider, err)
	}
	var out [][]byte
	for _, p := range paths {
		out = append(out, readTranscript(tb, provider, strings.TrimSuffix(filepath.Base(p), ".http")).body)
	}
	return out
}

// checkGolden compares got with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

var (
	createdRe = regexp.MustCompile(`"created":\d+`)
	genIDRe   = regexp.MustCompile(`chatcmpl-switchboard-[0-9a-z]+`)
)

// normalize blanks what the translators take from the clock.
func normalize(b []byte) []byte {
	b = createdRe.ReplaceAll(b, []byte(`"created":0`))
	return genIDRe.ReplaceAll(b, []byte("chatcmpl-switchboard-test"))
}

// prettyJSON indents a JSON body for readable, stable golden diffs.
func prettyJSON(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		tb.Fatalf("not JSON: %v\n%s", err, b)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// splitter returns the size of the next piece fed to a stream translator.
type splitter func(rest int) int

func whole(rest int) int { return rest }

func byteByByte(int) int { return 1 }

// randomSplits feeds pieces of 1..max bytes, reproducibly for a seed.
func randomSplits(seed uint64, max int) splitter {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func(int) int { return 1 + r.IntN(max) }
}

// runStream feeds body to a new stream in pieces and finishes it. Each
// piece is copied to a buffer that is scribbled over afterwards, so a
// translator that keeps a reference to its input fails the comparison.
func runStream(tr Translator, opts StreamOptions, body []byte, next splitter) ([]byte, Usage) {
	st := tr.NewStream(opts)
	var out, piece []byte
	for len(body) > 0 {
		n := min(max(next(len(body)), 1), len(body))
		piece = append(piece[:0], body[:n]...)
		out = st.Translate(out, piece)
		for i := range piece {
			piece[i] = 'X'
		}
		body = body[n:]
	}
	return st.Finish(out), st.Usage()
}

// streamSplits are the ways every stream golden is fed; all must give the
// same output.
var streamSplits = []struct {
	name string
	next func() splitter
}{
	{"byte by byte", func() splitter { return byteByByte }},
	{"random seed 1", func() splitter { return randomSplits(1, 16) }},
	{"random seed 2", func() splitter { return randomSplits(2, 64) }},
	{"random seed 3", func() splitter { return randomSplits(3, 7) }},
}

// checkSSE asserts the client stream is well formed: data events of one
// line each, every payload JSON, and exactly one final data: [DONE].
func checkSSE(tb testing.TB, out []byte) {
	tb.Helper()
	if !bytes.HasSuffix(out, sseDone) {
		tb.Fatalf("stream does not end with data: [DONE]:\n%q", out)
	}
	if n := bytes.Count(out, sseDone); n != 1 {
		tb.Fatalf("stream has %d [DONE] events:\n%q", n, out)
	}
	events := bytes.Split(bytes.TrimSuffix(out, []byte("\n\n")), []byte("\n\n"))
	for _, ev := range events[:len(events)-1] {
		data, ok := bytes.CutPrefix(ev, []byte("data: "))
		if !ok || bytes.ContainsAny(data, "\r\n") {
			tb.Fatalf("malformed event %q in\n%q", ev, out)
		}
		if !gjson.ValidBytes(data) || !gjson.ParseBytes(data).IsObject() {
			tb.Fatalf("event payload is not a JSON object: %q", data)
		}
	}
}

// streamErrorOf returns the error object of the stream's error chunk, if any.
func streamErrorOf(out []byte) gjson.Result {
	for _, ev := range bytes.Split(out, []byte("\n\n")) {
		data, _ := bytes.CutPrefix(ev, []byte("data: "))
		if e := gjson.GetBytes(data, "error"); e.Exists() {
			return e
		}
	}
	return gjson.Result{}
}

// checkStreamGolden runs body through every split, checks they agree and
// are well formed, and compares with the golden file.
func checkStreamGolden(t *testing.T, tr Translator, opts StreamOptions, body []byte, golden string) ([]byte, Usage) {
	t.Helper()
	out, usage := runStream(tr, opts, body, whole)
	out = normalize(out)
	checkSSE(t, out)
	for _, sp := range streamSplits {
		got, gotUsage := runStream(tr, opts, body, sp.next())
		if got = normalize(got); !bytes.Equal(got, out) {
			t.Fatalf("fed %s, output differs from one write:\n--- split\n%s\n--- whole\n%s", sp.name, got, out)
		}
		if gotUsage != usage {
			t.Fatalf("fed %s, usage %+v, one write gave %+v", sp.name, gotUsage, usage)
		}
	}
	checkGolden(t, golden, out)
	return out, usage
}

// goldenCases lists the <case>.in.json files of a golden directory.
func goldenCases(tb testing.TB, dir string) []string {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(testdata, dir, "*.in.json"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no golden cases in %s: %v", dir, err)
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = strings.TrimSuffix(filepath.Base(p), ".in.json")
	}
	return names
}

// streamFinishReason returns the last finish_reason of a client stream.
func streamFinishReason(out []byte) string {
	finish := ""
	for _, ev := range bytes.Split(out, []byte("\n\n")) {
		data, _ := bytes.CutPrefix(ev, []byte("data: "))
		if f := gjson.GetBytes(data, "choices.0.finish_reason").Str; f != "" {
			finish = f
		}
	}
	return finish
}

// goldenIn reads a golden request input, testdata/<dir>/<name>.in.json.
func goldenIn(tb testing.TB, dir, name string) []byte {
	tb.Helper()
	in, err := os.ReadFile(filepath.Join(testdata, dir, name+".in.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return in
}

// translateGolden translates a recorded answer whole and checks what every
// schema promises: the input is left untouched, the usage is the one
// expected, and the body's total_tokens agrees with it. It returns the
// OpenAI answer for the caller's own checks and golden file.
func translateGolden(t *testing.T, tr Translator, provider, name string, want Usage) []byte {
	t.Helper()
	body := readTranscript(t, provider, name).body
	orig := bytes.Clone(body)
	out, usage, err := tr.Response(body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, orig) {
		t.Fatal("Response modified its input")
	}
	if usage != want {
		t.Errorf("usage %+v, want %+v", usage, want)
	}
	if got := gjson.GetBytes(out, "usage.total_tokens").Int(); got != want.Total() {
		t.Errorf("body total_tokens %d, want %d", got, want.Total())
	}
	return out
}
