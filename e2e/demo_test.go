package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// TestDemoProvider runs what `make run` runs with no API keys: the demo
// provider as its own process behind Envoy, in both schemas.
func TestDemoProvider(t *testing.T) {
	demoPort := freePort(t)
	gw := startGateway(t, fmt.Sprintf(`providers:
  - name: demo
    schema: openai
    base_url: http://127.0.0.1:%[1]d/v1
  - name: demo-anthropic
    schema: anthropic
    base_url: http://127.0.0.1:%[1]d
models:
  - name: demo
    providers: [{provider: demo, model: demo-1}]
  - name: demo-claude
    providers: [{provider: demo-anthropic, model: demo-claude-1}]
  - name: demo-image
    type: image
    providers: [{provider: demo, model: demo-image-1, pricing: {image: 0.01}}]
plugins:
  web: {backend: searxng, base_url: "http://127.0.0.1:%[1]d"}
`, demoPort))
	demo := gw.start("demo", switchboardBin, "demo", "--listen", fmt.Sprintf("127.0.0.1:%d", demoPort))
	t.Cleanup(demo.stop)
	client := openai.NewClient(option.WithBaseURL(gw.url("/v1/")), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	waitFor(t, 10*time.Second, func() bool {
		_, err := client.Chat.Completions.New(ctxT(t), userParams("demo", "ping"))
		return err == nil
	})

	for _, model := range []string{"demo", "demo-claude"} {
		t.Run(model+" streamed", func(t *testing.T) {
			p := userParams(model, "Hello there")
			p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			stream := client.Chat.Completions.NewStreaming(ctxT(t), p)
			var acc openai.ChatCompletionAccumulator
			chunks := 0
			for stream.Next() {
				acc.AddChunk(stream.Current())
				chunks++
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			got := acc.Choices[0].Message.Content
			if !strings.Contains(got, "You said: Hello there") || chunks < 4 || acc.Usage.TotalTokens == 0 {
				t.Fatalf("content %q chunks %d usage %+v", got, chunks, acc.Usage)
			}
		})
		t.Run(model+" non-streamed", func(t *testing.T) {
			got, err := client.Chat.Completions.New(ctxT(t), userParams(model, "Hi"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got.Choices[0].Message.Content, "You said: Hi") {
				t.Fatalf("content %q", got.Choices[0].Message.Content)
			}
		})
	}

	t.Run("demo-image", func(t *testing.T) {
		img, err := client.Images.Generate(ctxT(t), openai.ImageGenerateParams{Model: "demo-image", Prompt: "a red fox", N: openai.Int(2)})
		if err != nil {
			t.Fatal(err)
		}
		if len(img.Data) != 2 || img.Usage.OutputTokens == 0 {
			t.Fatalf("images %d usage %+v", len(img.Data), img.Usage)
		}
		for _, d := range img.Data {
			assertPNG(t, d.B64JSON)
		}
		if img.Data[0].B64JSON == img.Data[1].B64JSON {
			t.Error("two images of one request are the same")
		}
		// The cost (2 images at 0.01) is in usage, as on chat answers.
		resp, out := gw.post(t, "/v1/images/generations", []byte(`{"model":"demo-image","prompt":"a red fox","n":2}`))
		if resp.StatusCode != 200 || gjson.GetBytes(out, "usage.cost").Float() != 0.02 {
			t.Fatalf("%d usage %s", resp.StatusCode, gjson.GetBytes(out, "usage").Raw)
		}
		// Edits, keyless: the generated PNG sent back with a prompt.
		raw, _ := base64.StdEncoding.DecodeString(img.Data[0].B64JSON)
		ed, err := client.Images.Edit(ctxT(t), openai.ImageEditParams{Model: "demo-image", Prompt: "give it a hat",
			Image: openai.ImageEditParamsImageUnion{OfFile: bytes.NewReader(raw)}})
		if err != nil {
			t.Fatal(err)
		}
		if len(ed.Data) != 1 || ed.Data[0].RevisedPrompt != "give it a hat (16x16)" {
			t.Fatalf("edit %.300s", ed.RawJSON())
		}
		assertPNG(t, ed.Data[0].B64JSON)
	})
	t.Run("web plugin", func(t *testing.T) {
		for _, stream := range []bool{false, true} {
			body := fmt.Sprintf(`{"model":"demo","stream":%v,"plugins":[{"id":"web"}],"messages":[{"role":"user","content":"gateway news"}]}`, stream)
			resp, out := gw.post(t, "/v1/chat/completions", []byte(body))
			if resp.StatusCode != 200 || !strings.Contains(string(out), `"url_citation"`) || !strings.Contains(string(out), "https://example.com/news/gateway-news") {
				t.Fatalf("stream %v: %d\n%.2000s", stream, resp.StatusCode, out)
			}
		}
	})
	// Anthropic's web_search server tool, keyless: the demo model calls
	// the loop's web_search tool once, then answers from the results.
	t.Run("web_search server tool", func(t *testing.T) {
		for _, stream := range []bool{false, true} {
			body := fmt.Sprintf(`{"model":"demo","max_tokens":200,"stream":%v,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"gateway news"}]}`, stream)
			resp, out := gw.post(t, "/v1/messages", []byte(body), "anthropic-version", "2023-06-01")
			found := "The web search found" // streamed, a word a delta
			if stream {
				found = `"text":" found:"`
			}
			for _, want := range []string{`"server_tool_use"`, `"web_search_tool_result"`, "https://example.com/news/gateway-news", found, `"web_search_requests":1`} {
				if resp.StatusCode != 200 || !strings.Contains(string(out), want) {
					t.Fatalf("stream %v: %d, no %s in\n%.3000s", stream, resp.StatusCode, want, out)
				}
			}
		}
	})
	// The Responses web_search tool, keyless, the same way.
	t.Run("responses web_search tool", func(t *testing.T) {
		for _, stream := range []bool{false, true} {
			body := fmt.Sprintf(`{"model":"demo","stream":%v,"tools":[{"type":"web_search"}],"input":"gateway news"}`, stream)
			resp, out := gw.post(t, "/v1/responses", []byte(body))
			for _, want := range []string{`"type":"web_search_call"`, `"query":"gateway news"`, "https://example.com/news/gateway-news", "found"} {
				if resp.StatusCode != 200 || !strings.Contains(string(out), want) {
					t.Fatalf("stream %v: %d, no %s in\n%.3000s", stream, resp.StatusCode, want, out)
				}
			}
		}
	})
}
