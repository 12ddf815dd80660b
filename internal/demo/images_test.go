package demo

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"testing"

	"github.com/tidwall/gjson"
)

func TestImagesGenerations(t *testing.T) {
	h := newTestHandler()
	rec := do(t, h, "POST", "/v1/images/generations", `{"model":"demo-image-1","prompt":"a red fox","n":2}`, nil)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	out := rec.Body.Bytes()
	data := gjson.GetBytes(out, "data").Array()
	if len(data) != 2 || gjson.GetBytes(out, "created").Int() != 1700000000 || gjson.GetBytes(out, "usage.output_tokens").Int() != 32 {
		t.Fatalf("answer %s", out)
	}
	for _, d := range data {
		raw, err := base64.StdEncoding.DecodeString(d.Get("b64_json").Str)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil || img.Bounds().Dx() != demoImageSide {
			t.Fatalf("not a %dpx PNG: %v", demoImageSide, err)
		}
	}
	if data[0].Get("b64_json").Str == data[1].Get("b64_json").Str {
		t.Error("the two images are the same")
	}
	again := do(t, h, "POST", "/v1/images/generations", `{"model":"demo-image-1","prompt":"a red fox","n":2}`, nil)
	if gjson.Get(again.Body.String(), "data.0.b64_json").Str != data[0].Get("b64_json").Str {
		t.Error("the same prompt made another image")
	}
	for body, param := range map[string]string{
		`{"model":"m"}`: "prompt", `{"prompt":"p","n":11}`: "n", `{"prompt":"p","response_format":"url"}`: "response_format",
	} {
		rec := do(t, h, "POST", "/v1/images/generations", body, nil)
		if rec.Code != 400 || gjson.Get(rec.Body.String(), "error.param").Str != param {
			t.Errorf("%s: %d %s", body, rec.Code, rec.Body)
		}
	}
}

func TestSearch(t *testing.T) {
	h := newTestHandler()
	rec := do(t, h, "GET", "/search?q=gateway+news&format=json&pageno=1", "", nil)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rs := gjson.Get(rec.Body.String(), "results").Array()
	if len(rs) != 3 || rs[1].Get("url").Str != "https://example.com/news/gateway-news" || rs[0].Get("title").Str == "" || rs[0].Get("content").Str == "" {
		t.Fatalf("results %s", rec.Body)
	}
	if rec := do(t, h, "GET", "/search?q=x", "", nil); rec.Code != 400 {
		t.Errorf("no format=json: %d", rec.Code)
	}
	if rec := do(t, h, "GET", "/search?format=json", "", nil); rec.Code != 400 {
		t.Errorf("no q: %d", rec.Code)
	}
}
