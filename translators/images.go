package translators

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// Image generation (POST /v1/images/generations) in OpenAI's shape. OpenAI
// and Azure OpenAI take the request natively; the other schemas' image
// models are reached through their own APIs (images_providers.go):
// Imagen and Gemini image models on the Gemini API and Vertex AI, Amazon
// Nova Canvas / Titan Image and Stability models on Bedrock.

// ImageRequest is an OpenAI images request, checked.
type ImageRequest struct {
	Model          string
	Prompt         string
	N              int    // default 1
	Width, Height  int    // from size, default 1024x1024
	Quality        string // "standard", "hd", "high", ...; "" for the provider's default
	ResponseFormat string // "b64_json" (the default of translated providers) or "url"
}

// maxImages is the most images one request may ask for (OpenAI's cap).
const maxImages = 10

// maxPromptBytes bounds a prompt: OpenAI's longest (gpt-image-1) is
// 32,000 characters.
const maxPromptBytes = 128 << 10

// ParseImageRequest reads an OpenAI /v1/images/generations body.
func ParseImageRequest(body []byte) (ImageRequest, error) {
	if !validJSON(body) || !gjson.ParseBytes(body).IsObject() {
		return ImageRequest{}, BadRequest("invalid_request", "request body must be a JSON object")
	}
	root := gjson.ParseBytes(body)
	r := ImageRequest{
		Model: root.Get("model").String(), Prompt: root.Get("prompt").String(), N: 1, Width: 1024, Height: 1024,
		Quality: root.Get("quality").String(), ResponseFormat: root.Get("response_format").String(),
	}
	if p := root.Get("prompt"); p.Type != gjson.String || strings.TrimSpace(p.Str) == "" {
		return ImageRequest{}, imageParam("prompt", "prompt is required and must be a non-empty string")
	}
	if len(r.Prompt) > maxPromptBytes {
		return ImageRequest{}, imageParam("prompt", fmt.Sprintf("prompt is longer than %d bytes", maxPromptBytes))
	}
	if s := root.Get("stream"); s.Type == gjson.True {
		return ImageRequest{}, imageParam("stream", "streamed image generation is not supported by this gateway; leave stream out")
	}
	if n := root.Get("n"); n.Exists() && n.Type != gjson.Null {
		if r.N = int(n.Int()); n.Type != gjson.Number || float64(r.N) != n.Num || r.N < 1 || r.N > maxImages {
			return ImageRequest{}, imageParam("n", fmt.Sprintf("n must be an integer between 1 and %d", maxImages))
		}
	}
	if s := root.Get("size").String(); s != "" && s != "auto" {
		w, h, ok := strings.Cut(s, "x")
		var err1, err2 error
		r.Width, err1 = strconv.Atoi(w)
		r.Height, err2 = strconv.Atoi(h)
		if !ok || err1 != nil || err2 != nil || r.Width < 64 || r.Height < 64 || r.Width > 4096 || r.Height > 4096 {
			return ImageRequest{}, imageParam("size", fmt.Sprintf("size %q must be WIDTHxHEIGHT, each 64 to 4096", s))
		}
	}
	switch r.ResponseFormat {
	case "", "b64_json", "url":
	default:
		return ImageRequest{}, imageParam("response_format", fmt.Sprintf("response_format %q must be b64_json or url", r.ResponseFormat))
	}
	return r, nil
}

// checkB64 refuses "url" for providers that answer with bytes only: the
// gateway keeps no store to serve URLs from.
func (r ImageRequest) checkB64() error {
	if r.ResponseFormat == "url" {
		return imageParam("response_format", `response_format "url" is only available on OpenAI image models; this model returns b64_json`)
	}
	return nil
}

// generatedImage is one image a translated provider made.
type generatedImage struct {
	B64           string
	MIMEType      string
	RevisedPrompt string
}

// openAIImages renders the OpenAI images answer of translated providers,
// with the usage they reported.
func openAIImages(imgs []generatedImage, u Usage) []byte {
	out := make([]byte, 0, 128)
	out = append(out, `{"created":`...)
	out = strconv.AppendInt(out, time.Now().Unix(), 10)
	out = append(out, `,"data":[`...)
	for i, img := range imgs {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"b64_json":`...)
		out = appendJSONString(out, img.B64)
		if img.RevisedPrompt != "" {
			out = append(out, `,"revised_prompt":`...)
			out = appendJSONString(out, img.RevisedPrompt)
		}
		out = append(out, '}')
	}
	out = append(out, `],"output_format":"png","usage":{"input_tokens":`...)
	out = strconv.AppendInt(out, u.PromptTokens, 10)
	out = append(out, `,"output_tokens":`...)
	out = strconv.AppendInt(out, u.CompletionTokens, 10)
	out = append(out, `,"total_tokens":`...)
	out = strconv.AppendInt(out, u.Total(), 10)
	return append(out, "}}"...)
}

// noImages is the error of an answer with no image and no reason.
func noImages() *APIError {
	return &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "the provider returned no images"}
}

func filtered(reason string) *APIError {
	return BadRequest("content_filtered", "the provider refused to make the image: "+reason)
}

// nearestRatio picks the ratio of ratios ("W:H") nearest to width:height.
func nearestRatio(w, h int, ratios []string) string {
	want := float64(w) / float64(h)
	best, bestD := ratios[0], math.Inf(1)
	for _, r := range ratios {
		a, b, _ := strings.Cut(r, ":")
		x, _ := strconv.ParseFloat(a, 64)
		y, _ := strconv.ParseFloat(b, 64)
		if d := math.Abs(math.Log(x / y / want)); d < bestD {
			best, bestD = r, d
		}
	}
	return best
}

func imageParam(name, msg string) *APIError {
	e := BadRequest("invalid_parameter", msg)
	e.Param = name
	return e
}

// setJSON is sjson.SetBytes for values that always encode.
func setJSON(b []byte, path string, v any) []byte {
	out, err := sjson.SetBytes(b, path, v)
	if err != nil {
		panic("translators: " + path + ": " + err.Error())
	}
	return out
}

// setRawJSON is sjson.SetRawBytes for values built here.
func setRawJSON(b []byte, path string, raw []byte) []byte {
	out, err := sjson.SetRawBytes(b, path, raw)
	if err != nil {
		panic("translators: " + path + ": " + err.Error())
	}
	return out
}
