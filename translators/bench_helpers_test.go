package translators

import "testing"

// benchRequest measures one request rewrite of in for target.
func benchRequest(b *testing.B, tr Translator, in []byte, target Target) {
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := tr.Request(in, target); err != nil {
			b.Fatal(err)
		}
	}
}

// benchResponse measures one whole-answer translation of a transcript.
func benchResponse(b *testing.B, tr Translator, provider, transcript string) {
	body := readTranscript(b, provider, transcript).body
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, _, err := tr.Response(body); err != nil {
			b.Fatal(err)
		}
	}
}
