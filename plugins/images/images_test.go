package images

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/translators"
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

func wantAPIError(t *testing.T, err error, status int, code, msg string) {
	t.Helper()
	var ae *translators.APIError
	if !errors.As(err, &ae) || ae.Status != status || ae.Code != code || !strings.Contains(ae.Message, msg) {
		t.Fatalf("err = %v, want %d %s %q", err, status, code, msg)
	}
}

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name, body string
		want       Request
		param, msg string
	}{
		{name: "defaults", body: `{"model":"img","prompt":"a red fox"}`, want: Request{Model: "img", Prompt: "a red fox", N: 1, Width: 1024, Height: 1024}},
		{name: "all fields", body: `{"model":"img","prompt":"p","n":3,"size":"1792x1024","quality":"hd","response_format":"b64_json"}`, want: Request{Model: "img", Prompt: "p", N: 3, Width: 1792, Height: 1024, Quality: "hd", ResponseFormat: "b64_json"}},
		{name: "no prompt", body: `{"model":"img"}`, param: "prompt", msg: "prompt is required"},
		{name: "n too big", body: `{"prompt":"p","n":11}`, param: "n", msg: "between 1 and 10"},
		{name: "bad size", body: `{"prompt":"p","size":"big"}`, param: "size", msg: `size "big" must be WIDTHxHEIGHT`},
		{name: "bad format", body: `{"prompt":"p","response_format":"jpeg"}`, param: "response_format", msg: "must be b64_json or url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRequest([]byte(tc.body))
			if tc.msg != "" {
				wantAPIError(t, err, 400, "invalid_parameter", tc.msg)
				if err.(*translators.APIError).Param != tc.param {
					t.Errorf("param = %q", err.(*translators.APIError).Param)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestImagen(t *testing.T) {
	r, _ := ParseRequest([]byte(`{"model":"imagen-4","prompt":"a \"quoted\" fox","n":2,"size":"1792x1024"}`))
	body, err := ImagenRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(body); got != `{"instances":[{"prompt":"a \"quoted\" fox"}],"parameters":{"sampleCount":2,"aspectRatio":"16:9"}}` {
		t.Errorf("request = %s", got)
	}
	r.N = 5
	_, err = ImagenRequest(r)
	wantAPIError(t, err, 400, "invalid_parameter", "at most 4 images")
	r.N, r.ResponseFormat = 1, "url"
	_, err = ImagenRequest(r)
	wantAPIError(t, err, 400, "invalid_parameter", `"url" is only available on OpenAI image models`)

	png := tinyPNG(t)
	imgs, err := ImagenResponse([]byte(`{"predictions":[{"mimeType":"image/png","bytesBase64Encoded":"` + png + `"},{"raiFilteredReason":"filtered"}]}`))
	if err != nil || len(imgs) != 1 || imgs[0].B64 != png || imgs[0].MIMEType != "image/png" {
		t.Fatalf("imgs = %+v, %v", imgs, err)
	}
	_, err = ImagenResponse([]byte(`{"predictions":[{"raiFilteredReason":"unsafe prompt"}]}`))
	wantAPIError(t, err, 400, "content_filtered", "unsafe prompt")
	_, err = ImagenResponse([]byte(`{}`))
	wantAPIError(t, err, 502, "upstream_error", "no images")
}

func TestNovaCanvas(t *testing.T) {
	r, _ := ParseRequest([]byte(`{"model":"amazon.nova-canvas-v1:0","prompt":"a fox","n":2,"size":"1024x1024","quality":"hd"}`))
	body, err := NovaCanvasRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a fox"},"imageGenerationConfig":{"numberOfImages":2,"width":1024,"height":1024,"quality":"premium"}}`
	if string(body) != want {
		t.Errorf("request = %s\nwant      %s", body, want)
	}
	r.Width = 1000
	_, err = NovaCanvasRequest(r)
	wantAPIError(t, err, 400, "invalid_parameter", "multiples of 16")

	png := tinyPNG(t)
	imgs, err := NovaCanvasResponse([]byte(`{"images":["` + png + `","` + png + `"],"error":null}`))
	if err != nil || len(imgs) != 2 {
		t.Fatalf("imgs = %d, %v", len(imgs), err)
	}
	_, err = NovaCanvasResponse([]byte(`{"images":[],"error":"This request has been blocked by our content filters."}`))
	wantAPIError(t, err, 400, "content_filtered", "content filters")

	out := OpenAIResponse(1700000000, imgs)
	if gjson.GetBytes(out, "created").Int() != 1700000000 || gjson.GetBytes(out, "data.#").Int() != 2 {
		t.Fatalf("answer = %s", out)
	}
	raw, err := base64.StdEncoding.DecodeString(gjson.GetBytes(out, "data.1.b64_json").String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodePNG(raw); err != nil {
		t.Errorf("b64_json is not a PNG: %v", err)
	}
}

func decodePNG(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }

func TestAspectRatio(t *testing.T) {
	for size, want := range map[[2]int]string{{1024, 1024}: "1:1", {1792, 1024}: "16:9", {1024, 1792}: "9:16", {1024, 768}: "4:3", {768, 1024}: "3:4", {1536, 1024}: "4:3"} {
		if got := aspectRatio(size[0], size[1]); got != want {
			t.Errorf("%v: %s, want %s", size, got, want)
		}
	}
}
