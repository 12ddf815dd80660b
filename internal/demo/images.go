package demo

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"strings"
)

// The demo's image model and search backend, so image generation and the
// web plugin can be tried without keys.

// demoImageSide is the side of the demo's square images, in pixels.
const demoImageSide = 16

// demoPNG is a small real PNG whose colour comes from the prompt, so
// different prompts give visibly different images.
func demoPNG(prompt string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(prompt))
	s := h.Sum32()
	fill := color.RGBA{R: uint8(s), G: uint8(s >> 8), B: uint8(s >> 16), A: 255}
	img := image.NewRGBA(image.Rect(0, 0, demoImageSide, demoImageSide))
	for y := 0; y < demoImageSide; y++ {
		for x := 0; x < demoImageSide; x++ {
			c := fill
			if x == y || x+y == demoImageSide-1 { // a cross, so it is not a flat square
				c = color.RGBA{255, 255, 255, 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img) // an in-memory RGBA image always encodes
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// imagesGenerations answers OpenAI's POST /v1/images/generations with n
// demo PNGs as b64_json (url is refused: the demo stores nothing).
func (h *handler) imagesGenerations(w http.ResponseWriter, r *http.Request) {
	body, tooLarge, err := readBody(w, r)
	if tooLarge {
		openAIError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", "", "request body too large")
		return
	}
	var req struct {
		Model          string `json:"model"`
		Prompt         string `json:"prompt"`
		N              int    `json:"n"`
		ResponseFormat string `json:"response_format"`
	}
	if err != nil || json.Unmarshal(body, &req) != nil {
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "", "request body is not valid JSON")
		return
	}
	if strings.TrimSpace(req.Prompt) == "" {
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "prompt", "prompt is required")
		return
	}
	if req.ResponseFormat == "url" {
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "response_format", "the demo image model returns b64_json only")
		return
	}
	n := max(req.N, 1)
	if n > 10 {
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "n", "n must be at most 10")
		return
	}
	type datum struct {
		B64           string `json:"b64_json"`
		RevisedPrompt string `json:"revised_prompt"`
	}
	out := struct {
		Created      int64   `json:"created"`
		Data         []datum `json:"data"`
		OutputFormat string  `json:"output_format"`
		Usage        struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
			TotalTokens  int `json:"total_tokens"`
		} `json:"usage"`
	}{Created: h.opts.Now().Unix(), OutputFormat: "png"}
	for i := 0; i < n; i++ {
		p := req.Prompt
		if i > 0 {
			p += " #" + string(rune('0'+i))
		}
		out.Data = append(out.Data, datum{B64: demoPNG(p), RevisedPrompt: req.Prompt})
	}
	out.Usage.InputTokens = countWords(req.Prompt)
	out.Usage.OutputTokens = 16 * n // one token per row of pixels
	out.Usage.TotalTokens = out.Usage.InputTokens + out.Usage.OutputTokens
	writeJSON(w, http.StatusOK, out)
}

// search answers SearXNG's JSON API (GET /search?q=...&format=json) with
// three made-up results about the query, on example.com.
func (h *handler) search(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if r.URL.Query().Get("format") != "json" {
		http.Error(w, "the demo search answers format=json only", http.StatusBadRequest)
		return
	}
	if q == "" {
		http.Error(w, "q is required", http.StatusBadRequest)
		return
	}
	short := q
	if len(short) > 60 {
		short = short[:60]
	}
	slug := url.PathEscape(strings.ToLower(strings.Join(strings.Fields(short), "-")))
	type result struct {
		Title         string `json:"title"`
		URL           string `json:"url"`
		Content       string `json:"content"`
		PublishedDate string `json:"publishedDate"`
		Engine        string `json:"engine"`
	}
	out := struct {
		Query           string   `json:"query"`
		NumberOfResults int      `json:"number_of_results"`
		Results         []result `json:"results"`
	}{Query: q}
	for i, kind := range []string{"overview", "news", "reference"} {
		out.Results = append(out.Results, result{
			Title:         "Demo " + kind + ": " + short,
			URL:           "https://example.com/" + kind + "/" + slug,
			Content:       "A made-up " + kind + " page about " + short + ", served by the Switchboard demo search backend.",
			PublishedDate: h.opts.Now().UTC().AddDate(0, 0, -i).Format("2006-01-02T15:04:05"),
			Engine:        "demo",
		})
	}
	out.NumberOfResults = len(out.Results)
	writeJSON(w, http.StatusOK, out)
}
