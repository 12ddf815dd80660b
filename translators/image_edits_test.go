package translators

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// editForm builds a multipart edits form: fields in order, then files
// (field name, bytes).
func editForm(t *testing.T, fields [][2]string, files ...[2]any) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, f := range fields {
		if err := w.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	for i, f := range files {
		fw, err := w.CreateFormFile(f[0].(string), "pic"+string(rune('0'+i))+".png")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(f[1].([]byte))
	}
	w.Close()
	return w.FormDataContentType(), b.Bytes()
}

func pngBytes(t *testing.T) []byte {
	b, _ := base64.StdEncoding.DecodeString(tinyPNG(t))
	return b
}

func TestDecodeImageEdit(t *testing.T) {
	img := pngBytes(t)
	ct, body := editForm(t, [][2]string{{"model", "img"}, {"prompt", "add a hat"}, {"n", "2"}, {"size", "1024x1536"}},
		[2]any{"image[]", img}, [2]any{"image[]", img}, [2]any{"mask", img})
	j, err := DecodeImageEdit(ct, body)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckRequestJSON(j); err != nil {
		t.Fatalf("the JSON form does not pass the request check: %v", err)
	}
	e, err := ParseImageEdit(j)
	if err != nil {
		t.Fatal(err)
	}
	if e.Model != "img" || e.Prompt != "add a hat" || e.N != 2 || e.Width != 1024 || e.Height != 1536 || len(e.Images) != 2 || e.Mask == nil {
		t.Fatalf("edit %+v", e.ImageRequest)
	}
	if !bytes.Equal(e.Images[1].Data, img) || e.Images[0].Type != "image/png" || e.Images[0].Field != "image[]" || e.Images[0].Filename != "pic0.png" || e.Mask.Field != "mask" {
		t.Errorf("files %+v %+v", e.Images[0].Field, e.Mask.Field)
	}

	// The form sent upstream: the provider's model, the client's other
	// fields, the same images and mask.
	out, octype, err := EncodeImageEdit(e, "gpt-image-1")
	if err != nil {
		t.Fatal(err)
	}
	_, params, _ := mime.ParseMediaType(octype)
	r := multipart.NewReader(bytes.NewReader(out), params["boundary"])
	var names []string
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		v, _ := io.ReadAll(p)
		names = append(names, p.FormName())
		switch p.FormName() {
		case "model":
			if string(v) != "gpt-image-1" {
				t.Errorf("model %q", v)
			}
		case "image[]", "mask":
			if !bytes.Equal(v, img) || p.Header.Get("Content-Type") != "image/png" {
				t.Errorf("%s: %d bytes, %q", p.FormName(), len(v), p.Header.Get("Content-Type"))
			}
		}
	}
	if got := strings.Join(names, ","); got != "model,prompt,n,size,image[],image[],mask" {
		t.Errorf("upstream form parts %s", got)
	}
}

func TestDecodeImageEditErrors(t *testing.T) {
	img := pngBytes(t)
	pdf := []byte("%PDF-1.4\n...")
	many := make([][2]any, maxEditImages+1)
	for i := range many {
		many[i] = [2]any{"image[]", img}
	}
	prompt := [][2]string{{"model", "img"}, {"prompt", "p"}}
	for _, tc := range []struct {
		name   string
		ctype  string
		fields [][2]string
		files  [][2]any
		status int
		code   string
		msg    string
	}{
		{name: "JSON body", ctype: "application/json", status: 415, code: "unsupported_media_type", msg: "multipart/form-data"},
		{name: "no image", fields: prompt, status: 400, code: "invalid_parameter", msg: "image is required"},
		{name: "not an image", fields: prompt, files: [][2]any{{"image", pdf}}, status: 400, code: "invalid_parameter", msg: "PNG, JPEG or WebP"},
		{name: "mask not an image", fields: prompt, files: [][2]any{{"image", img}, {"mask", pdf}}, status: 400, code: "invalid_parameter", msg: "mask must be"},
		{name: "two masks", fields: prompt, files: [][2]any{{"image", img}, {"mask", img}, {"mask", img}}, status: 400, code: "invalid_parameter", msg: "more than one mask"},
		{name: "too many images", fields: prompt, files: many, status: 400, code: "invalid_parameter", msg: "at most 16"},
		{name: "unknown field", fields: append(prompt, [2]string{"provider", `{"order":["x"]}`}), files: [][2]any{{"image", img}}, status: 400, code: "invalid_parameter", msg: `unknown form field "provider"`},
		{name: "repeated field", fields: append(prompt, [2]string{"prompt", "again"}), files: [][2]any{{"image", img}}, status: 400, code: "invalid_parameter", msg: "repeated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct, body := editForm(t, tc.fields, tc.files...)
			if tc.ctype != "" {
				ct = tc.ctype
			}
			_, err := DecodeImageEdit(ct, body)
			wantImageError(t, err, tc.status, tc.code, tc.msg)
		})
	}
	t.Run("broken form", func(t *testing.T) {
		_, err := DecodeImageEdit("multipart/form-data; boundary=xyz", []byte("--xyz\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nunterminated"))
		wantImageError(t, err, 400, "invalid_form", "reading form field prompt")
	})
	// What the JSON form checks after decoding: the generations rules.
	for _, tc := range []struct {
		name   string
		fields [][2]string
		msg    string
	}{
		{"no prompt", [][2]string{{"model", "img"}}, "prompt is required"},
		{"n not a number", append(prompt, [2]string{"n", "two"}), "integer"},
		{"stream", append(prompt, [2]string{"stream", "true"}), "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct, body := editForm(t, tc.fields, [2]any{"image", img})
			j, err := DecodeImageEdit(ct, body)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseImageEdit(j)
			wantImageError(t, err, 400, "invalid_parameter", tc.msg)
		})
	}
}

func TestImageEditRequests(t *testing.T) {
	img := pngBytes(t)
	edit := func(t *testing.T, mask bool, fields ...[2]string) ImageEdit {
		files := [][2]any{{"image", img}}
		if mask {
			files = append(files, [2]any{"mask", img})
		}
		ct, body := editForm(t, append([][2]string{{"model", "img"}, {"prompt", "add a hat"}}, fields...), files...)
		j, err := DecodeImageEdit(ct, body)
		if err != nil {
			t.Fatal(err)
		}
		e, err := ParseImageEdit(j)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	b64 := base64.StdEncoding.EncodeToString(img)
	for _, tc := range []struct {
		name  string
		tr    ImageEditor
		t     Target
		mask  bool
		path  string
		ctype string
		check func(t *testing.T, body []byte)
	}{
		{name: "openai", tr: openAIToOpenAI{}, t: Target{Model: "gpt-image-1", PathPrefix: "/v1"}, mask: true, path: "/v1/images/edits", ctype: "multipart/form-data",
			check: func(t *testing.T, b []byte) {
				if !bytes.Contains(b, []byte("gpt-image-1")) || bytes.Contains(b, []byte(`name="model"`+"\r\n\r\nimg")) || !bytes.Contains(b, img) {
					t.Errorf("form %q", b[:200])
				}
			}},
		{name: "azure", tr: openAIToAzure{}, t: Target{Model: "gpt-image-dep", APIVersion: "2025-04-01-preview"}, path: "/openai/deployments/gpt-image-dep/images/edits?api-version=2025-04-01-preview", ctype: "multipart/form-data",
			check: func(t *testing.T, b []byte) {
				if bytes.Contains(b, []byte(`name="model"`)) {
					t.Errorf("azure form names a model: %q", b[:200])
				}
			}},
		{name: "gemini", tr: openAIToGemini{}, t: Target{Model: "gemini-2.5-flash-image"}, path: "/v1beta/models/gemini-2.5-flash-image:generateContent", ctype: "application/json",
			check: func(t *testing.T, b []byte) {
				p := gjson.GetBytes(b, "contents.0.parts")
				if p.Get("0.text").Str != "add a hat" || p.Get("1.inlineData.mimeType").Str != "image/png" || p.Get("1.inlineData.data").Str != b64 ||
					gjson.GetBytes(b, "generationConfig.responseModalities.0").Str != "IMAGE" {
					t.Errorf("body %s", b)
				}
			}},
		{name: "vertex", tr: openAIToVertex{}, t: Target{Model: "gemini-2.5-flash-image", Project: "p", Region: "us-central1"}, path: "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash-image:generateContent", ctype: "application/json",
			check: func(t *testing.T, b []byte) {
				if gjson.GetBytes(b, "contents.0.parts.1.inlineData.data").Str != b64 {
					t.Errorf("body %s", b)
				}
			}},
		{name: "bedrock nova canvas", tr: openAIToBedrock{}, t: Target{Model: "amazon.nova-canvas-v1:0"}, path: "/model/amazon.nova-canvas-v1%3A0/invoke", ctype: "application/json",
			check: func(t *testing.T, b []byte) {
				if gjson.GetBytes(b, "taskType").Str != "IMAGE_VARIATION" || gjson.GetBytes(b, "imageVariationParams.images.0").Str != b64 ||
					gjson.GetBytes(b, "imageVariationParams.text").Str != "add a hat" || gjson.GetBytes(b, "imageGenerationConfig.numberOfImages").Int() != 1 {
					t.Errorf("body %s", b)
				}
			}},
		{name: "bedrock stability", tr: openAIToBedrock{}, t: Target{Model: "stability.sd3-5-large-v1:0"}, path: "/model/stability.sd3-5-large-v1%3A0/invoke", ctype: "application/json",
			check: func(t *testing.T, b []byte) {
				if gjson.GetBytes(b, "mode").Str != "image-to-image" || gjson.GetBytes(b, "image").Str != b64 || gjson.GetBytes(b, "prompt").Str != "add a hat" {
					t.Errorf("body %s", b)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := tc.tr.ImageEditRequest(edit(t, tc.mask), tc.t)
			if err != nil {
				t.Fatal(err)
			}
			if req.Path != tc.path {
				t.Errorf("path %s, want %s", req.Path, tc.path)
			}
			if len(req.Headers) == 0 || !strings.HasPrefix(req.Headers[0].Value, tc.ctype) {
				t.Errorf("headers %v", req.Headers)
			}
			tc.check(t, req.Body)
		})
	}
	t.Run("refusals", func(t *testing.T) {
		_, err := openAIToGemini{}.ImageEditRequest(edit(t, true), Target{Model: "gemini-2.5-flash-image"})
		wantImageError(t, err, 400, "invalid_parameter", "take no mask")
		_, err = openAIToGemini{}.ImageEditRequest(edit(t, false), Target{Model: "imagen-4.0-generate-001"})
		wantImageError(t, err, 400, "image_edits_unsupported", "Imagen")
		_, err = openAIToGemini{}.ImageEditRequest(edit(t, false, [2]string{"response_format", "url"}), Target{Model: "gemini-2.5-flash-image"})
		wantImageError(t, err, 400, "invalid_parameter", "b64_json")
		_, err = openAIToBedrock{}.ImageEditRequest(edit(t, true), Target{Model: "amazon.nova-canvas-v1:0"})
		wantImageError(t, err, 400, "invalid_parameter", "take no mask")
		_, err = openAIToBedrock{}.ImageEditRequest(edit(t, false), Target{Model: "meta.llama3"})
		wantImageError(t, err, 400, "image_edits_unsupported", "no known edit body")
		_, err = openAIToVertex{}.ImageEditRequest(edit(t, false), Target{Model: "claude-sonnet-4@20250514", Project: "p", Region: "r"})
		wantImageError(t, err, 400, "image_edits_unsupported", "does not edit")
	})
}

func FuzzDecodeImageEdit(f *testing.F) {
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nx\r\n--b--\r\n"))
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a\"\r\n\r\n\x89PNG\r\n\x1a\n\r\n--b--\r\n"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		j, err := DecodeImageEdit(ct, body)
		if err != nil {
			return
		}
		if e := CheckRequestJSON(j); e != nil {
			t.Fatalf("DecodeImageEdit made JSON the request check refuses: %v: %q", e, j)
		}
		if e, err := ParseImageEdit(j); err == nil {
			if _, _, err := EncodeImageEdit(e, "m"); err != nil {
				t.Fatal(err)
			}
		}
	})
}
