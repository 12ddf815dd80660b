package translators

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// tinyPNG is a real 2x2 PNG, as the fake providers answer.
func tinyPNG(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

func wantImageError(t *testing.T, err error, status int, code, msg string) {
	t.Helper()
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != status || ae.Code != code || !strings.Contains(ae.Message, msg) {
		t.Fatalf("err = %v, want %d %s %q", err, status, code, msg)
	}
}

func TestParseImageRequest(t *testing.T) {
	tests := []struct {
		name, body string
		want       ImageRequest
		param, msg string
	}{
		{name: "defaults", body: `{"model":"img","prompt":"a red fox"}`, want: ImageRequest{Model: "img", Prompt: "a red fox", N: 1, Width: 1024, Height: 1024}},
		{name: "all fields", body: `{"model":"img","prompt":"p","n":3,"size":"1792x1024","quality":"hd","response_format":"b64_json"}`, want: ImageRequest{Model: "img", Prompt: "p", N: 3, Width: 1792, Height: 1024, Quality: "hd", ResponseFormat: "b64_json"}},
		{name: "no prompt", body: `{"model":"img"}`, param: "prompt", msg: "prompt is required"},
		{name: "prompt not a string", body: `{"model":"img","prompt":["a"]}`, param: "prompt", msg: "prompt is required"},
		{name: "n too big", body: `{"prompt":"p","n":11}`, param: "n", msg: "between 1 and 10"},
		{name: "n fractional", body: `{"prompt":"p","n":1.5}`, param: "n", msg: "integer"},
		{name: "n a string", body: `{"prompt":"p","n":"2"}`, param: "n", msg: "integer"},
		{name: "bad size", body: `{"prompt":"p","size":"big"}`, param: "size", msg: `size "big" must be WIDTHxHEIGHT`},
		{name: "bad format", body: `{"prompt":"p","response_format":"jpeg"}`, param: "response_format", msg: "must be b64_json or url"},
		{name: "stream", body: `{"prompt":"p","stream":true}`, param: "stream", msg: "not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseImageRequest([]byte(tc.body))
			if tc.msg != "" {
				wantImageError(t, err, 400, "invalid_parameter", tc.msg)
				if err.(*APIError).Param != tc.param {
					t.Errorf("param = %q", err.(*APIError).Param)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	if _, err := ParseImageRequest([]byte(`[1]`)); err == nil {
		t.Error("an array body was accepted")
	}
}

// TestImagesRequests is each schema's upstream request for one client
// body.
func TestImagesRequests(t *testing.T) {
	vertex := Target{Model: "imagen-4.0-generate-001", Project: "p1", Region: "us-central1"}
	tests := []struct {
		name   string
		schema Schema
		target Target
		body   string
		path   string
		want   string
	}{
		{"openai passes through", SchemaOpenAI, Target{Model: "gpt-image-1", PathPrefix: "/v1"},
			`{"model":"img","prompt":"a fox","size":"1024x1024","provider":{"order":["x"]}}`,
			"/v1/images/generations", `{"model":"gpt-image-1","prompt":"a fox","size":"1024x1024"}`},
		{"azure names the deployment", SchemaAzureOpenAI, Target{Model: "dalle 3", APIVersion: "2025-04-01-preview"},
			`{"model":"img","prompt":"a fox"}`,
			"/openai/deployments/dalle%203/images/generations?api-version=2025-04-01-preview", `{"prompt":"a fox"}`},
		{"gemini imagen", SchemaGemini, Target{Model: "imagen-4.0-generate-001"},
			`{"model":"img","prompt":"a \"quoted\" fox","n":2,"size":"1792x1024"}`,
			"/v1beta/models/imagen-4.0-generate-001:predict", `{"instances":[{"prompt":"a \"quoted\" fox"}],"parameters":{"sampleCount":2,"aspectRatio":"16:9"}}`},
		{"gemini image model", SchemaGemini, Target{Model: "gemini-2.5-flash-image"},
			`{"model":"img","prompt":"a fox","size":"1024x1536"}`,
			"/v1beta/models/gemini-2.5-flash-image:generateContent", `{"contents":[{"role":"user","parts":[{"text":"a fox"}]}],"generationConfig":{"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"2:3"}}}`},
		{"vertex imagen", SchemaVertexAI, vertex, `{"model":"img","prompt":"a fox"}`,
			"/v1/projects/p1/locations/us-central1/publishers/google/models/imagen-4.0-generate-001:predict", `{"instances":[{"prompt":"a fox"}],"parameters":{"sampleCount":1,"aspectRatio":"1:1"}}`},
		{"bedrock nova canvas", SchemaBedrock, Target{Model: "amazon.nova-canvas-v1:0"},
			`{"model":"img","prompt":"a fox","n":2,"size":"1024x1024","quality":"hd"}`,
			"/model/amazon.nova-canvas-v1%3A0/invoke", `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a fox"},"imageGenerationConfig":{"numberOfImages":2,"width":1024,"height":1024,"quality":"premium"}}`},
		{"bedrock stability", SchemaBedrock, Target{Model: "stability.sd3-5-large-v1:0"},
			`{"model":"img","prompt":"a fox","size":"1792x1024"}`,
			"/model/stability.sd3-5-large-v1%3A0/invoke", `{"prompt":"a fox","output_format":"png","aspect_ratio":"16:9"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec, _ := SpecFor(tc.schema)
			x, err := Begin(imagesAPI, spec, []byte(tc.body), tc.target, "", Facts{Provider: "p"})
			if err != nil {
				t.Fatal(err)
			}
			if x.Upstream.Path != tc.path || string(x.Upstream.Body) != tc.want {
				t.Errorf("request %s %s\nwant         %s %s", x.Upstream.Path, x.Upstream.Body, tc.path, tc.want)
			}
			if x.Stream {
				t.Error("an images request streams")
			}
		})
	}
}

func TestImagesRequestErrors(t *testing.T) {
	tests := []struct {
		name   string
		schema Schema
		model  string
		body   string
		code   string
		msg    string
	}{
		{"anthropic makes no images", SchemaAnthropic, "claude", `{"prompt":"p"}`, "images_unsupported", "makes no images"},
		{"imagen n", SchemaGemini, "imagen-4", `{"prompt":"p","n":5}`, "invalid_parameter", "at most 4 images"},
		{"imagen url", SchemaGemini, "imagen-4", `{"prompt":"p","response_format":"url"}`, "invalid_parameter", `"url" is only available on OpenAI image models`},
		{"gemini n", SchemaGemini, "gemini-2.5-flash-image", `{"prompt":"p","n":2}`, "invalid_parameter", "one image per request"},
		{"nova size", SchemaBedrock, "amazon.nova-canvas-v1:0", `{"prompt":"p","size":"1000x1000"}`, "invalid_parameter", "multiples of 16"},
		{"bedrock text model", SchemaBedrock, "anthropic.claude-3", `{"prompt":"p"}`, "images_unsupported", "no known image body"},
		{"vertex claude", SchemaVertexAI, "claude-sonnet-4", `{"prompt":"p"}`, "images_unsupported", "makes no images"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec, _ := SpecFor(tc.schema)
			_, err := Begin(imagesAPI, spec, []byte(tc.body), Target{Model: tc.model, Project: "p", Region: "r"}, "", Facts{Provider: "p"})
			wantImageError(t, err, 400, tc.code, tc.msg)
		})
	}
}

// TestImagesAnswers is each schema's answer in OpenAI's shape, with its
// usage and cost.
func TestImagesAnswers(t *testing.T) {
	pic := tinyPNG(t)
	tests := []struct {
		name   string
		schema Schema
		model  string
		body   string
		n      int
		usage  Usage
	}{
		{"openai", SchemaOpenAI, "gpt-image-1", `{"created":1,"data":[{"b64_json":"` + pic + `"}],"usage":{"input_tokens":10,"output_tokens":272,"total_tokens":282}}`,
			1, Usage{PromptTokens: 10, CompletionTokens: 272, Images: 1}},
		{"azure url", SchemaAzureOpenAI, "dalle3", `{"created":1,"data":[{"url":"https://x/1.png","revised_prompt":"r"}]}`, 1, Usage{Images: 1}},
		{"imagen, one filtered", SchemaGemini, "imagen-4", `{"predictions":[{"mimeType":"image/png","bytesBase64Encoded":"` + pic + `"},{"raiFilteredReason":"filtered"}]}`, 1, Usage{Images: 1}},
		{"gemini image model", SchemaVertexAI, "gemini-2.5-flash-image", `{"candidates":[{"content":{"parts":[{"text":"Here"},{"inlineData":{"mimeType":"image/png","data":"` + pic + `"}}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":1290}}`,
			1, Usage{PromptTokens: 7, CompletionTokens: 1290, Images: 1}},
		{"nova canvas", SchemaBedrock, "amazon.nova-canvas-v1:0", `{"images":["` + pic + `","` + pic + `"],"error":null}`, 2, Usage{Images: 2}},
		{"stability", SchemaBedrock, "stability.sd3-5-large-v1:0", `{"seeds":[1],"finish_reasons":[null],"images":["` + pic + `"]}`, 1, Usage{Images: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec, _ := SpecFor(tc.schema)
			x, err := Begin(imagesAPI, spec, []byte(`{"prompt":"p"}`), Target{Model: tc.model, Project: "p", Region: "r"}, "", Facts{Provider: "p"})
			if err != nil {
				t.Fatal(err)
			}
			x.Price = Price{Image: 0.04, Prompt: 5, Completion: 40}
			out, u, err := x.Answer([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if u != tc.usage {
				t.Errorf("usage %+v, want %+v", u, tc.usage)
			}
			data := gjson.GetBytes(out, "data")
			if len(data.Array()) != tc.n {
				t.Fatalf("answer has %d images, want %d: %.300s", len(data.Array()), tc.n, out)
			}
			if b := data.Get("0.b64_json").Str; b != "" {
				raw, err := base64.StdEncoding.DecodeString(b)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
					t.Errorf("b64_json is not a PNG: %v", err)
				}
			}
			want, _ := x.Price.Cost(tc.usage)
			if got := gjson.GetBytes(out, "usage.cost").Float(); got != want || want == 0 {
				t.Errorf("usage.cost = %v, want %v", got, want)
			}
		})
	}
}

func TestImagesAnswerErrors(t *testing.T) {
	tests := []struct {
		name   string
		schema Schema
		model  string
		body   string
		status int
		code   string
	}{
		{"openai empty", SchemaOpenAI, "gpt-image-1", `{"data":[]}`, 502, "bad_upstream_response"},
		{"openai neither", SchemaOpenAI, "gpt-image-1", `{"data":[{}]}`, 502, "bad_upstream_response"},
		{"openai not json", SchemaOpenAI, "gpt-image-1", `{"data":[`, 502, "bad_upstream_response"},
		{"imagen all filtered", SchemaGemini, "imagen-4", `{"predictions":[{"raiFilteredReason":"unsafe prompt"}]}`, 400, "content_filtered"},
		{"imagen nothing", SchemaGemini, "imagen-4", `{}`, 502, "bad_upstream_response"},
		{"gemini blocked", SchemaGemini, "gemini-2.5-flash-image", `{"promptFeedback":{"blockReason":"SAFETY"}}`, 400, "content_filtered"},
		{"gemini text only", SchemaGemini, "gemini-2.5-flash-image", `{"candidates":[{"content":{"parts":[{"text":"no"}]},"finishReason":"STOP"}]}`, 502, "bad_upstream_response"},
		{"nova refused", SchemaBedrock, "amazon.nova-canvas-v1:0", `{"images":[],"error":"blocked by our content filters"}`, 400, "content_filtered"},
		{"stability filtered", SchemaBedrock, "stability.sd3-5-large-v1:0", `{"images":[""],"finish_reasons":["Filter reason: prompt"]}`, 400, "content_filtered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec, _ := SpecFor(tc.schema)
			x, err := Begin(imagesAPI, spec, []byte(`{"prompt":"p"}`), Target{Model: tc.model, Project: "p", Region: "r"}, "", Facts{Provider: "p"})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = x.Answer([]byte(tc.body))
			wantImageError(t, err, tc.status, tc.code, "")
		})
	}
}

func TestNearestRatio(t *testing.T) {
	for size, want := range map[[2]int]string{{1024, 1024}: "1:1", {1792, 1024}: "16:9", {1024, 1792}: "9:16", {1024, 768}: "4:3", {768, 1024}: "3:4", {1536, 1024}: "4:3"} {
		if got := nearestRatio(size[0], size[1], imagenRatios); got != want {
			t.Errorf("%v: %s, want %s", size, got, want)
		}
	}
}

// FuzzImages: any body on any image schema, and any provider answer,
// gives a request or a clean error, and answers that are JSON with
// base64 fields only where they should be, never a panic.
func FuzzImages(f *testing.F) {
	f.Add([]byte(`{"prompt":"a fox","n":2,"size":"1792x1024"}`), []byte(`{"images":["AA=="],"error":null}`))
	f.Add([]byte(`{"prompt":"p","response_format":"url"}`), []byte(`{"predictions":[{"bytesBase64Encoded":"AA\""}]}`))
	f.Add([]byte(`{"prompt":"p"}`), []byte(`{"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":"x\"y"}}]}}]}`))
	models := map[Schema][]string{
		SchemaOpenAI: {"gpt-image-1"}, SchemaGemini: {"imagen-4", "gemini-2.5-flash-image"},
		SchemaVertexAI: {"imagen-4"}, SchemaBedrock: {"amazon.nova-canvas-v1:0", "stability.sd3-5-large-v1:0"},
	}
	f.Fuzz(func(t *testing.T, body, answer []byte) {
		for schema, ms := range models {
			spec, _ := SpecFor(schema)
			for _, m := range ms {
				x, err := Begin(imagesAPI, spec, body, Target{Model: m, Project: "p", Region: "r"}, "", Facts{Provider: "p"})
				if err != nil {
					continue
				}
				if !validJSON(x.Upstream.Body) {
					t.Fatalf("%s %s: request is not JSON: %s", schema, m, x.Upstream.Body)
				}
				out, _, err := x.Answer(answer)
				if err == nil && !validJSON(out) {
					t.Fatalf("%s %s: answer is not JSON: %s", schema, m, out)
				}
			}
		}
	})
}
