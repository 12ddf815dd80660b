package translators

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

type sseWant struct{ event, data string }

// decodeAll feeds pieces to a decoder and collects every event, copied.
func decodeAll(tb testing.TB, pieces ...[]byte) []sseWant {
	tb.Helper()
	var d SSEDecoder
	var got []sseWant
	for _, p := range pieces {
		if err := d.Write(p); err != nil {
			tb.Fatalf("Write: %v", err)
		}
		for {
			ev, ok := d.Next()
			if !ok {
				break
			}
			got = append(got, sseWant{string(ev.Event), string(ev.Data)})
		}
	}
	return got
}

func equalEvents(a, b []sseWant) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSSEDecoder(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		want        []sseWant
		wantPending bool
	}{
		{
			name: "named events",
			in:   "event: message_start\ndata: {\"a\":1}\n\nevent: ping\ndata: {}\n\n",
			want: []sseWant{{"message_start", `{"a":1}`}, {"ping", "{}"}},
		},
		{
			name: "CRLF",
			in:   "event: a\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n",
			want: []sseWant{{"a", "1"}, {"", "2"}},
		},
		{
			name: "mixed line endings",
			in:   "data: 1\r\n\ndata: 2\n\r\n",
			want: []sseWant{{"", "1"}, {"", "2"}},
		},
		{
			name: "comments and keep-alives",
			in:   ": keep-alive\n\n:comment\ndata: x\n: inside\n\n",
			want: []sseWant{{"", "x"}},
		},
		{
			name: "multi-line data",
			in:   "data: {\"a\":\ndata: 1}\ndata:\n\n",
			want: []sseWant{{"", "{\"a\":\n1}\n"}},
		},
		{
			name: "no space after colon, other fields ignored",
			in:   "id: 7\nretry: 1000\nevent:x\ndata:y\n\n",
			want: []sseWant{{"x", "y"}},
		},
		{
			name: "empty data field",
			in:   "data\n\ndata:\n\n",
			want: []sseWant{{"", ""}, {"", ""}},
		},
		{
			name: "event without data is skipped",
			in:   "event: lonely\n\ndata: [DONE]\n\n",
			want: []sseWant{{"", "[DONE]"}},
		},
		{
			name:        "unfinished event stays pending",
			in:          "data: 1\n\ndata: 2\n",
			want:        []sseWant{{"", "1"}},
			wantPending: true,
		},
		{
			name: "trailing blank lines are not pending",
			in:   "data: 1\n\n\n\n",
			want: []sseWant{{"", "1"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			if got := decodeAll(t, in); !equalEvents(got, tc.want) {
				t.Fatalf("one write: got %q, want %q", got, tc.want)
			}
			for i := 0; i <= len(in); i++ {
				if got := decodeAll(t, in[:i], in[i:]); !equalEvents(got, tc.want) {
					t.Fatalf("split at %d: got %q, want %q", i, got, tc.want)
				}
			}
			var d SSEDecoder
			var got []sseWant
			for i := range in {
				if err := d.Write(in[i : i+1]); err != nil {
					t.Fatal(err)
				}
				for ev, ok := d.Next(); ok; ev, ok = d.Next() {
					got = append(got, sseWant{string(ev.Event), string(ev.Data)})
				}
			}
			if !equalEvents(got, tc.want) {
				t.Fatalf("byte by byte: got %q, want %q", got, tc.want)
			}
			if d.Pending() != tc.wantPending {
				t.Errorf("Pending() = %v, want %v", d.Pending(), tc.wantPending)
			}
		})
	}
}

func TestSSEDecoderSize(t *testing.T) {
	tests := []struct {
		name    string
		pieces  []string
		wantErr error
	}{
		{"event over the limit", []string{"data: " + strings.Repeat("x", maxEventBytes)}, ErrEventTooLarge},
		{"event grows over the limit", []string{"data: ", strings.Repeat("x", maxEventBytes/2), strings.Repeat("y", maxEventBytes/2)}, ErrEventTooLarge},
		{"many small events in one big write", []string{strings.Repeat("data: 0123456789abcdef\n\n", maxEventBytes/16)}, nil},
		{"large event under the limit", []string{"data: " + strings.Repeat("x", maxEventBytes-16) + "\n\n"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d SSEDecoder
			var err error
			for _, p := range tc.pieces {
				if err = d.Write([]byte(p)); err != nil {
					break
				}
				for _, ok := d.Next(); ok; _, ok = d.Next() {
				}
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestSSEDecoderLinear guards against rescanning the pending event on each
// write: a 1 MiB event fed byte by byte must not take quadratic time.
func TestSSEDecoderLinear(t *testing.T) {
	var d SSEDecoder
	ev := []byte("data: " + strings.Repeat("x", 1<<20) + "\n\n")
	n := 0
	for i := range ev {
		if err := d.Write(ev[i : i+1]); err != nil {
			t.Fatal(err)
		}
		for e, ok := d.Next(); ok; e, ok = d.Next() {
			n += len(e.Data)
		}
	}
	if n != 1<<20 {
		t.Fatalf("decoded %d data bytes, want %d", n, 1<<20)
	}
}

func FuzzSSEDecoder(f *testing.F) {
	for i, b := range transcriptBodies(f, "anthropic") {
		f.Add(b, uint64(i))
	}
	for i, b := range transcriptBodies(f, "openai") {
		f.Add(b, uint64(100+i))
	}
	f.Add([]byte("data: 1\r\n\r\n:c\n\ndata\n\n\n\r\n"), uint64(5))
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		want := decodeAll(t, in)
		var pieces [][]byte
		next := randomSplits(seed, 16)
		for rest := in; len(rest) > 0; {
			n := min(next(len(rest)), len(rest))
			pieces, rest = append(pieces, bytes.Clone(rest[:n])), rest[n:]
		}
		if got := decodeAll(t, pieces...); !equalEvents(got, want) {
			t.Fatalf("split decode %q, one write %q", got, want)
		}
	})
}
