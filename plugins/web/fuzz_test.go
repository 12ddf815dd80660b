package web

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/middleware"
)

// FuzzCitationStream feeds the annotation transformer arbitrary streams
// (seeded from the golden transcripts) split into events at blank lines.
// It must never panic, must pass every event it cannot read, must keep
// valid JSON valid, and must annotate each choice at most once.
func FuzzCitationStream(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(goldenDir, "*", "stream.in.sse"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("data: {\"choices\":[{\"index\":99,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"))
	f.Add([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"[a](\"},\"finish_reason\":\"stop\"},{\"index\":0,\"finish_reason\":\"stop\"}]}\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		s := (&Citations{Results: goResults}).NewStream()
		var out [][]byte
		emit := func(c []byte) { out = append(out, append([]byte(nil), c...)) }
		var inputs int
		for ev := range bytes.SplitSeq(in, []byte("\n\n")) {
			data, ok := bytes.CutPrefix(bytes.TrimSpace(ev), []byte("data: "))
			if !ok || len(data) == 0 {
				continue
			}
			inputs++
			before := len(out)
			s.Chunk(data, emit)
			if len(out) != before+1 {
				t.Fatalf("chunk %q emitted %d chunks", data, len(out)-before)
			}
			if json.Valid(data) && !json.Valid(out[len(out)-1]) {
				t.Fatalf("valid chunk %q became invalid %q", data, out[len(out)-1])
			}
		}
		s.Finish(emit)
		if len(out) > inputs+1 {
			t.Fatalf("finish emitted %d chunks", len(out)-inputs)
		}
		annotated := map[int64]int{}
		for _, c := range out {
			gjson.GetBytes(c, "choices").ForEach(func(_, ch gjson.Result) bool {
				if ch.Get("delta.annotations").IsArray() {
					annotated[ch.Get("index").Int()]++
				}
				return true
			})
		}
		for idx, n := range annotated {
			if n > 1 && idx >= 0 && idx < maxChoices && !bytes.Contains(in, []byte("annotations")) {
				t.Fatalf("choice %d annotated %d times", idx, n)
			}
		}
	})
}

var _ middleware.StreamTransformer = (*citeStream)(nil)
