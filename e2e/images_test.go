package e2e

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// assertPNG fails t unless b64 is a base64 PNG.
func assertPNG(t *testing.T, b64 string) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("not base64: %v (%.60s)", err, b64)
	}
	if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
}

const (
	novaID      = "amazon.nova-canvas-v1:0"
	stabilityID = "stability.sd3-5-large-v1:0"
)

// TestImages sends POST /v1/images/generations with the openai-go SDK
// through a real Envoy to each image-capable schema's fake provider, and
// checks what the provider got and what the client got back, cost
// included; then asks a Gemini image model for a picture on chat.
func TestImages(t *testing.T) {
	oa, az, gem, vx, br := fakeprovider.New(t), fakeprovider.New(t), fakeprovider.New(t), fakeprovider.New(t), fakeprovider.New(t)
	tokens := newGoogleTokenEndpoint(t)
	none := filepath.Join(t.TempDir(), "none")
	gw := startGateway(t, fmt.Sprintf(`providers:
  - {name: fake-openai, schema: openai, base_url: "%s/v1", api_key: {env: E2E_OPENAI_KEY}}
  - {name: fake-azure, schema: azure-openai, base_url: "%s", api_key: {env: E2E_AZURE_KEY}}
  - {name: fake-gemini, schema: gemini, base_url: "%s", api_key: {env: E2E_GEMINI_KEY}}
  - {name: fake-vertex, schema: vertex-ai, base_url: "%s", project: acme-prod, region: us-central1, credentials_file: "%s"}
  - {name: fake-bedrock, schema: bedrock, base_url: "%s", region: us-east-1}
models:
  - name: img-openai
    type: image
    providers: [{provider: fake-openai, model: gpt-image-1, pricing: {prompt: 5, completion: 40}}]
  - name: img-azure
    type: image
    providers: [{provider: fake-azure, model: dall-e-3, pricing: {image: 0.04}}]
  - name: img-imagen
    type: image
    providers: [{provider: fake-gemini, model: imagen-4.0-generate-001, pricing: {image: 0.04}}]
  - name: img-gemini
    type: image
    providers: [{provider: fake-gemini, model: gemini-2.5-flash-image, pricing: {prompt: 0.3, completion: 30}}]
  - name: img-vertex
    type: image
    providers: [{provider: fake-vertex, model: imagen-4.0-generate-001, pricing: {image: 0.04}}]
  - name: img-nova
    type: image
    providers: [{provider: fake-bedrock, model: "%s", pricing: {image: 0.06}}]
  - name: img-stability
    type: image
    providers: [{provider: fake-bedrock, model: "%s", pricing: {image: 0.08}}]
  - name: gemini-image-chat
    providers: [{provider: fake-gemini, model: gemini-2.5-flash-image}]
`, oa.URL(), az.URL(), gem.URL(), vx.URL(), writeServiceAccount(t, tokens.srv.URL+"/token"), br.URL(), novaID, stabilityID),
		"E2E_OPENAI_KEY="+openAIKey, "E2E_AZURE_KEY="+azureKey, "E2E_GEMINI_KEY="+geminiKey,
		"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY="+awsSecret, "AWS_SESSION_TOKEN="+awsToken,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PROFILE=", "AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none)
	client := openai.NewClient(option.WithBaseURL(gw.url("/v1/")), option.WithAPIKey(clientKey), option.WithMaxRetries(0))

	reply := func(s *fakeprovider.Server, path, provider, name string) {
		s.Handle("POST", path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript(provider, name))})
	}
	tests := []struct {
		name, model string
		srv         *fakeprovider.Server
		path        string // the provider's path
		provider    string // transcript folder and name
		transcript  string
		params      openai.ImageGenerateParams
		checkSent   func(t *testing.T, rec fakeprovider.Recorded)
		images      int
		cost        float64
	}{
		{
			name: "openai native", model: "img-openai", srv: oa, path: "/v1/images/generations", provider: "openai", transcript: "images",
			params: openai.ImageGenerateParams{Prompt: "a red fox", N: openai.Int(2), Size: openai.ImageGenerateParamsSize1024x1024},
			checkSent: func(t *testing.T, rec fakeprovider.Recorded) {
				b := gjson.ParseBytes(rec.Body)
				if rec.Header.Get("authorization") != "Bearer "+openAIKey || b.Get("model").Str != "gpt-image-1" || b.Get("n").Int() != 2 || b.Get("prompt").Str != "a red fox" {
					t.Fatalf("provider got %v %s", rec.Header, rec.Body)
				}
			},
			images: 2, cost: (12*5.0 + 544*40.0) / 1e6,
		},
		{
			name: "azure deployment", model: "img-azure", srv: az, path: "/openai/deployments/dall-e-3/images/generations", provider: "azure", transcript: "images",
			params: openai.ImageGenerateParams{Prompt: "a red square"},
			checkSent: func(t *testing.T, rec fakeprovider.Recorded) {
				if rec.Header.Get("api-key") != azureKey || !strings.HasPrefix(rec.RawQuery, "api-version=") || gjson.GetBytes(rec.Body, "model").Exists() {
					t.Fatalf("provider got %s?%s %v %s", rec.Path, rec.RawQuery, rec.Header, rec.Body)
				}
			},
			images: 1, cost: 0.04,
		},
		{
			name: "gemini imagen", model: "img-imagen", srv: gem, path: "/v1beta/models/imagen-4.0-generate-001:predict", provider: "gemini", transcript: "imagen",
			params: openai.ImageGenerateParams{Prompt: "a red fox", N: openai.Int(2), Size: openai.ImageGenerateParamsSize1536x1024},
			checkSent: func(t *testing.T, rec fakeprovider.Recorded) {
				b := gjson.ParseBytes(rec.Body)
				if rec.Header.Get("x-goog-api-key") != geminiKey || b.Get("instances.0.prompt").Str != "a red fox" ||
					b.Get("parameters.sampleCount").Int() != 2 || b.Get("parameters.aspectRatio").Str != "4:3" {
					t.Fatalf("provider got %v %s", rec.Header, rec.Body)
				}
			},
			images: 1, cost: 0.04, // one of the two was filtered: it costs nothing
		},
		{
			name: "gemini image model", model: "img-gemini", srv: gem, path: "/v1beta/models/gemini-2.5-flash-image:generateContent", provider: "gemini", transcript: "image_generate",
			params: openai.ImageGenerateParams{Prompt: "a red fox in the snow"},
			checkSent: func(t *testing.T, rec fakeprovider.Recorded) {
				b := gjson.ParseBytes(rec.Body)
				if b.Get("generationConfig.responseModalities").Raw != `["IMAGE"]` || b.Get("contents.0.parts.0.text").Str != "a red fox in the snow" {
					t.Fatalf("provider got %s", rec.Body)
				}
			},
			images: 1, cost: (9*0.3 + 1297*30.0) / 1e6,
		},
		{
			name: "vertex imagen", model: "img-vertex", srv: vx, path: vertexBase + "google/models/imagen-4.0-generate-001:predict", provider: "vertex", transcript: "imagen",
			params: openai.ImageGenerateParams{Prompt: "two squares", N: openai.Int(2)},
			checkSent: func(t *testing.T, rec fakeprovider.Recorded) {
				if !strings.HasPrefix(rec.Header.Get("authorization"), "Bearer ") || gjson.GetBytes(rec.Body, "parameters.sampleCount").Int() != 2 {
					t.Fatalf("provider got %v %s", rec.Header, rec.Body)
				}
			},
			images: 2, cost: 0.08,
		},
		{
			name: "bedrock nova canvas", model: "img-nova", srv: br, path: "/model/" + novaID + "/invoke", provider: "bedrock", transcript: "nova_canvas",
			params: openai.ImageGenerateParams{Prompt: "two squares", N: openai.Int(2), Quality: openai.ImageGenerateParamsQualityHigh},
			checkSent: func(t *testing.T, rec fakeprovider.Recorded) {
				b := gjson.ParseBytes(rec.Body)
				if !strings.HasPrefix(rec.Header.Get("authorization"), "AWS4-HMAC-SHA256 ") || b.Get("taskType").Str != "TEXT_IMAGE" ||
					b.Get("imageGenerationConfig.numberOfImages").Int() != 2 || b.Get("imageGenerationConfig.quality").Str != "premium" {
					t.Fatalf("provider got %v %s", rec.Header, rec.Body)
				}
			},
			images: 2, cost: 0.12,
		},
		{
			name: "bedrock stability", model: "img-stability", srv: br, path: "/model/" + stabilityID + "/invoke", provider: "bedrock", transcript: "stability",
			params: openai.ImageGenerateParams{Prompt: "a square", Size: openai.ImageGenerateParamsSize1792x1024},
			checkSent: func(t *testing.T, rec fakeprovider.Recorded) {
				b := gjson.ParseBytes(rec.Body)
				if b.Get("prompt").Str != "a square" || b.Get("aspect_ratio").Str != "16:9" || b.Get("output_format").Str != "png" {
					t.Fatalf("provider got %s", rec.Body)
				}
			},
			images: 1, cost: 0.08,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reply(tc.srv, tc.path, tc.provider, tc.transcript)
			tc.params.Model = tc.model
			var raw *http.Response
			got, err := client.Images.Generate(ctxT(t), tc.params, option.WithResponseInto(&raw))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Data) != tc.images {
				t.Fatalf("%d images, want %d: %.300s", len(got.Data), tc.images, got.RawJSON())
			}
			for _, d := range got.Data {
				assertPNG(t, d.B64JSON)
			}
			rec := lastRequest(t, tc.srv)
			if rec.Path != tc.path {
				t.Fatalf("provider path %s, want %s", rec.Path, tc.path)
			}
			tc.checkSent(t, rec)
			cost := gjson.Get(got.RawJSON(), "usage.cost").Float()
			if d := cost - tc.cost; d > 1e-12 || d < -1e-12 {
				t.Errorf("usage.cost %v, want %v", cost, tc.cost)
			}
			if raw.Header.Get("x-switchboard-provider") == "" {
				t.Errorf("no x-switchboard-provider header: %v", raw.Header)
			}
		})
	}

	t.Run("a large image is translated whole", func(t *testing.T) {
		// About 2.5 MB of base64: more than a held answer, handed over to
		// the router hop, which translates it.
		img := image.NewRGBA(image.Rect(0, 0, 800, 800))
		rnd := rand.New(rand.NewPCG(1, 2))
		for i := range img.Pix {
			img.Pix[i] = byte(rnd.Uint32())
		}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		big := base64.StdEncoding.EncodeToString(b.Bytes())
		br.Handle("POST", "/model/"+novaID+"/invoke", fakeprovider.Reply{Transcript: &fakeprovider.Transcript{Name: "big", Status: 200,
			Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"images":["` + big + `"],"error":null}`)}})
		got, err := client.Images.Generate(ctxT(t), openai.ImageGenerateParams{Model: "img-nova", Prompt: "noise"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Data) != 1 || got.Data[0].B64JSON != big || gjson.Get(got.RawJSON(), "usage.cost").Float() != 0.06 {
			t.Fatalf("%d images, same bytes %v, usage %s", len(got.Data), len(got.Data) == 1 && got.Data[0].B64JSON == big, gjson.Get(got.RawJSON(), "usage").Raw)
		}
	})
	t.Run("url on a translated provider is a 400", func(t *testing.T) {
		n := len(gem.Requests())
		resp, out := gw.post(t, "/v1/images/generations", []byte(`{"model":"img-imagen","prompt":"p","response_format":"url"}`))
		assertOpenAIError(t, resp, out, 400, "invalid_parameter")
		if gjson.GetBytes(out, "error.param").Str != "response_format" || len(gem.Requests()) != n {
			t.Fatalf("%s; provider called %d times", out, len(gem.Requests())-n)
		}
	})
	t.Run("a content filter refusal is a 400", func(t *testing.T) {
		reply(br, "/model/"+novaID+"/invoke", "bedrock", "nova_canvas_filtered")
		resp, out := gw.post(t, "/v1/images/generations", []byte(`{"model":"img-nova","prompt":"p"}`))
		if resp.StatusCode != 400 || !strings.Contains(string(out), "content filters") {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
	})
	t.Run("a provider answer with no image is a 502", func(t *testing.T) {
		oa.Handle("POST", "/v1/images/generations", fakeprovider.Reply{Transcript: &fakeprovider.Transcript{Name: "no images", Status: 200,
			Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"created":1,"data":[]}`)}})
		resp, out := gw.post(t, "/v1/images/generations", []byte(`{"model":"img-openai","prompt":"p"}`))
		assertOpenAIError(t, resp, out, 502, "bad_upstream_response")
	})
	t.Run("a chat model is not served here", func(t *testing.T) {
		resp, out := gw.post(t, "/v1/images/generations", []byte(`{"model":"gemini-image-chat","prompt":"p"}`))
		assertOpenAIError(t, resp, out, 400, "wrong_model_type")
		resp, out = gw.post(t, "/v1/chat/completions", []byte(`{"model":"img-openai","messages":[{"role":"user","content":"hi"}]}`))
		assertOpenAIError(t, resp, out, 400, "wrong_model_type")
	})
	t.Run("bad requests", func(t *testing.T) {
		for body, param := range map[string]string{
			`{"model":"img-openai"}`:                            "prompt",
			`{"model":"img-openai","prompt":"p","n":11}`:        "n",
			`{"model":"img-openai","prompt":"p","stream":true}`: "stream",
			`{"model":"img-openai","prompt":"p","size":"huge"}`: "size",
		} {
			resp, out := gw.post(t, "/v1/images/generations", []byte(body))
			assertOpenAIError(t, resp, out, 400, "invalid_parameter")
			if gjson.GetBytes(out, "error.param").Str != param {
				t.Errorf("%s: %s", body, out)
			}
		}
	})

	// Chat with modalities on an image model: message.images, whole and
	// streamed, as OpenRouter returns them.
	chat := `{"model":"gemini-image-chat","modalities":["image","text"],"messages":[{"role":"user","content":"Draw a red fox"}]%s}`
	t.Run("chat images whole", func(t *testing.T) {
		reply(gem, "/v1beta/models/gemini-2.5-flash-image:generateContent", "gemini", "image_generate")
		resp, out := gw.post(t, "/v1/chat/completions", []byte(fmt.Sprintf(chat, "")))
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
		if got := gjson.GetBytes(lastRequest(t, gem).Body, "generationConfig.responseModalities").Raw; got != `["IMAGE","TEXT"]` {
			t.Fatalf("provider got responseModalities %s", got)
		}
		msg := gjson.GetBytes(out, "choices.0.message")
		url := msg.Get("images.0.image_url.url").Str
		if msg.Get("images.0.type").Str != "image_url" || !strings.HasPrefix(url, "data:image/png;base64,") || !strings.Contains(msg.Get("content").Str, "red fox") {
			t.Fatalf("message %.400s", msg.Raw)
		}
		assertPNG(t, strings.TrimPrefix(url, "data:image/png;base64,"))
	})
	t.Run("chat images streamed", func(t *testing.T) {
		reply(gem, "/v1beta/models/gemini-2.5-flash-image:streamGenerateContent", "gemini", "image_generate_stream")
		resp, out := gw.post(t, "/v1/chat/completions", []byte(fmt.Sprintf(chat, `,"stream":true`)))
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
		var url string
		for _, line := range strings.Split(string(out), "\n") {
			if u := gjson.Get(strings.TrimPrefix(line, "data: "), "choices.0.delta.images.0.image_url.url").Str; u != "" {
				url = u
			}
		}
		if !strings.HasPrefix(url, "data:image/png;base64,") || !strings.HasSuffix(strings.TrimSpace(string(out)), "data: [DONE]") {
			t.Fatalf("stream:\n%.1500s", out)
		}
		assertPNG(t, strings.TrimPrefix(url, "data:image/png;base64,"))
	})

	// OpenAI's image_generation tool on /v1/responses, through openai-go:
	// the image model's pictures come back as image_generation_call items.
	params := responses.ResponseNewParams{Model: "gemini-image-chat", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Draw a red fox")},
		Tools: []responses.ToolUnionParam{{OfImageGeneration: &responses.ToolImageGenerationParam{}}}}
	imageItem := func(t *testing.T, out []responses.ResponseOutputItemUnion) {
		t.Helper()
		if got := gjson.GetBytes(lastRequest(t, gem).Body, "generationConfig.responseModalities").Raw; got != `["IMAGE","TEXT"]` {
			t.Fatalf("provider got responseModalities %s", got)
		}
		for _, it := range out {
			if it.Type == "image_generation_call" {
				if it.Status != "completed" {
					t.Errorf("image item status %q", it.Status)
				}
				assertPNG(t, it.Result)
				return
			}
		}
		t.Fatalf("no image_generation_call in %d items", len(out))
	}
	t.Run("responses image tool whole", func(t *testing.T) {
		reply(gem, "/v1beta/models/gemini-2.5-flash-image:generateContent", "gemini", "image_generate")
		r, err := client.Responses.New(ctxT(t), params)
		if err != nil {
			t.Fatal(err)
		}
		imageItem(t, r.Output)
	})
	t.Run("responses image tool streamed", func(t *testing.T) {
		reply(gem, "/v1beta/models/gemini-2.5-flash-image:streamGenerateContent", "gemini", "image_generate_stream")
		stream := client.Responses.NewStreaming(ctxT(t), params)
		var done *responses.Response
		for stream.Next() {
			if ev := stream.Current(); ev.Type == "response.completed" {
				r := ev.Response
				done = &r
			}
		}
		if err := stream.Err(); err != nil || done == nil {
			t.Fatalf("stream: %v (completed %v)", err, done != nil)
		}
		imageItem(t, done.Output)
	})
}

// TestImageEdits sends POST /v1/images/edits (multipart) with the
// openai-go SDK through a real Envoy: natively to OpenAI (the provider
// gets the form with its own model id and the same image bytes), as a
// Gemini image model's generateContent with the image inline, and on to
// OpenAI when Gemini fails first (every attempt reads the client's form,
// whatever the attempt before set). Bad forms get OpenAI errors.
func TestImageEdits(t *testing.T) {
	oa, gem := fakeprovider.New(t), fakeprovider.New(t)
	gw := startGateway(t, fmt.Sprintf(`routing:
  max_attempts: 2
providers:
  - {name: fake-openai, schema: openai, base_url: "%s/v1", api_key: {env: E2E_OPENAI_KEY}}
  - {name: fake-gemini, schema: gemini, base_url: "%s", api_key: {env: E2E_GEMINI_KEY}}
models:
  - name: img-openai
    type: image
    providers: [{provider: fake-openai, model: gpt-image-1, pricing: {prompt: 5, completion: 40}}]
  - name: img-gemini
    type: image
    providers: [{provider: fake-gemini, model: gemini-2.5-flash-image}]
  - name: img-fallback
    type: image
    providers:
      - {provider: fake-gemini, model: gemini-2.5-flash-image, priority: 0}
      - {provider: fake-openai, model: gpt-image-1, priority: 1}
`, oa.URL(), gem.URL()), "E2E_OPENAI_KEY="+openAIKey, "E2E_GEMINI_KEY="+geminiKey)
	client := openai.NewClient(option.WithBaseURL(gw.url("/v1/")), option.WithAPIKey(clientKey), option.WithMaxRetries(0))
	pic := pngOf(t, 8, 8)
	edit := func(t *testing.T, model string, mask bool) (*openai.ImagesResponse, error) {
		p := openai.ImageEditParams{Model: model, Prompt: "give the fox a hat", N: openai.Int(1),
			Image: openai.ImageEditParamsImageUnion{OfFileArray: []io.Reader{bytes.NewReader(pic)}}}
		if mask {
			p.Mask = bytes.NewReader(pic)
		}
		return client.Images.Edit(ctxT(t), p)
	}
	sentForm := func(t *testing.T, rec fakeprovider.Recorded) *multipart.Form {
		t.Helper()
		_, params, err := mime.ParseMediaType(rec.Header.Get("content-type"))
		if err != nil {
			t.Fatalf("provider content-type %q", rec.Header.Get("content-type"))
		}
		f, err := multipart.NewReader(bytes.NewReader(rec.Body), params["boundary"]).ReadForm(64 << 20)
		if err != nil {
			t.Fatalf("provider body is no form: %v", err)
		}
		return f
	}
	fileBytes := func(t *testing.T, fh *multipart.FileHeader) []byte {
		f, err := fh.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		return b
	}

	t.Run("openai native, with a mask", func(t *testing.T) {
		oa.Enqueue("POST", "/v1/images/edits", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "images"))})
		got, err := edit(t, "img-openai", true)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Data) != 2 {
			t.Fatalf("%d images: %.300s", len(got.Data), got.RawJSON())
		}
		assertPNG(t, got.Data[0].B64JSON)
		if c := gjson.Get(got.RawJSON(), "usage.cost").Float(); c <= 0 {
			t.Errorf("usage.cost %v", c)
		}
		rec := lastRequest(t, oa)
		if rec.Path != "/v1/images/edits" || rec.Header.Get("authorization") != "Bearer "+openAIKey {
			t.Fatalf("provider got %s %v", rec.Path, rec.Header)
		}
		f := sentForm(t, rec)
		if f.Value["model"][0] != "gpt-image-1" || f.Value["prompt"][0] != "give the fox a hat" || f.Value["n"][0] != "1" {
			t.Errorf("provider form values %v", f.Value)
		}
		if imgs := f.File["image[]"]; len(imgs) != 1 || !bytes.Equal(fileBytes(t, imgs[0]), pic) || imgs[0].Header.Get("Content-Type") != "image/png" {
			t.Errorf("provider form files %v", f.File)
		}
		if m := f.File["mask"]; len(m) != 1 || !bytes.Equal(fileBytes(t, m[0]), pic) {
			t.Errorf("provider form mask %v", f.File)
		}
	})

	t.Run("gemini image model", func(t *testing.T) {
		gem.Enqueue("POST", "/v1beta/models/gemini-2.5-flash-image:generateContent", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("gemini", "image_generate"))})
		got, err := edit(t, "img-gemini", false)
		if err != nil {
			t.Fatal(err)
		}
		assertPNG(t, got.Data[0].B64JSON)
		b := gjson.ParseBytes(lastRequest(t, gem).Body)
		if b.Get("contents.0.parts.0.text").Str != "give the fox a hat" || b.Get("contents.0.parts.1.inlineData.data").Str != base64.StdEncoding.EncodeToString(pic) {
			t.Errorf("provider got %.400s", b.Raw)
		}
	})

	t.Run("gemini fails, openai serves", func(t *testing.T) {
		gem.Enqueue("POST", "/v1beta/models/gemini-2.5-flash-image:generateContent", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("gemini", "error_503"))})
		oa.Enqueue("POST", "/v1/images/edits", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "images"))})
		gemBefore := len(gem.Requests())
		var raw *http.Response
		got, err := client.Images.Edit(ctxT(t), openai.ImageEditParams{Model: "img-fallback", Prompt: "a hat",
			Image: openai.ImageEditParamsImageUnion{OfFile: bytes.NewReader(pic)}}, option.WithResponseInto(&raw))
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Data) == 0 || raw.Header.Get("x-switchboard-provider") != "fake-openai" {
			t.Fatalf("served by %q: %.200s", raw.Header.Get("x-switchboard-provider"), got.RawJSON())
		}
		if len(gem.Requests()) != gemBefore+1 {
			t.Errorf("gemini got %d attempts, want the first", len(gem.Requests())-gemBefore)
		}
		if f := sentForm(t, lastRequest(t, oa)); f.Value["model"][0] != "gpt-image-1" || len(f.File["image"]) != 1 {
			t.Errorf("the fallback's form %v %v", f.Value, f.File)
		}
	})

	t.Run("refused", func(t *testing.T) {
		before := len(oa.Requests()) + len(gem.Requests())
		form := func(fields map[string]string, file []byte) (string, []byte) {
			var b bytes.Buffer
			w := multipart.NewWriter(&b)
			for k, v := range fields {
				w.WriteField(k, v)
			}
			if file != nil {
				fw, _ := w.CreateFormFile("image", "x.png")
				fw.Write(file)
			}
			w.Close()
			return w.FormDataContentType(), b.Bytes()
		}
		for _, tc := range []struct {
			name, ctype string
			body        []byte
			status      int
			msg         string
		}{
			{"a PDF for an image", "", nil, 400, "image must be a PNG, JPEG or WebP image"},
			{"JSON", "application/json", []byte(`{"model":"img-openai","prompt":"p"}`), 415, "multipart/form-data"},
			{"an unknown field", "", nil, 400, `unknown form field "provider"`},
			{"a mask on gemini", "", nil, 400, "take no mask"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ct, body := tc.ctype, tc.body
				switch tc.name {
				case "a PDF for an image":
					ct, body = form(map[string]string{"model": "img-openai", "prompt": "p"}, []byte("%PDF-1.7 not an image"))
				case "an unknown field":
					ct, body = form(map[string]string{"model": "img-openai", "prompt": "p", "provider": `{"only":["x"]}`}, pic)
				case "a mask on gemini":
					_, err := edit(t, "img-gemini", true)
					var ae *openai.Error
					if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(ae.Message, tc.msg) {
						t.Fatalf("err %v", err)
					}
					return
				}
				resp, out := gw.post(t, "/v1/images/edits", body, "content-type", ct)
				if resp.StatusCode != tc.status || !strings.Contains(gjson.GetBytes(out, "error.message").Str, tc.msg) || gjson.GetBytes(out, "error.type").Str == "" {
					t.Errorf("%d %s", resp.StatusCode, out)
				}
			})
		}
		if n := len(oa.Requests()) + len(gem.Requests()); n != before {
			t.Errorf("refused edits reached a provider (%d requests)", n-before)
		}
	})
}

// pngOf is a real w×h PNG.
func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
