package translators

import (
	"bytes"
	"errors"
)

// ErrEventTooLarge is returned when one SSE event exceeds the decoder limit.
var ErrEventTooLarge = errors.New("sse: event exceeds size limit")

// maxEventBytes bounds the memory one stream can hold while waiting for the
// end of an event.
const maxEventBytes = 4 << 20

// SSEEvent is one server-sent event. Its slices are only valid until the
// next call to Write or Next.
type SSEEvent struct {
	Event []byte
	Data  []byte
}

// SSEDecoder splits a byte stream into server-sent events, whatever the
// chunk boundaries. It keeps only the bytes of the event in progress.
type SSEDecoder struct {
	buf  []byte
	off  int
	scan int // buf[off:scan] was already searched for an event end, so a byte-by-byte feed stays linear
	data []byte
}

// Write appends a chunk of the stream. It fails when the event in progress
// outgrows the decoder limit; complete events in p do not count.
func (d *SSEDecoder) Write(p []byte) error {
	if d.off > 0 {
		// Drop consumed bytes before growing, so memory stays one event.
		n := copy(d.buf, d.buf[d.off:])
		d.buf, d.scan, d.off = d.buf[:n], d.scan-d.off, 0
	}
	old := len(d.buf)
	d.buf = append(d.buf, p...)
	if len(d.buf) > maxEventBytes && len(d.buf)-lastEventEnd(d.buf) > maxEventBytes {
		d.buf = d.buf[:old]
		return ErrEventTooLarge
	}
	return nil
}

// Next returns the next complete event. ok is false when more bytes are
// needed. Comment lines and events without data are skipped.
func (d *SSEDecoder) Next() (ev SSEEvent, ok bool) {
	for {
		from := max(d.scan, d.off)
		end, sep := eventEnd(d.buf[from:])
		if end < 0 {
			// A separator may start in the last two bytes and end in the next chunk.
			d.scan = max(d.off, len(d.buf)-2)
			return SSEEvent{}, false
		}
		block := d.buf[d.off : from+end]
		d.off = from + end + sep
		d.scan = d.off
		ev = d.parse(block)
		if ev.Data != nil {
			return ev, true
		}
	}
}

// Pending reports whether bytes of an unfinished event are buffered.
func (d *SSEDecoder) Pending() bool {
	return len(bytes.TrimSpace(d.buf[d.off:])) > 0
}

// eventEnd finds the blank line ending the first event: its offset and the
// length of the separator.
func eventEnd(b []byte) (int, int) {
	for off := 0; off < len(b); {
		j := bytes.IndexByte(b[off:], '\n') // SIMD: one event's line ends are few
		if j < 0 {
			break
		}
		i := off + j
		if i+1 < len(b) && b[i+1] == '\n' {
			return i, 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i, 3
		}
		off = i + 1
	}
	return -1, 0
}

// lastEventEnd returns the offset just past the last blank line in b, or 0.
// It is only a size estimate for Write, so overlapping separators do not matter.
func lastEventEnd(b []byte) int {
	end := 0
	if i := bytes.LastIndex(b, []byte("\n\n")); i >= 0 {
		end = i + 2
	}
	if i := bytes.LastIndex(b, []byte("\n\r\n")); i >= 0 && i+3 > end {
		end = i + 3
	}
	return end
}

func (d *SSEDecoder) parse(block []byte) SSEEvent {
	var ev SSEEvent
	d.data = d.data[:0]
	lines := 0
	for len(block) > 0 {
		var line []byte
		if i := bytes.IndexByte(block, '\n'); i >= 0 {
			line, block = block[:i], block[i+1:]
		} else {
			line, block = block, nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 || line[0] == ':' {
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "event":
			ev.Event = value
		case "data":
			if lines > 0 {
				d.data = append(d.data, '\n')
			}
			d.data = append(d.data, value...)
			lines++
		}
	}
	if lines > 0 {
		ev.Data = d.data
		if ev.Data == nil {
			ev.Data = []byte{}
		}
	}
	return ev
}

// appendSSEData appends one "data: ...\n\n" event.
func appendSSEData(dst, data []byte) []byte {
	dst = append(dst, "data: "...)
	dst = append(dst, data...)
	return append(dst, "\n\n"...)
}

var sseDone = []byte("data: [DONE]\n\n")
