package translators

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// Shared by the embeddings translators of the schemas that do not speak
// OpenAI's embeddings API (gemini, vertex-ai, bedrock): reading the OpenAI
// request, and writing the OpenAI list back.

// EmbeddingsOptions are the parts of an OpenAI embeddings request that
// shape the answer but that no provider body carries back: EmbeddingsResponse
// sees only the provider's body, so the caller keeps these from the request
// and applies them with FinishEmbeddings.
type EmbeddingsOptions struct {
	// Model is the answer's "model" when the provider names none (Gemini,
	// Vertex AI and Bedrock do not); the upstream model id, as chat
	// answers carry.
	Model string
	// Base64 sends each vector as OpenAI does for encoding_format
	// "base64": the standard base64 of its little-endian float32 values.
	Base64 bool
}

// EmbeddingsOptionsOf reads the options of an OpenAI embeddings request
// body; model is the upstream model id of the attempt.
func EmbeddingsOptionsOf(body []byte, model string) EmbeddingsOptions {
	return EmbeddingsOptions{Model: model, Base64: gjson.GetBytes(body, "encoding_format").Str == "base64"}
}

// FinishEmbeddings applies o to an OpenAI embeddings list returned by an
// EmbeddingsResponse: it names the model if the list has none and encodes
// float vectors as base64 when asked. Vectors that are already strings (an
// OpenAI or Azure answer to a base64 request) are left as they are, so it
// may be applied to every schema's answer. list is not modified.
func FinishEmbeddings(list []byte, o EmbeddingsOptions) []byte {
	root := gjson.ParseBytes(list)
	out := list
	if o.Base64 {
		out = base64Vectors(list, root.Get("data"))
	}
	if m := root.Get("model"); o.Model != "" && (m.Type == gjson.Null || m.Str == "") {
		b, err := sjson.SetBytes(out, "model", o.Model)
		if err == nil {
			out = b
		}
	}
	return out
}

// base64Vectors returns list with every float vector of data encoded, or
// list itself when there is none. Vectors are spliced in by position.
func base64Vectors(list []byte, data gjson.Result) []byte {
	var out []byte
	last := 0
	js := bytesView(list)
	for _, item := range data.Array() {
		vec := item.Get("embedding")
		if !vec.IsArray() {
			continue // a string already
		}
		enc, ok := appendBase64Vector(nil, vec)
		if !ok {
			continue // not numbers: left for the client to see
		}
		end := vec.Index + len(vec.Raw)
		if vec.Index <= last || end > len(js) || js[vec.Index:end] != vec.Raw {
			return base64ByPath(list, data) // no position to splice at
		}
		if out == nil {
			out = make([]byte, 0, len(list)/2)
		}
		out = append(out, list[last:vec.Index]...)
		out = append(out, enc...)
		last = end
	}
	if out == nil {
		return list
	}
	return append(out, list[last:]...)
}

// base64ByPath is base64Vectors for a list whose positions are unknown.
func base64ByPath(list []byte, data gjson.Result) []byte {
	out := list
	for i, item := range data.Array() {
		enc, ok := appendBase64Vector(nil, item.Get("embedding"))
		if !ok {
			continue
		}
		if b, err := sjson.SetRawBytes(out, "data."+strconv.Itoa(i)+".embedding", enc); err == nil {
			out = b
		}
	}
	return out
}

// appendBase64Vector appends vec, a JSON array of numbers, as a JSON string
// holding the base64 of its little-endian float32 values.
func appendBase64Vector(dst []byte, vec gjson.Result) ([]byte, bool) {
	if !vec.IsArray() {
		return dst, false
	}
	var raw []byte
	ok := true
	vec.ForEach(func(_, v gjson.Result) bool {
		if v.Type != gjson.Number {
			ok = false
			return false
		}
		f, err := strconv.ParseFloat(v.Raw, 32)
		if err != nil {
			f = v.Num // out of float32's range: ±Inf, as a float32 cast gives
		}
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(float32(f)))
		return true
	})
	if !ok {
		return dst, false
	}
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, raw)
	return append(dst, '"'), true
}

// embeddingsRequest is what the non-OpenAI schemas take from an OpenAI
// embeddings request.
type embeddingsRequest struct {
	root gjson.Result
	// texts are the inputs, in order; each is a JSON string.
	texts []gjson.Result
	// dimensions is the requested vector size; 0 for the model's own.
	dimensions int64
}

// readEmbeddings validates an OpenAI embeddings request for a provider
// that embeds text: input is a string or an array of strings (token-id
// arrays cannot be translated), dimensions a positive integer and
// encoding_format float or base64 (base64 is applied to the answer by
// FinishEmbeddings).
func readEmbeddings(body []byte, s Schema) (embeddingsRequest, error) {
	if err := ValidateEmbeddings(body); err != nil {
		return embeddingsRequest{}, err
	}
	r := embeddingsRequest{root: gjson.ParseBytes(body)}
	in := r.root.Get("input")
	if in.Type == gjson.String {
		r.texts = []gjson.Result{in}
	} else {
		r.texts = in.Array()
	}
	for i, t := range r.texts {
		switch {
		case t.Type == gjson.Number || t.IsArray():
			return embeddingsRequest{}, BadRequest("invalid_input",
				"provider schema "+string(s)+" embeds text only: token-id input is not supported; send 'input' as a string or an array of strings")
		case t.Type != gjson.String:
			return embeddingsRequest{}, BadRequest("invalid_input", "'input["+strconv.Itoa(i)+"]' must be a string")
		case t.Str == "":
			return embeddingsRequest{}, BadRequest("invalid_input", "'input["+strconv.Itoa(i)+"]' must not be empty")
		}
	}
	if d := r.root.Get("dimensions"); d.Exists() && d.Type != gjson.Null {
		if d.Type != gjson.Number || d.Num < 1 || d.Num != math.Trunc(d.Num) || d.Num > math.MaxInt32 {
			return embeddingsRequest{}, BadRequest("invalid_value", "'dimensions' must be a positive integer")
		}
		r.dimensions = int64(d.Num)
	}
	if f := r.root.Get("encoding_format"); f.Exists() && f.Type != gjson.Null && f.Str != "float" && f.Str != "base64" {
		return embeddingsRequest{}, BadRequest("invalid_value", "'encoding_format' must be \"float\" or \"base64\"")
	}
	return r, nil
}

// maxTexts rejects a request with more inputs than the provider takes in
// one call.
func (r embeddingsRequest) maxTexts(n int, who string) error {
	if len(r.texts) <= n {
		return nil
	}
	if n == 1 {
		return BadRequest("invalid_input", who+" embeds one input per request; send 'input' as a string or an array of one string (got "+strconv.Itoa(len(r.texts))+")")
	}
	return BadRequest("invalid_input", who+" embeds at most "+strconv.Itoa(n)+" inputs per request (got "+strconv.Itoa(len(r.texts))+")")
}

// unsupported records parameters the provider cannot honour, or rejects
// them under provider.require_parameters.
func (r embeddingsRequest) unsupported(s Schema, params ...string) ([]string, error) {
	var set []string
	for _, p := range params {
		if v := r.root.Get(p); v.Exists() && v.Type != gjson.Null {
			set = append(set, p)
		}
	}
	if len(set) > 0 && r.root.Get("provider.require_parameters").Bool() {
		return nil, BadRequest("unsupported_parameter", "provider schema "+string(s)+" cannot honour: "+strings.Join(set, ", ")+" (provider.require_parameters is set)")
	}
	return set, nil
}

// embeddingsList writes an OpenAI embeddings list, one vector at a time.
// The numbers are copied as the provider wrote them.
type embeddingsList struct {
	b []byte
	n int
}

func newEmbeddingsList(size int) *embeddingsList {
	l := &embeddingsList{b: make([]byte, 0, size+128)}
	l.b = append(l.b, `{"object":"list","data":[`...)
	return l
}

// add appends vec, which must be a non-empty JSON array of numbers.
func (l *embeddingsList) add(vec gjson.Result) error {
	if !vec.IsArray() {
		return badEmbeddings("an embedding that is not an array of numbers")
	}
	if l.n > 0 {
		l.b = append(l.b, ',')
	}
	l.b = append(l.b, `{"object":"embedding","index":`...)
	l.b = strconv.AppendInt(l.b, int64(l.n), 10)
	l.b = append(l.b, `,"embedding":[`...)
	count := 0
	var err error
	vec.ForEach(func(_, v gjson.Result) bool {
		if v.Type != gjson.Number {
			err = badEmbeddings("an embedding value that is not a number")
			return false
		}
		if count > 0 {
			l.b = append(l.b, ',')
		}
		l.b = append(l.b, v.Raw...)
		count++
		return true
	})
	if err != nil {
		return err
	}
	if count == 0 {
		return badEmbeddings("an empty embedding")
	}
	l.b = append(l.b, "]}"...)
	l.n++
	return nil
}

// finish closes the list with its model and usage. A list without vectors
// is an upstream fault: every request has at least one input.
func (l *embeddingsList) finish(model string, promptTokens int64) ([]byte, Usage, error) {
	if l.n == 0 {
		return nil, Usage{}, badEmbeddings("no embeddings")
	}
	l.b = append(l.b, `],"model":`...)
	l.b = appendJSONString(l.b, model)
	l.b = append(l.b, `,"usage":{"prompt_tokens":`...)
	l.b = strconv.AppendInt(l.b, promptTokens, 10)
	l.b = append(l.b, `,"total_tokens":`...)
	l.b = strconv.AppendInt(l.b, promptTokens, 10)
	l.b = append(l.b, "}}"...)
	return l.b, Usage{PromptTokens: promptTokens}, nil
}

// badEmbeddings is the error of a 2xx provider body that is not the
// embeddings answer it should be.
func badEmbeddings(what string) *APIError {
	return &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "provider returned " + what + " in its embeddings answer"}
}

// embeddingsBody checks a provider's 2xx embeddings body is a JSON object.
func embeddingsBody(body []byte) (gjson.Result, error) {
	if !validJSON(body) {
		return gjson.Result{}, &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "provider returned an embeddings body that is not JSON"}
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return gjson.Result{}, badEmbeddings("a body that is not a JSON object")
	}
	return root, nil
}
