package fakeprovider

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

const fixtures = "../../testdata/fakeprovider"

func TestParseTranscript(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantStatus int
		wantHeader map[string]string
		wantBody   string
		wantErr    string
	}{
		{
			name:       "json",
			in:         "HTTP/1.1 200 OK\ncontent-type: application/json\nx-a:  b \n\n{\"a\":1}\n",
			wantStatus: 200,
			wantHeader: map[string]string{"Content-Type": "application/json", "X-A": "b"},
			wantBody:   "{\"a\":1}\n",
		},
		{
			name:       "crlf head keeps body bytes",
			in:         "HTTP/1.1 429 Too Many Requests\r\nretry-after: 3\r\n\r\nline1\nline2",
			wantStatus: 429,
			wantHeader: map[string]string{"Retry-After": "3"},
			wantBody:   "line1\nline2",
		},
		{
			name:       "value containing a colon",
			in:         "HTTP/1.1 200 OK\nlocation: http://x:1/y\n\n",
			wantStatus: 200,
			wantHeader: map[string]string{"Location": "http://x:1/y"},
		},
		{name: "no headers, empty body", in: "HTTP/1.1 204 No Content\n\n", wantStatus: 204},
		{name: "empty file", in: "", wantErr: "case.http: no blank line between headers and body"},
		{name: "no blank line", in: "HTTP/1.1 200 OK\ncontent-type: a/b\n", wantErr: "no blank line"},
		{name: "not HTTP", in: "200 OK\n\n", wantErr: `case.http:1: status line "200 OK" does not start with HTTP/`},
		{name: "bad code", in: "HTTP/1.1 2x0 OK\n\n", wantErr: "case.http:1: status line \"HTTP/1.1 2x0 OK\" has no valid status code"},
		{name: "header without colon", in: "HTTP/1.1 200 OK\na: b\nnope\n\n", wantErr: `case.http:3: header line "nope" is not "name: value"`},
		{name: "header name with space", in: "HTTP/1.1 200 OK\nbad name: b\n\n", wantErr: "case.http:2: header line"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := ParseTranscript("case.http", []byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tr.Status != tc.wantStatus {
				t.Errorf("status %d, want %d", tr.Status, tc.wantStatus)
			}
			if len(tr.Header) != len(tc.wantHeader) {
				t.Errorf("headers %v, want %v", tr.Header, tc.wantHeader)
			}
			for k, v := range tc.wantHeader {
				if got := tr.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if string(tr.Body) != tc.wantBody {
				t.Errorf("body %q, want %q", tr.Body, tc.wantBody)
			}
		})
	}
}

func TestLoadTranscript(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		wantSSE  bool
		wantN    int // events
		wantHead string
		wantErr  string
	}{
		{name: "json", file: "openai_chat.http", wantN: 1, wantHead: "req_fake_chat"},
		{name: "openai stream", file: "openai_stream.http", wantSSE: true, wantN: 5, wantHead: "req_fake_stream"},
		{name: "anthropic stream", file: "anthropic_stream.http", wantSSE: true, wantN: 6},
		{name: "missing file", file: "nope.http", wantErr: "nope.http: no such file"},
		{name: "malformed", file: "malformed_header.http", wantErr: `malformed_header.http:3: header line "this line has no colon"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := LoadTranscript(filepath.Join(fixtures, tc.file))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tr.IsSSE() != tc.wantSSE {
				t.Errorf("IsSSE %v, want %v", tr.IsSSE(), tc.wantSSE)
			}
			if tc.wantHead != "" && tr.Header.Get("X-Request-Id") != tc.wantHead {
				t.Errorf("x-request-id %q", tr.Header.Get("X-Request-Id"))
			}
			events := tr.Events()
			if len(events) != tc.wantN {
				t.Fatalf("%d events, want %d", len(events), tc.wantN)
			}
			if !bytes.Equal(bytes.Join(events, nil), tr.Body) {
				t.Error("events do not add up to the body")
			}
			if tc.wantSSE {
				for i, ev := range events {
					if !bytes.HasSuffix(ev, []byte("\n\n")) || bytes.Count(ev, []byte("\n\n")) != 1 {
						t.Errorf("event %d %q is not one blank-line-terminated event", i, ev)
					}
				}
			}
		})
	}
}

func TestEventsSplit(t *testing.T) {
	sse := map[string][]string{"Content-Type": {"text/event-stream"}}
	tests := []struct {
		name string
		tr   Transcript
		want []string
	}{
		{"json is one unit", Transcript{Header: map[string][]string{"Content-Type": {"application/json"}}, Body: []byte("{}\n\n{}")}, []string{"{}\n\n{}"}},
		{"empty body", Transcript{Header: sse}, nil},
		{"crlf events", Transcript{Header: sse, Body: []byte("data: a\r\n\r\ndata: b\n\n")}, []string{"data: a\r\n\r\n", "data: b\n\n"}},
		{"unterminated last event", Transcript{Header: sse, Body: []byte("data: a\n\ndata: b\n")}, []string{"data: a\n\n", "data: b\n"}},
		{"multi-line event", Transcript{Header: sse, Body: []byte("event: x\ndata: 1\n\n")}, []string{"event: x\ndata: 1\n\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, ev := range tc.tr.Events() {
				got = append(got, string(ev))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Errorf("events %q, want %q", got, tc.want)
			}
		})
	}
}
