package translators

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strconv"
)

// AWS event stream framing (application/vnd.amazon.eventstream), as Bedrock's
// ConverseStream sends it. One message is:
//
//	total length   uint32 (big endian, the whole message including both CRCs)
//	headers length uint32
//	prelude CRC    uint32 (CRC32-IEEE of the 8 bytes above)
//	headers        name length uint8, name, value type uint8, value
//	payload        total - headers - 16 bytes
//	message CRC    uint32 (CRC32-IEEE of everything before it)
//
// The decoder is hand-written rather than the AWS SDK's
// (aws/protocol/eventstream), which takes 38 allocations and ~4.5 µs per
// message through its io.Reader chain; this one allocates nothing once its
// buffer has grown. The tests check it against the SDK's decoder.

// Bounds of one event stream message. AWS caps messages at 16 MiB and the
// headers of one at 128 KiB.
const (
	eventStreamPreludeLen = 12
	eventStreamMinLen     = eventStreamPreludeLen + 4
	maxEventStreamMessage = 16 << 20
	maxEventStreamHeaders = 128 << 10
)

// Event stream decoding errors. A stream that hits one cannot be resumed:
// the framing is lost.
var (
	ErrEventStreamPreludeCRC = errors.New("eventstream: prelude CRC mismatch")
	ErrEventStreamMessageCRC = errors.New("eventstream: message CRC mismatch")
	ErrEventStreamTooLarge   = errors.New("eventstream: message exceeds size limit")
)

// eventStreamMessage is one decoded message. Its slices point into the
// decoder's buffer and are valid until the next Write.
type eventStreamMessage struct {
	// The string headers Bedrock sets; others are skipped.
	messageType   []byte // :message-type: event, exception or error
	eventType     []byte // :event-type, for events
	exceptionType []byte // :exception-type, for exceptions
	errorCode     []byte // :error-code, for errors
	errorMessage  []byte // :error-message, for errors
	payload       []byte
}

// eventStreamDecoder splits an event stream into messages, whatever the
// chunk boundaries. It keeps only the bytes of the message in progress.
type eventStreamDecoder struct {
	buf []byte
	off int
	// checked is set once the prelude CRC of the message at off was
	// verified, so a byte-by-byte feed checks it once.
	checked bool
}

// Write appends a chunk of the stream.
func (d *eventStreamDecoder) Write(p []byte) {
	if d.off > 0 {
		// Drop consumed bytes before growing, so memory stays one message.
		n := copy(d.buf, d.buf[d.off:])
		d.buf, d.off = d.buf[:n], 0
	}
	d.buf = append(d.buf, p...)
}

// Next returns the next complete message. ok is false when more bytes are
// needed. An error means the stream is corrupt; it is returned again on
// every later call.
func (d *eventStreamDecoder) Next() (m eventStreamMessage, ok bool, err error) {
	b := d.buf[d.off:]
	if len(b) < eventStreamPreludeLen {
		return m, false, nil
	}
	total := binary.BigEndian.Uint32(b[0:4])
	hlen := binary.BigEndian.Uint32(b[4:8])
	if !d.checked {
		if crc32.ChecksumIEEE(b[:8]) != binary.BigEndian.Uint32(b[8:12]) {
			return m, false, ErrEventStreamPreludeCRC
		}
		if total > maxEventStreamMessage || hlen > maxEventStreamHeaders {
			return m, false, ErrEventStreamTooLarge
		}
		if total < eventStreamMinLen || hlen > total-eventStreamMinLen {
			return m, false, errors.New("eventstream: message length " + strconv.FormatUint(uint64(total), 10) +
				" cannot hold " + strconv.FormatUint(uint64(hlen), 10) + " bytes of headers")
		}
		d.checked = true
	}
	if uint32(len(b)) < total {
		return m, false, nil
	}
	msg := b[:total]
	if crc32.ChecksumIEEE(msg[:total-4]) != binary.BigEndian.Uint32(msg[total-4:]) {
		return m, false, ErrEventStreamMessageCRC
	}
	if err := m.readHeaders(msg[eventStreamPreludeLen : eventStreamPreludeLen+hlen]); err != nil {
		return eventStreamMessage{}, false, err
	}
	m.payload = msg[eventStreamPreludeLen+hlen : total-4]
	d.off += int(total)
	d.checked = false
	return m, true, nil
}

// Pending reports whether bytes of an unfinished message are buffered.
func (d *eventStreamDecoder) Pending() bool { return len(d.buf) > d.off }

// Sizes of the fixed-length header value types, by type id; -1 marks the
// length-prefixed ones (byte array 6, string 7).
var eventStreamValueSize = [10]int{0, 0, 1, 2, 4, 8, -1, -1, 8, 16}

func (m *eventStreamMessage) readHeaders(h []byte) error {
	for len(h) > 0 {
		n := int(h[0])
		if len(h) < 1+n+1 {
			return errors.New("eventstream: malformed header name")
		}
		name := h[1 : 1+n]
		typ := h[1+n]
		h = h[2+n:]
		if int(typ) >= len(eventStreamValueSize) {
			return errors.New("eventstream: unknown header value type " + strconv.Itoa(int(typ)))
		}
		size := eventStreamValueSize[typ]
		var value []byte
		if size < 0 {
			if len(h) < 2 {
				return errors.New("eventstream: malformed header value")
			}
			size = int(binary.BigEndian.Uint16(h))
			h = h[2:]
			if len(h) < size {
				return errors.New("eventstream: malformed header value")
			}
			value = h[:size]
		} else if len(h) < size {
			return errors.New("eventstream: malformed header value")
		}
		h = h[size:]
		if typ != 7 {
			value = nil // only string headers matter; a later one of another type unsets
		}
		switch string(name) { // no allocation: the compiler compares in place
		case ":message-type":
			m.messageType = value
		case ":event-type":
			m.eventType = value
		case ":exception-type":
			m.exceptionType = value
		case ":error-code":
			m.errorCode = value
		case ":error-message":
			m.errorMessage = value
		}
	}
	return nil
}
