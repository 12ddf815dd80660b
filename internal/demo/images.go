package demo

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	_ "image/jpeg" // edits decode the images they get
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
	h.images(w, req.Prompt, req.N)
}

// images answers n demo PNGs for prompt, as OpenAI's images API does.
func (h *handler) images(w http.ResponseWriter, prompt string, n int) {
	n = max(n, 1)
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
		p := prompt
		if i > 0 {
			p += " #" + string(rune('0'+i))
		}
		out.Data = append(out.Data, datum{B64: demoPNG(p), RevisedPrompt: prompt})
	}
	out.Usage.InputTokens = countWords(prompt)
	out.Usage.OutputTokens = 16 * n // one token per row of pixels
	out.Usage.TotalTokens = out.Usage.InputTokens + out.Usage.OutputTokens
	writeJSON(w, http.StatusOK, out)
}

// imagesEdits answers OpenAI's multipart POST /v1/images/edits: the
// image must be a real PNG, JPEG or WebP; the answer is a demo PNG of the
// prompt and the image's size, as generations makes.
func (h *handler) imagesEdits(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseMultipartForm(maxBodyBytes); err != nil {
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "", "the body must be a multipart/form-data form: "+err.Error())
		return
	}
	defer r.MultipartForm.RemoveAll()
	prompt := r.FormValue("prompt")
	if strings.TrimSpace(prompt) == "" {
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "prompt", "prompt is required")
		return
	}
	if r.FormValue("response_format") == "url" {
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "response_format", "the demo image model returns b64_json only")
		return
	}
	files := append(r.MultipartForm.File["image"], r.MultipartForm.File["image[]"]...)
	if len(files) == 0 {
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "image", "image is required")
		return
	}
	for _, fh := range files {
		f, err := fh.Open()
		if err != nil {
			openAIError(w, http.StatusBadRequest, "invalid_request_error", "image", "cannot read the image")
			return
		}
		head := make([]byte, 512)
		k, _ := io.ReadFull(f, head)
		_, _ = f.Seek(0, io.SeekStart)
		cfg, _, err := image.DecodeConfig(f)
		f.Close()
		if err != nil && http.DetectContentType(head[:k]) == "image/webp" {
			continue // a real WebP: the standard library reads no WebP sizes
		}
		if err != nil {
			openAIError(w, http.StatusBadRequest, "invalid_request_error", "image", "the image does not decode: "+err.Error())
			return
		}
		prompt += fmt.Sprintf(" (%dx%d)", cfg.Width, cfg.Height)
	}
	n, _ := strconv.Atoi(r.FormValue("n"))
	h.images(w, prompt, n)
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
