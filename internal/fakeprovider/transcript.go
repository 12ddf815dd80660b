// Package fakeprovider is a fake LLM provider for end-to-end tests. It
// replays recorded provider responses (transcripts), injects faults
// (delays, hangs, cut connections) and records every request it received so
// a test can assert what the gateway sent upstream.
package fakeprovider

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Transcript is one recorded HTTP response.
//
// On disk it is the raw HTTP/1.1 response as the provider sent it: a status
// line ("HTTP/1.1 200 OK"), "name: value" header lines, one blank line, then
// the body bytes. Server-sent events in the body are separated by blank
// lines.
type Transcript struct {
	// Name is the file the transcript came from, for messages.
	Name   string
	Status int
	Header http.Header
	Body   []byte
}

// LoadTranscript reads and parses a transcript file.
func LoadTranscript(path string) (*Transcript, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fakeprovider: %w", err)
	}
	return ParseTranscript(path, data)
}

// MustLoad is LoadTranscript for tests: it fails t on error.
func MustLoad(t testing.TB, path string) *Transcript {
	t.Helper()
	tr, err := LoadTranscript(path)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// ParseTranscript parses transcript bytes; name is used in errors.
func ParseTranscript(name string, data []byte) (*Transcript, error) {
	head, body, ok := cutHead(data)
	if !ok {
		return nil, fmt.Errorf("fakeprovider: %s: no blank line between headers and body", name)
	}
	lines := strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n")
	status, err := parseStatusLine(lines[0])
	if err != nil {
		return nil, fmt.Errorf("fakeprovider: %s:1: %w", name, err)
	}
	tr := &Transcript{Name: name, Status: status, Header: http.Header{}, Body: body}
	for i, line := range lines[1:] {
		k, v, ok := strings.Cut(line, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("fakeprovider: %s:%d: header line %q is not \"name: value\"", name, i+2, line)
		}
		tr.Header.Add(textproto.CanonicalMIMEHeaderKey(k), strings.TrimSpace(v))
	}
	return tr, nil
}

// cutHead splits at the first blank line, with either line ending.
func cutHead(data []byte) (head, body []byte, ok bool) {
	lf := bytes.Index(data, []byte("\n\n"))
	crlf := bytes.Index(data, []byte("\r\n\r\n"))
	switch {
	case crlf >= 0 && (lf < 0 || crlf < lf):
		return data[:crlf], data[crlf+4:], true
	case lf >= 0:
		return data[:lf], data[lf+2:], true
	}
	return nil, nil, false
}

func parseStatusLine(line string) (int, error) {
	proto, rest, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	if !strings.HasPrefix(proto, "HTTP/") {
		return 0, fmt.Errorf("status line %q does not start with HTTP/", line)
	}
	n, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 || n < 100 {
		return 0, fmt.Errorf("status line %q has no valid status code", line)
	}
	return n, nil
}

// IsSSE reports whether the body is a server-sent event stream.
func (t *Transcript) IsSSE() bool {
	mt, _, _ := mime.ParseMediaType(t.Header.Get("Content-Type"))
	return mt == "text/event-stream"
}

// Events splits the body into the units the server writes and flushes one
// at a time: for an event stream each event with the blank line ending it,
// otherwise the whole body as one unit.
func (t *Transcript) Events() [][]byte {
	if !t.IsSSE() {
		if len(t.Body) == 0 {
			return nil
		}
		return [][]byte{t.Body}
	}
	var events [][]byte
	rest := t.Body
	for len(rest) > 0 {
		end := eventEnd(rest)
		if end < 0 {
			// An unterminated last event is replayed as recorded.
			events = append(events, rest)
			break
		}
		events = append(events, rest[:end])
		rest = rest[end:]
	}
	return events
}

// eventEnd returns the offset just past the blank line ending the first
// event, or -1.
func eventEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		switch {
		case i+1 < len(b) && b[i+1] == '\n':
			return i + 2
		case i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n':
			return i + 3
		}
	}
	return -1
}
