package translators

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// Tests shared by the embeddings translators of every schema; each schema's
// own cases are in embeddings_<schema>_test.go.

// embeddingsSchemas are the Embedders with golden cases in
// testdata/embeddings_<dir>; target gives a case's Target from its input.
var embeddingsSchemas = []struct {
	schema Schema
	tr     Embedder
	dir    string
	target func(in []byte) Target
}{
	{SchemaAzureOpenAI, openAIToAzure{}, "azure", func([]byte) Target {
		return Target{Model: "text-embedding-3-small", APIVersion: "2024-10-21"}
	}},
	{SchemaGemini, openAIToGemini{}, "gemini", func(in []byte) Target {
		return Target{Model: gjson.GetBytes(in, "model").Str}
	}},
	{SchemaVertexAI, openAIToVertex{}, "vertex", func(in []byte) Target {
		return Target{Model: gjson.GetBytes(in, "model").Str, Project: "acme-prod", Region: "us-central1"}
	}},
	{SchemaBedrock, openAIToBedrock{}, "bedrock", func(in []byte) Target {
		return Target{Model: gjson.GetBytes(in, "model").Str, Region: "us-east-1"}
	}},
}

// TestEmbeddingsRequestGolden translates each testdata/embeddings_<schema>
// case and compares path, headers, dropped parameters and body with
// <case>.out.json.
func TestEmbeddingsRequestGolden(t *testing.T) {
	for _, s := range embeddingsSchemas {
		dir := filepath.Join(testdata, "embeddings_"+s.dir)
		for _, name := range goldenCases(t, "embeddings_"+s.dir) {
			t.Run(s.dir+"/"+name, func(t *testing.T) {
				in, err := os.ReadFile(filepath.Join(dir, name+".in.json"))
				if err != nil {
					t.Fatal(err)
				}
				orig := bytes.Clone(in)
				req, err := s.tr.EmbeddingsRequest(in, s.target(in))
				if err != nil {
					t.Fatalf("EmbeddingsRequest: %v", err)
				}
				if !bytes.Equal(in, orig) {
					t.Fatal("EmbeddingsRequest modified its input")
				}
				if again, _ := s.tr.EmbeddingsRequest(in, s.target(in)); !bytes.Equal(again.Body, req.Body) {
					t.Fatal("a second translation of the same request differs")
				}
				checkGolden(t, filepath.Join(dir, name+".out.json"), bedrockRequestGolden(t, req))
			})
		}
	}
}

// embeddingsResponses are the recorded answers of each schema and what
// they count.
var embeddingsResponses = []struct {
	dir, transcript string
	tr              Embedder
	vectors, dims   int
	prompt          int64
}{
	{"azure", "embeddings", openAIToAzure{}, 2, 64, 19},
	{"gemini", "embeddings", openAIToGemini{}, 2, 128, 0}, // Gemini counts no tokens
	{"vertex", "embeddings", openAIToVertex{}, 1, 128, 9},
	{"vertex", "embeddings_batch", openAIToVertex{}, 2, 128, 10 + 9},
	{"bedrock", "embeddings_titan", openAIToBedrock{}, 1, 256, 11},
	{"bedrock", "embeddings_cohere", openAIToBedrock{}, 2, 256, 0}, // nor Cohere, in its body
}

// TestEmbeddingsResponseGolden translates each recorded answer into the
// OpenAI list and checks its shape, vectors and usage against the provider's.
func TestEmbeddingsResponseGolden(t *testing.T) {
	for _, tc := range embeddingsResponses {
		t.Run(tc.dir+"/"+tc.transcript, func(t *testing.T) {
			body := readTranscript(t, tc.dir, tc.transcript).body
			orig := bytes.Clone(body)
			out, usage, err := tc.tr.EmbeddingsResponse(body)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, orig) {
				t.Fatal("EmbeddingsResponse modified its input")
			}
			if usage != (Usage{PromptTokens: tc.prompt}) {
				t.Errorf("usage %+v, want %d prompt tokens", usage, tc.prompt)
			}
			checkEmbeddingsList(t, out, tc.vectors, tc.dims, tc.prompt)
			checkGolden(t, filepath.Join(testdata, "embeddings_"+tc.dir, tc.transcript+".resp.json"), prettyJSON(t, out))
		})
	}
}

// checkEmbeddingsList asserts an OpenAI embeddings list as the openai-go
// SDK reads it.
func checkEmbeddingsList(t *testing.T, out []byte, vectors, dims int, prompt int64) {
	t.Helper()
	root := gjson.ParseBytes(out)
	if !gjson.ValidBytes(out) || root.Get("object").Str != "list" || !root.Get("model").Exists() {
		t.Fatalf("not an OpenAI list: %.300s", out)
	}
	data := root.Get("data").Array()
	if len(data) != vectors {
		t.Fatalf("%d vectors, want %d", len(data), vectors)
	}
	for i, d := range data {
		if d.Get("object").Str != "embedding" || d.Get("index").Int() != int64(i) {
			t.Errorf("data[%d] is %.100s", i, d.Raw)
		}
		if n := len(d.Get("embedding").Array()); n != dims {
			t.Errorf("data[%d] has %d dimensions, want %d", i, n, dims)
		}
	}
	if root.Get("usage.prompt_tokens").Int() != prompt || root.Get("usage.total_tokens").Int() != prompt {
		t.Errorf("usage %s, want %d", root.Get("usage").Raw, prompt)
	}
}

// TestEmbeddingsRequestErrors is every schema's answer to the requests no
// provider can take, and the limits each provider has.
func TestEmbeddingsRequestErrors(t *testing.T) {
	all := []Schema{SchemaAzureOpenAI, SchemaGemini, SchemaVertexAI, SchemaBedrock}
	text := []Schema{SchemaGemini, SchemaVertexAI, SchemaBedrock}
	tests := []struct {
		name     string
		body     string
		schemas  []Schema
		wantCode string
		wantMsg  string
	}{
		{"not json", `{"input":`, all, "invalid_json", "request body is not valid JSON"},
		{"not an object", `["hi"]`, all, "invalid_request", "request body must be a JSON object"},
		{"no input", `{"model":"m"}`, all, "invalid_input", "'input' is required"},
		{"empty string", `{"input":""}`, all, "invalid_input", "'input' must not be empty"},
		{"empty array", `{"input":[]}`, all, "invalid_input", "'input' must not be an empty array"},
		{"number input", `{"input":42}`, all, "invalid_input", "'input' must be a string or an array"},
		{"empty string in array", `{"input":["a",""]}`, text, "invalid_input", "'input[1]' must not be empty"},
		{"object in array", `{"input":["a",{"text":"b"}]}`, text, "invalid_input", "'input[1]' must be a string"},
		{"token ids", `{"input":[1820,4062,14198]}`, text, "invalid_input", "embeds text only: token-id input is not supported"},
		{"token id arrays", `{"input":[[1820,4062],[14198]]}`, text, "invalid_input", "embeds text only: token-id input is not supported"},
		{"zero dimensions", `{"input":"a","dimensions":0}`, text, "invalid_value", "'dimensions' must be a positive integer"},
		{"fractional dimensions", `{"input":"a","dimensions":1.5}`, text, "invalid_value", "'dimensions' must be a positive integer"},
		{"string dimensions", `{"input":"a","dimensions":"256"}`, text, "invalid_value", "'dimensions' must be a positive integer"},
		{"unknown encoding", `{"input":"a","encoding_format":"int8"}`, text, "invalid_value", `'encoding_format' must be "float" or "base64"`},
	}
	for _, tc := range tests {
		for _, s := range tc.schemas {
			t.Run(tc.name+"/"+string(s), func(t *testing.T) {
				tr, err := New(s)
				if err != nil {
					t.Fatal(err)
				}
				target := Target{Model: "amazon.titan-embed-text-v2:0", Project: "p", Region: "r"}
				if s == SchemaGemini || s == SchemaVertexAI {
					target.Model = "text-embedding-005"
				}
				_, err = tr.(Embedder).EmbeddingsRequest([]byte(tc.body), target)
				assertAPIError(t, err, 400, tc.wantCode, tc.wantMsg)
			})
		}
	}
}

// assertAPIError checks err is the *APIError expected, message included.
func assertAPIError(t *testing.T, err error, status int, code, msg string) {
	t.Helper()
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T), want *APIError %d %s", err, err, status, code)
	}
	if ae.Status != status || ae.Code != code || !strings.Contains(ae.Message, msg) {
		t.Fatalf("error %d %s %q, want %d %s containing %q", ae.Status, ae.Code, ae.Message, status, code, msg)
	}
}

// TestEmbeddingsBadResponses feeds each schema 2xx bodies that are not its
// embeddings answer: all are 502 bad_upstream_response, never a panic or an
// empty list.
func TestEmbeddingsBadResponses(t *testing.T) {
	tests := []struct {
		name    string
		tr      Embedder
		body    string
		wantMsg string
	}{
		{"azure html", openAIToAzure{}, `<html><body>502 Bad Gateway</body></html>`, "without 'data'"},
		{"azure no data", openAIToAzure{}, `{"object":"list"}`, "without 'data'"},
		{"gemini html", openAIToGemini{}, `<html><body>502 Bad Gateway</body></html>`, "not JSON"},
		{"gemini truncated", openAIToGemini{}, `{"embeddings":[{"values":[0.1,0.2`, "not JSON"},
		{"gemini array", openAIToGemini{}, `[{"embeddings":[]}]`, "not a JSON object"},
		{"gemini chat answer", openAIToGemini{}, `{"candidates":[]}`, "without 'embeddings'"},
		{"gemini no vectors", openAIToGemini{}, `{"embeddings":[]}`, "no embeddings"},
		{"gemini empty vector", openAIToGemini{}, `{"embeddings":[{"values":[]}]}`, "an empty embedding"},
		{"gemini string values", openAIToGemini{}, `{"embeddings":[{"values":["0.1"]}]}`, "not a number"},
		{"gemini missing values", openAIToGemini{}, `{"embeddings":[{}]}`, "not an array of numbers"},
		{"vertex no predictions", openAIToVertex{}, `{"deployedModelId":"1"}`, "without 'predictions'"},
		{"vertex null vector", openAIToVertex{}, `{"predictions":[{"embeddings":{"values":null}}]}`, "not an array of numbers"},
		{"bedrock titan null", openAIToBedrock{}, `{"embedding":null,"inputTextTokenCount":3}`, "not an array of numbers"},
		{"bedrock converse answer", openAIToBedrock{}, `{"output":{"message":{}}}`, "neither 'embedding' nor float 'embeddings'"},
		{"bedrock cohere int8 only", openAIToBedrock{}, `{"embeddings":{"int8":[[1,2]]},"response_type":"embeddings_by_type"}`, "neither 'embedding' nor float 'embeddings'"},
		{"bedrock cohere nested wrong", openAIToBedrock{}, `{"embeddings":[0.1,0.2]}`, "not an array of numbers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := tc.tr.EmbeddingsResponse([]byte(tc.body))
			if out != nil {
				t.Errorf("output %s with the error", out)
			}
			assertAPIError(t, err, 502, "bad_upstream_response", tc.wantMsg)
		})
	}
}

// TestEmbeddingsErrorStatus maps recorded embeddings errors with each
// schema's Error, which serves chat and embeddings alike.
func TestEmbeddingsErrorStatus(t *testing.T) {
	tests := []struct {
		dir, transcript string
		tr              Translator
		status          int
		code, msg       string
	}{
		{"gemini", "embeddings_error_404", openAIToGemini{}, 502, "upstream_not_found", "is not supported for batchEmbedContents"},
		{"bedrock", "embeddings_error_validation", openAIToBedrock{}, 400, "", "#/dimensions: 300 is not a valid enum value"},
	}
	for _, tc := range tests {
		t.Run(tc.dir+"/"+tc.transcript, func(t *testing.T) {
			tx := readTranscript(t, tc.dir, tc.transcript)
			e := tc.tr.Error(tx.status, "", tx.body)
			if e.Status != tc.status || e.Code != tc.code || !strings.Contains(e.Message, tc.msg) {
				t.Fatalf("error %d %q %q, want %d %q containing %q", e.Status, e.Code, e.Message, tc.status, tc.code, tc.msg)
			}
		})
	}
}

func TestFinishEmbeddings(t *testing.T) {
	const list = `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-0.25,1e-3]},{"object":"embedding","index":1,"embedding":[0.1]}],"model":"","usage":{"prompt_tokens":0,"total_tokens":0}}`
	tests := []struct {
		name string
		list string
		o    EmbeddingsOptions
		want string
	}{
		{"float names the model", list, EmbeddingsOptions{Model: "gemini-embedding-001"},
			strings.Replace(list, `"model":""`, `"model":"gemini-embedding-001"`, 1)},
		{"nothing to do", list, EmbeddingsOptions{}, list},
		{"base64", list, EmbeddingsOptions{Base64: true, Model: "m"},
			`{"object":"list","data":[{"object":"embedding","index":0,"embedding":"` + b64(0.5, -0.25, 1e-3) + `"},{"object":"embedding","index":1,"embedding":"` + b64(0.1) + `"}],"model":"m","usage":{"prompt_tokens":0,"total_tokens":0}}`},
		{"provider's model is kept", `{"object":"list","data":[],"model":"text-embedding-3-small"}`, EmbeddingsOptions{Model: "deployment"},
			`{"object":"list","data":[],"model":"text-embedding-3-small"}`},
		{"already base64 is kept", `{"data":[{"embedding":"AAAAPw=="}],"model":"x"}`, EmbeddingsOptions{Base64: true, Model: "y"},
			`{"data":[{"embedding":"AAAAPw=="}],"model":"x"}`},
		{"pretty printed", "{\n \"data\": [ { \"embedding\": [\n 0.5 ] } ],\n \"model\": \"x\"\n}", EmbeddingsOptions{Base64: true},
			"{\n \"data\": [ { \"embedding\": \"" + b64(0.5) + "\" } ],\n \"model\": \"x\"\n}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.list)
			orig := bytes.Clone(in)
			got := FinishEmbeddings(in, tc.o)
			if string(got) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			if !bytes.Equal(in, orig) {
				t.Fatal("FinishEmbeddings modified its input")
			}
		})
	}
}

// b64 is OpenAI's base64 encoding of a float32 vector.
func b64(v ...float32) string {
	var raw []byte
	for _, f := range v {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// TestEmbeddingsBase64RoundTrip encodes every recorded answer as base64 and
// decodes it as the openai-go SDK does: the float32 of every value.
func TestEmbeddingsBase64RoundTrip(t *testing.T) {
	for _, tc := range embeddingsResponses {
		t.Run(tc.dir+"/"+tc.transcript, func(t *testing.T) {
			floats, _, err := tc.tr.EmbeddingsResponse(readTranscript(t, tc.dir, tc.transcript).body)
			if err != nil {
				t.Fatal(err)
			}
			enc := FinishEmbeddings(floats, EmbeddingsOptions{Base64: true, Model: "m"})
			want := gjson.GetBytes(floats, "data").Array()
			got := gjson.GetBytes(enc, "data").Array()
			if len(got) != len(want) || gjson.GetBytes(enc, "usage").Raw != gjson.GetBytes(floats, "usage").Raw {
				t.Fatalf("list changed shape:\n%.300s", enc)
			}
			for i := range want {
				raw, err := base64.StdEncoding.DecodeString(got[i].Get("embedding").Str)
				if err != nil {
					t.Fatalf("data[%d]: %v", i, err)
				}
				values := want[i].Get("embedding").Array()
				if len(raw) != 4*len(values) {
					t.Fatalf("data[%d]: %d bytes for %d values", i, len(raw), len(values))
				}
				for j, v := range values {
					f := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
					if f != float32(v.Num) {
						t.Fatalf("data[%d][%d] = %v, want %v", i, j, f, float32(v.Num))
					}
				}
			}
		})
	}
}

// TestEmbeddingsOptionsOf reads what the answer needs from the request.
func TestEmbeddingsOptionsOf(t *testing.T) {
	for _, tc := range []struct {
		body string
		want EmbeddingsOptions
	}{
		{`{"input":"a"}`, EmbeddingsOptions{Model: "m"}},
		{`{"input":"a","encoding_format":"float"}`, EmbeddingsOptions{Model: "m"}},
		{`{"input":"a","encoding_format":"base64"}`, EmbeddingsOptions{Model: "m", Base64: true}},
	} {
		if got := EmbeddingsOptionsOf([]byte(tc.body), "m"); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.body, got, tc.want)
		}
	}
}

func FuzzEmbeddingsResponse(f *testing.F) {
	for _, tc := range embeddingsResponses {
		f.Add(readTranscript(f, tc.dir, tc.transcript).body)
	}
	f.Add([]byte(`{"embeddings":{"float":[[1,2],[3]]}}`))
	trs := []Embedder{openAIToAzure{}, openAIToGemini{}, openAIToVertex{}, openAIToBedrock{}}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, tr := range trs {
			out, usage, err := tr.EmbeddingsResponse(body)
			if err != nil {
				continue
			}
			if !gjson.ValidBytes(out) || !gjson.GetBytes(out, "data").IsArray() {
				t.Fatalf("%T: output is not a list: %q", tr, out)
			}
			if _, ok := tr.(openAIToAzure); !ok && usage.PromptTokens != gjson.GetBytes(out, "usage.prompt_tokens").Int() {
				t.Fatalf("%T: usage %d, body says %s", tr, usage.PromptTokens, gjson.GetBytes(out, "usage").Raw)
			}
			enc := FinishEmbeddings(out, EmbeddingsOptions{Base64: true, Model: "m"})
			if !gjson.ValidBytes(enc) {
				t.Fatalf("%T: base64 output is not JSON: %q", tr, enc)
			}
		}
	})
}

// embeddingsBenchInput is a batch of 16 short passages, a typical
// retrieval-indexing request.
func embeddingsBenchInput(model string, extra string) []byte {
	var b strings.Builder
	b.WriteString(`{"model":` + strconv.Quote(model) + `,"input":[`)
	for i := range 16 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote("Passage " + strconv.Itoa(i) + ": Switchboard routes every request through Envoy, translating it for the provider and back."))
	}
	b.WriteString(`]` + extra + `}`)
	return []byte(b.String())
}

func benchmarkEmbeddingsRequest(b *testing.B, tr Embedder, in []byte, t Target) {
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := tr.EmbeddingsRequest(in, t); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEmbeddingsResponse(b *testing.B) {
	for _, tc := range embeddingsResponses {
		b.Run(tc.dir+"/"+tc.transcript, func(b *testing.B) {
			body := readTranscript(b, tc.dir, tc.transcript).body
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, _, err := tc.tr.EmbeddingsResponse(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestEmbedders: every schema with an embeddings API implements Embedder;
// anthropic, which has none, does not, and extproc answers 400
// embeddings_unsupported for it.
func TestEmbedders(t *testing.T) {
	for _, s := range Schemas {
		t.Run(string(s), func(t *testing.T) {
			tr, err := New(s)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := tr.(Embedder); ok != (s != SchemaAnthropic) {
				t.Errorf("implements Embedder: %v, want %v", ok, s != SchemaAnthropic)
			}
		})
	}
}
