package fileparser

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// TestExtractPDFMutations feeds byte-flipped copies of real PDFs to the
// extractor: every one must answer, fast, with text within the limits or
// a *pdfError — never a panic, a hang or another error type.
func TestExtractPDFMutations(t *testing.T) {
	seeds := [][]byte{textPDF(t, "seed text", "second"), cyclicPDF(), protectedPDF(t, "pw"), drawingPDF(t)}
	r := rand.New(rand.NewPCG(3, 4))
	lim := Limits{MaxPages: 5, MaxContentBytes: 1 << 16, MaxTextBytes: 1 << 12}
	for i := range 600 {
		d := append([]byte(nil), seeds[i%len(seeds)]...)
		for range 1 + r.IntN(4) {
			d[r.IntN(len(d))] = byte(r.IntN(256))
		}
		type answer struct {
			ext Extracted
			err error
		}
		done := make(chan answer, 1)
		go func() {
			ext, err := ExtractPDF(context.Background(), d, lim)
			done <- answer{ext, err}
		}()
		select {
		case a := <-done:
			var pe *pdfError
			if a.err != nil && !errors.As(a.err, &pe) {
				t.Fatalf("mutation %d: error of type %T: %v", i, a.err, a.err)
			}
			if a.ext.Pages > lim.MaxPages || len(a.ext.Text) > lim.MaxTextBytes {
				t.Fatalf("mutation %d: limits not kept", i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("mutation %d did not finish in 5s", i)
		}
	}
}
