package translators

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// esEvent is one event stream message to encode in a test.
type esEvent struct {
	kind    string // event (default), exception or error
	typ     string // :event-type, :exception-type or :error-code
	payload string
	// extra headers, to exercise the decoder's skipping of other types.
	extra eventstream.Headers
}

// encodeEventStream encodes messages with the AWS SDK's encoder, so the
// framing and both CRCs are what AWS sends.
func encodeEventStream(tb testing.TB, events ...esEvent) []byte {
	tb.Helper()
	var buf bytes.Buffer
	enc := eventstream.NewEncoder()
	for _, ev := range events {
		var m eventstream.Message
		kind := ev.kind
		if kind == "" {
			kind = "event"
		}
		switch kind {
		case "event":
			m.Headers.Set(":event-type", eventstream.StringValue(ev.typ))
			m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
		case "exception":
			m.Headers.Set(":exception-type", eventstream.StringValue(ev.typ))
			m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
		case "error":
			m.Headers.Set(":error-code", eventstream.StringValue(ev.typ))
			m.Headers.Set(":error-message", eventstream.StringValue(ev.payload))
		}
		m.Headers.Set(":message-type", eventstream.StringValue(kind))
		m.Headers = append(m.Headers, ev.extra...)
		if kind != "error" {
			m.Payload = []byte(ev.payload)
		}
		if err := enc.Encode(&buf, m); err != nil {
			tb.Fatal(err)
		}
	}
	return buf.Bytes()
}

// esGot is a decoded message, copied out of the decoder's buffer.
type esGot struct{ messageType, eventType, exceptionType, errorCode, errorMessage, payload string }

func (m eventStreamMessage) copied() esGot {
	return esGot{string(m.messageType), string(m.eventType), string(m.exceptionType), string(m.errorCode), string(m.errorMessage), string(m.payload)}
}

// decodeEventStream feeds body in pieces and collects messages until the
// input runs out or the decoder fails.
func decodeEventStream(body []byte, next splitter) ([]esGot, bool, error) {
	var d eventStreamDecoder
	var got []esGot
	for len(body) > 0 {
		n := min(max(next(len(body)), 1), len(body))
		d.Write(body[:n])
		body = body[n:]
		for {
			m, ok, err := d.Next()
			if err != nil {
				return got, d.Pending(), err
			}
			if !ok {
				break
			}
			got = append(got, m.copied())
		}
	}
	return got, d.Pending(), nil
}

func TestEventStreamDecoder(t *testing.T) {
	two := encodeEventStream(t,
		esEvent{typ: "messageStart", payload: `{"p":"abc","role":"assistant"}`},
		esEvent{typ: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"text":"hi"}}`, extra: eventstream.Headers{
			{Name: "x-int", Value: eventstream.Int32Value(7)}, {Name: "x-bytes", Value: eventstream.BytesValue{1, 2, 3}},
			{Name: "x-bool", Value: eventstream.BoolValue(true)}, {Name: "x-uuid", Value: eventstream.UUIDValue{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
			{Name: "x-long", Value: eventstream.Int64Value(-1)}, {Name: "x-short", Value: eventstream.Int16Value(2)}, {Name: "x-byte", Value: eventstream.Int8Value(3)},
		}},
	)
	exc := encodeEventStream(t, esEvent{kind: "exception", typ: "throttlingException", payload: `{"message":"slow down"}`})
	errMsg := encodeEventStream(t, esEvent{kind: "error", typ: "InternalFailure", payload: "boom"})
	empty := encodeEventStream(t, esEvent{typ: "contentBlockStop"})
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 0x01; return b }
	huge := make([]byte, 12)
	binary.BigEndian.PutUint32(huge, maxEventStreamMessage+1)
	binary.BigEndian.PutUint32(huge[8:], crc32.ChecksumIEEE(huge[:8]))
	short := make([]byte, 12)
	binary.BigEndian.PutUint32(short, 20)
	binary.BigEndian.PutUint32(short[4:], 10)
	binary.BigEndian.PutUint32(short[8:], crc32.ChecksumIEEE(short[:8]))
	badType := []byte{0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1, 'x', 42, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(badType, uint32(len(badType)))
	binary.BigEndian.PutUint32(badType[8:], crc32.ChecksumIEEE(badType[:8]))
	binary.BigEndian.PutUint32(badType[len(badType)-4:], crc32.ChecksumIEEE(badType[:len(badType)-4]))

	tests := []struct {
		name        string
		in          []byte
		want        []esGot
		wantPending bool
		wantErr     string
	}{
		{name: "two events and other header types", in: two, want: []esGot{
			{messageType: "event", eventType: "messageStart", payload: `{"p":"abc","role":"assistant"}`},
			{messageType: "event", eventType: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"text":"hi"}}`},
		}},
		{name: "exception", in: exc, want: []esGot{{messageType: "exception", exceptionType: "throttlingException", payload: `{"message":"slow down"}`}}},
		{name: "error", in: errMsg, want: []esGot{{messageType: "error", errorCode: "InternalFailure", errorMessage: "boom"}}},
		{name: "empty payload", in: empty, want: []esGot{{messageType: "event", eventType: "contentBlockStop"}}},
		{name: "incomplete message waits", in: two[:len(two)-5], want: []esGot{{messageType: "event", eventType: "messageStart", payload: `{"p":"abc","role":"assistant"}`}}, wantPending: true},
		{name: "prelude CRC", in: flip(two, 10), wantErr: "eventstream: prelude CRC mismatch", wantPending: true},
		{name: "corrupt length", in: flip(two, 3), wantErr: "eventstream: prelude CRC mismatch", wantPending: true},
		{name: "message CRC", in: flip(two, 20), wantErr: "eventstream: message CRC mismatch", wantPending: true},
		{name: "last byte", in: flip(exc, len(exc)-1), wantErr: "eventstream: message CRC mismatch", wantPending: true},
		{name: "over the size limit", in: huge, wantErr: "eventstream: message exceeds size limit", wantPending: true},
		{name: "headers longer than the message", in: short, wantErr: "eventstream: message length 20 cannot hold 10 bytes of headers", wantPending: true},
		{name: "unknown header type", in: badType, wantErr: "eventstream: unknown header value type 42", wantPending: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, sp := range append([]struct {
				name string
				next func() splitter
			}{{"whole", func() splitter { return whole }}}, streamSplits...) {
				got, pending, err := decodeEventStream(tc.in, sp.next())
				if (err == nil) != (tc.wantErr == "") || (err != nil && err.Error() != tc.wantErr) {
					t.Fatalf("%s: error %v, want %q", sp.name, err, tc.wantErr)
				}
				if pending != tc.wantPending {
					t.Errorf("%s: pending %v, want %v", sp.name, pending, tc.wantPending)
				}
				if len(got) != len(tc.want) {
					t.Fatalf("%s: got %+v, want %+v", sp.name, got, tc.want)
				}
				for i := range got {
					if got[i] != tc.want[i] {
						t.Errorf("%s: message %d = %+v, want %+v", sp.name, i, got[i], tc.want[i])
					}
				}
			}
		})
	}
}

// TestEventStreamDecoderErrorsStick checks that a corrupt stream stays
// failed rather than resynchronising on garbage.
func TestEventStreamDecoderErrorsStick(t *testing.T) {
	body := encodeEventStream(t, esEvent{typ: "messageStart", payload: `{}`})
	body[len(body)-1] ^= 0xff
	var d eventStreamDecoder
	d.Write(body)
	for i := 0; i < 2; i++ {
		if _, _, err := d.Next(); !errors.Is(err, ErrEventStreamMessageCRC) {
			t.Fatalf("call %d: error %v, want %v", i, err, ErrEventStreamMessageCRC)
		}
	}
}

// TestEventStreamDecoderMemory checks consumed messages are dropped, so a
// long stream holds one message at a time.
func TestEventStreamDecoderMemory(t *testing.T) {
	msg := encodeEventStream(t, esEvent{typ: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"text":"` + strings.Repeat("x", 1000) + `"}}`})
	var d eventStreamDecoder
	for i := 0; i < 1000; i++ {
		d.Write(msg)
		if _, ok, err := d.Next(); !ok || err != nil {
			t.Fatalf("message %d: ok %v err %v", i, ok, err)
		}
	}
	if c := cap(d.buf); c > 4*len(msg) {
		t.Errorf("buffer grew to %d bytes for %d-byte messages", c, len(msg))
	}
}

// sdkDecode decodes with the AWS SDK's decoder, message by message, until
// it fails or the input runs out.
func sdkDecode(body []byte) []esGot {
	dec := eventstream.NewDecoder()
	r := bytes.NewReader(body)
	var got []esGot
	for r.Len() > 0 {
		m, err := dec.Decode(r, nil)
		if err != nil {
			return got
		}
		str := func(name string) string {
			if v, ok := m.Headers.Get(name).(eventstream.StringValue); ok {
				return string(v)
			}
			return ""
		}
		got = append(got, esGot{str(":message-type"), str(":event-type"), str(":exception-type"), str(":error-code"), str(":error-message"), string(m.Payload)})
	}
	return got
}

// FuzzEventStreamDecoder checks the decoder against the AWS SDK's on any
// input, fed in any split: the same messages, in the same order.
func FuzzEventStreamDecoder(f *testing.F) {
	for _, b := range transcriptBodies(f, "bedrock") {
		f.Add(b, uint64(1))
	}
	f.Add(encodeEventStream(f, esEvent{kind: "error", typ: "E", payload: "m"}), uint64(2))
	f.Fuzz(func(t *testing.T, body []byte, seed uint64) {
		want := sdkDecode(body)
		got, _, _ := decodeEventStream(body, randomSplits(seed, 64))
		if len(got) != len(want) {
			t.Fatalf("decoded %d messages, the SDK %d:\n%+v\n%+v", len(got), len(want), got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("message %d = %+v, the SDK gives %+v", i, got[i], want[i])
			}
		}
	})
}

// BenchmarkEventStreamDecode measures one message through the decoder;
// BenchmarkEventStreamDecodeSDK the same through the AWS SDK's decoder.
func BenchmarkEventStreamDecode(b *testing.B) {
	msg := encodeEventStream(b, esEvent{typ: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"text":" flow through—one door, many rivers met,"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"}`})
	var d eventStreamDecoder
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		d.Write(msg)
		if _, ok, err := d.Next(); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkEventStreamDecodeSDK(b *testing.B) {
	msg := encodeEventStream(b, esEvent{typ: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"text":" flow through—one door, many rivers met,"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"}`})
	dec := eventstream.NewDecoder()
	var r bytes.Reader
	payload := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		r.Reset(msg)
		if _, err := dec.Decode(&r, payload); err != nil && err != io.EOF {
			b.Fatal(err)
		}
	}
}
