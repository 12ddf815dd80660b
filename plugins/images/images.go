// Package images sketches the translations behind POST
// /v1/images/generations for providers whose image API is not OpenAI's:
// Gemini / Vertex AI Imagen (":predict") and Bedrock's Amazon image
// models (Nova Canvas and Titan Image share one schema). OpenAI and
// Azure OpenAI take the request natively and need nothing here.
//
// It is pure (bodies in, bodies out) and is meant to move into
// translators/ as an endpoint (an API value) once the endpoint strategy
// work lands; see the report on issue 13 for what the wiring needs.
package images

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/switchboard-gw/switchboard/translators"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// Request is the OpenAI images request, checked.
type Request struct {
	Model          string
	Prompt         string
	N              int    // default 1
	Width, Height  int    // from size, default 1024x1024
	Quality        string // "standard", "hd", "high", ...; "" for the provider's default
	ResponseFormat string // "b64_json" (default for translated providers) or "url"
}

// maxImages is the most images one request may ask for (OpenAI's cap).
const maxImages = 10

// ParseRequest reads an OpenAI /v1/images/generations body.
func ParseRequest(body []byte) (Request, error) {
	if !gjson.ValidBytes(body) {
		return Request{}, translators.BadRequest("invalid_json", "the request body is not valid JSON")
	}
	r := Request{
		Model:          gjson.GetBytes(body, "model").String(),
		Prompt:         gjson.GetBytes(body, "prompt").String(),
		N:              1,
		Width:          1024,
		Height:         1024,
		Quality:        gjson.GetBytes(body, "quality").String(),
		ResponseFormat: gjson.GetBytes(body, "response_format").String(),
	}
	if strings.TrimSpace(r.Prompt) == "" {
		return Request{}, param("prompt", "prompt is required")
	}
	if n := gjson.GetBytes(body, "n"); n.Exists() {
		if r.N = int(n.Int()); r.N < 1 || r.N > maxImages {
			return Request{}, param("n", fmt.Sprintf("n must be between 1 and %d", maxImages))
		}
	}
	if s := gjson.GetBytes(body, "size").String(); s != "" && s != "auto" {
		w, h, ok := strings.Cut(s, "x")
		var err1, err2 error
		r.Width, err1 = strconv.Atoi(w)
		r.Height, err2 = strconv.Atoi(h)
		if !ok || err1 != nil || err2 != nil || r.Width < 64 || r.Height < 64 || r.Width > 4096 || r.Height > 4096 {
			return Request{}, param("size", fmt.Sprintf("size %q must be WIDTHxHEIGHT, each 64 to 4096", s))
		}
	}
	switch r.ResponseFormat {
	case "", "b64_json", "url":
	default:
		return Request{}, param("response_format", fmt.Sprintf("response_format %q must be b64_json or url", r.ResponseFormat))
	}
	return r, nil
}

// Translated providers answer with image bytes only; the gateway has no
// store to serve URLs from, so it answers "url" with a 400.
func (r Request) checkB64() error {
	if r.ResponseFormat == "url" {
		return param("response_format", `response_format "url" is only available on OpenAI image models; this model returns b64_json`)
	}
	return nil
}

// Image is one generated image.
type Image struct {
	B64           string
	MIMEType      string
	RevisedPrompt string
}

// OpenAIResponse renders the OpenAI images answer.
func OpenAIResponse(created int64, imgs []Image) []byte {
	out := []byte(`{"created":0,"data":[]}`)
	out, _ = sjson.SetBytes(out, "created", created)
	for i, img := range imgs {
		p := "data." + strconv.Itoa(i)
		out, _ = sjson.SetBytes(out, p+".b64_json", img.B64)
		if img.RevisedPrompt != "" {
			out, _ = sjson.SetBytes(out, p+".revised_prompt", img.RevisedPrompt)
		}
	}
	return out
}

// ImagenRequest builds the body of POST .../models/{model}:predict
// (Gemini API and Vertex AI alike).
func ImagenRequest(r Request) ([]byte, error) {
	if err := r.checkB64(); err != nil {
		return nil, err
	}
	if r.N > 4 {
		return nil, param("n", "Imagen models make at most 4 images per request")
	}
	b := []byte(`{"instances":[{"prompt":""}],"parameters":{}}`)
	b, _ = sjson.SetBytes(b, "instances.0.prompt", r.Prompt)
	b, _ = sjson.SetBytes(b, "parameters.sampleCount", r.N)
	b, _ = sjson.SetBytes(b, "parameters.aspectRatio", aspectRatio(r.Width, r.Height))
	return b, nil
}

// ImagenResponse reads a :predict answer. Predictions filtered for
// safety carry no bytes and are left out; all filtered is a 400.
func ImagenResponse(body []byte) ([]Image, error) {
	var imgs []Image
	var reason string
	gjson.GetBytes(body, "predictions").ForEach(func(_, p gjson.Result) bool {
		if b := p.Get("bytesBase64Encoded").String(); b != "" {
			imgs = append(imgs, Image{B64: b, MIMEType: p.Get("mimeType").String(), RevisedPrompt: p.Get("prompt").String()})
		} else if r := p.Get("raiFilteredReason").String(); r != "" {
			reason = r
		}
		return true
	})
	if len(imgs) == 0 {
		if reason != "" {
			return nil, translators.BadRequest("content_filtered", "the provider filtered every image: "+reason)
		}
		return nil, &translators.APIError{Status: 502, Type: translators.TypeUpstream, Code: "upstream_error", Message: "the provider returned no images"}
	}
	return imgs, nil
}

// NovaCanvasRequest builds the InvokeModel body for amazon.nova-canvas
// and amazon.titan-image-generator models (TEXT_IMAGE task).
func NovaCanvasRequest(r Request) ([]byte, error) {
	if err := r.checkB64(); err != nil {
		return nil, err
	}
	if r.N > 5 {
		return nil, param("n", "Amazon image models make at most 5 images per request")
	}
	if r.Width%16 != 0 || r.Height%16 != 0 || r.Width < 320 || r.Height < 320 {
		return nil, param("size", "Amazon image models need width and height that are multiples of 16, from 320")
	}
	b := []byte(`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":""},"imageGenerationConfig":{}}`)
	b, _ = sjson.SetBytes(b, "textToImageParams.text", r.Prompt)
	b, _ = sjson.SetBytes(b, "imageGenerationConfig.numberOfImages", r.N)
	b, _ = sjson.SetBytes(b, "imageGenerationConfig.width", r.Width)
	b, _ = sjson.SetBytes(b, "imageGenerationConfig.height", r.Height)
	switch r.Quality {
	case "hd", "high":
		b, _ = sjson.SetBytes(b, "imageGenerationConfig.quality", "premium")
	case "", "auto":
	default:
		b, _ = sjson.SetBytes(b, "imageGenerationConfig.quality", "standard")
	}
	return b, nil
}

// NovaCanvasResponse reads an Amazon image model's answer
// {"images":["<base64>"],"error":null}.
func NovaCanvasResponse(body []byte) ([]Image, error) {
	if e := gjson.GetBytes(body, "error"); e.Exists() && e.Type != gjson.Null && e.String() != "" {
		return nil, translators.BadRequest("content_filtered", "the provider refused: "+e.String())
	}
	var imgs []Image
	gjson.GetBytes(body, "images").ForEach(func(_, v gjson.Result) bool {
		imgs = append(imgs, Image{B64: v.String(), MIMEType: "image/png"})
		return true
	})
	if len(imgs) == 0 {
		return nil, &translators.APIError{Status: 502, Type: translators.TypeUpstream, Code: "upstream_error", Message: "the provider returned no images"}
	}
	return imgs, nil
}

// aspectRatio picks the Imagen ratio nearest to width:height.
func aspectRatio(w, h int) string {
	ratios := []struct {
		name string
		v    float64
	}{{"1:1", 1}, {"3:4", 0.75}, {"4:3", 4.0 / 3}, {"9:16", 9.0 / 16}, {"16:9", 16.0 / 9}}
	want := float64(w) / float64(h)
	best := ratios[0]
	for _, r := range ratios[1:] {
		if math.Abs(math.Log(r.v/want)) < math.Abs(math.Log(best.v/want)) {
			best = r
		}
	}
	return best.name
}

func param(name, msg string) *translators.APIError {
	e := translators.BadRequest("invalid_parameter", msg)
	e.Param = name
	return e
}
