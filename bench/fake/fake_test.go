package fake

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// events returns the event names (or "data" for unnamed OpenAI events) of
// an SSE body, and the data of the last event.
func events(body string) (names []string, last string) {
	for _, block := range strings.Split(strings.TrimSpace(body), "\n\n") {
		name := "data"
		for _, line := range strings.Split(block, "\n") {
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				name = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				last = v
			}
		}
		names = append(names, name)
	}
	return names, last
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(NewHandler(Options{Chunks: 3, ChunkText: "hi "}))
	defer srv.Close()
	tests := []struct {
		name, path, body string
		wantType         string
		wantEvents       []string // nil for a whole JSON body
		wantLast         string
		wantText         string
	}{
		{name: "openai whole", path: "/v1/chat/completions", body: `{"model":"m"}`,
			wantType: "application/json", wantText: `"content":"hi hi hi "`},
		{name: "anthropic whole", path: "/v1/messages", body: `{"model":"m"}`,
			wantType: "application/json", wantText: `"type":"message"`},
		{name: "openai stream", path: "/v1/chat/completions", body: `{"model":"m","stream":true}`,
			wantType: "text/event-stream", wantEvents: []string{"data", "data", "data", "data", "data", "data"}, wantLast: "[DONE]",
			wantText: `"object":"chat.completion.chunk"`},
		{name: "openai stream with usage", path: "/v1/chat/completions", body: `{"stream":true,"stream_options":{"include_usage":true}}`,
			wantType: "text/event-stream", wantEvents: []string{"data", "data", "data", "data", "data", "data", "data"}, wantLast: "[DONE]",
			wantText: `"usage":{"completion_tokens":3`},
		{name: "anthropic stream", path: "/v1/messages", body: `{"model":"m","stream":true}`, wantType: "text/event-stream",
			wantEvents: []string{"message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_delta",
				"content_block_stop", "message_delta", "message_stop"},
			wantLast: `{"type":"message_stop"}`, wantText: `"text":"hi "`},
		{name: "anthropic stream, spaced JSON", path: "/v1/messages", body: `{"model": "m", "stream": true}`, wantType: "text/event-stream",
			wantEvents: []string{"message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_delta",
				"content_block_stop", "message_delta", "message_stop"},
			wantLast: `{"type":"message_stop"}`, wantText: `"text":"hi "`},
		{name: "vertex claude whole", path: "/v1/projects/p/locations/r/publishers/anthropic/models/m:rawPredict", body: `{}`,
			wantType: "application/json", wantText: `"type":"message"`},
		{name: "vertex claude stream", path: "/v1/projects/p/locations/r/publishers/anthropic/models/m:streamRawPredict",
			body: `{"stream":true}`, wantType: "text/event-stream",
			wantEvents: []string{"message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_delta",
				"content_block_stop", "message_delta", "message_stop"},
			wantLast: `{"type":"message_stop"}`, wantText: `"text":"hi "`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+tc.path, "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("content-type"), tc.wantType) {
				t.Fatalf("status %d, content-type %q; want 200, %s", resp.StatusCode, resp.Header.Get("content-type"), tc.wantType)
			}
			if !strings.Contains(string(b), tc.wantText) {
				t.Errorf("body lacks %s:\n%s", tc.wantText, b)
			}
			if tc.wantEvents == nil {
				return
			}
			names, last := events(string(b))
			if strings.Join(names, ",") != strings.Join(tc.wantEvents, ",") || last != tc.wantLast {
				t.Errorf("events %v ending %q, want %v ending %q", names, last, tc.wantEvents, tc.wantLast)
			}
		})
	}
}

func TestHandlerRejectsOtherPaths(t *testing.T) {
	srv := httptest.NewServer(NewHandler(Options{}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/embeddings", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status %d, want 404", resp.StatusCode)
	}
}

// The large-body phase sends 20 MiB requests; the fake reads them whole
// and answers as usual.
func TestHandlerLargeBody(t *testing.T) {
	srv := httptest.NewServer(NewHandler(Options{Chunks: 3, ChunkText: "hi "}))
	defer srv.Close()
	body := `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("x", 20<<20) + `"}]}`
	for _, path := range []string{"/v1/chat/completions", "/v1/messages"} {
		t.Run(path, func(t *testing.T) {
			resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !strings.Contains(string(b), "hi hi hi ") {
				t.Errorf("status %d, body %.200s; want 200 with the fixed answer", resp.StatusCode, b)
			}
		})
	}
}
