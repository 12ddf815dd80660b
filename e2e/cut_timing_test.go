package e2e

import (
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// TestCutStreamEndsPromptly: a provider stream cut after the client has
// its first chunks ends the client's stream (an error, never a clean
// end) at once, not after Envoy's default 1 s delayed close.
func TestCutStreamEndsPromptly(t *testing.T) {
	s := newChatSetup(t)
	const cutAt = 300 * time.Millisecond
	s.anthropic.Handle("POST", "/v1/messages", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("anthropic", "text_stream")), CutAfterEvents: 4, CutDelay: cutAt})
	start := time.Now()
	stream := s.client.Chat.Completions.NewStreaming(ctxT(t), userParams("claude-test", "x"))
	chunks := 0
	for stream.Next() {
		chunks++
	}
	took := time.Since(start)
	if stream.Err() == nil || chunks == 0 {
		t.Fatalf("got %d chunks and err %v: want chunks, then a stream error", chunks, stream.Err())
	}
	// 1.3 s before (cut + 1 s delayed close); 0.4 s now.
	if late := took - cutAt; late > 700*time.Millisecond {
		t.Errorf("the client's stream ended %v after the cut", late)
	}
}
