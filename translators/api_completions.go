package translators

import (
	"bytes"
	"strconv"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// completionsAPI is OpenAI's legacy text completions (POST
// /v1/completions). OpenAI-schema hosts serve it natively: the body
// passes through with the model swapped. Every other provider gets it as
// a chat request (the prompt as one user message) whose answer and
// stream are rewritten as text_completion objects.
var completionsAPI = &API{
	Endpoint: EndpointCompletions, Path: "/v1/completions", ModelType: ModelTypeChat,
	Normalize: func(body []byte) (Normalized, error) {
		// Routing plans on the chat form; what only a native host can
		// serve (several prompts, token ids, echo) is refused per attempt.
		out, _, err := completionsChat(body, false)
		if err != nil {
			return Normalized{}, err
		}
		return Normalized{Body: out}, ValidateChat(out)
	},
	begin: func(x *Exchange, body []byte, t Target) (Request, error) {
		if x.native() {
			return completionsNativeRequest(body, t)
		}
		chat, dropped, err := completionsChat(body, true)
		if err != nil {
			return Request{}, err
		}
		req, err := x.tr.Request(chat, t)
		if err != nil {
			return Request{}, err
		}
		req.Dropped = append(dropped, req.Dropped...)
		return req, nil
	},
	answer: func(x *Exchange, body []byte) ([]byte, Usage, error) {
		if x.native() {
			return x.completionsNativeAnswer(body)
		}
		out, u, err := x.chatAnswer(body)
		if err != nil {
			return nil, u, err
		}
		return textCompletion(x.decorateChat(out, u)), u, nil
	},
	stream: func(x *Exchange) StreamTranslator {
		// Native chunks are checked by the OpenAI stream translator and
		// pass the rewrite as they are; chat chunks are rewritten.
		return &taggedStream{up: &completionsStream{up: x.chatStream()}, x: x, field: []byte(`"provider":` + strconv.Quote(x.Provider) + `,`)}
	},
}

// completionsOnly are request fields chat has no counterpart for.
var completionsOnly = []string{"prompt", "echo", "suffix", "best_of", "logprobs"}

// completionsChat turns a completions body into a chat body: the prompt
// becomes one user message, completions-only fields go, the rest (model,
// max_tokens, stop, temperature, stream, the gateway's fields...) means
// the same in chat and stays. strict refuses what a translation cannot
// serve (the chat form is then sent to a provider): several prompts,
// token-id prompts, n > 1, best_of > 1, echo, suffix; logprobs is
// dropped, or refused under provider.require_parameters.
func completionsChat(body []byte, strict bool) ([]byte, []string, error) {
	if !validJSON(body) {
		return nil, nil, BadRequest("invalid_json", "request body is not valid JSON")
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return nil, nil, BadRequest("invalid_request", "request body must be a JSON object")
	}
	if m := root.Get("model"); m.Type != gjson.String || m.Str == "" {
		return nil, nil, BadRequest("invalid_request", "'model' is required and must be a non-empty string")
	}
	p := root.Get("prompt")
	var prompt string
	switch {
	case p.Type == gjson.String:
		prompt = p.Str
	case p.IsArray():
		items := p.Array()
		if len(items) == 0 {
			return nil, nil, badParam("prompt", "'prompt' must not be empty")
		}
		if items[0].Type != gjson.String {
			if strict {
				return nil, nil, badParam("prompt", "'prompt' as token ids is served only by providers with a native completions API")
			}
			prompt = items[0].Raw
		} else {
			prompt = items[0].Str
		}
		if len(items) > 1 && strict {
			return nil, nil, badParam("prompt", "several prompts in one request are served only by providers with a native completions API; send one prompt per request")
		}
	case !p.Exists() || p.Type == gjson.Null:
		return nil, nil, badParam("prompt", "'prompt' is required")
	default:
		return nil, nil, badParam("prompt", "'prompt' must be a string or an array of strings")
	}
	var dropped []string
	if strict {
		for _, c := range []struct {
			name string
			bad  bool
			why  string
		}{
			{"n", root.Get("n").Int() > 1, "'n' greater than 1"},
			{"best_of", root.Get("best_of").Int() > 1, "'best_of' greater than 1"},
			{"echo", root.Get("echo").Type == gjson.True, "'echo'"},
			{"suffix", root.Get("suffix").Str != "", "'suffix' (insertion)"},
		} {
			if c.bad {
				return nil, nil, badParam(c.name, c.why+" is served only by providers with a native completions API")
			}
		}
		if lp := root.Get("logprobs"); lp.Exists() && lp.Type != gjson.Null {
			var err error
			if dropped, err = dropOrReject(body, SchemaOpenAI, "logprobs"); err != nil {
				return nil, nil, err
			}
		}
	}
	out := body
	var err error
	for _, f := range completionsOnly {
		if err == nil && root.Get(f).Exists() {
			out, err = sjson.DeleteBytes(out, f)
		}
	}
	if err == nil {
		msg := appendJSONString([]byte(`[{"role":"user","content":`), prompt)
		out, err = sjson.SetRawBytes(out, "messages", append(msg, "}]"...))
	}
	if err != nil {
		return nil, nil, BadRequest("invalid_request", "cannot read the request: "+err.Error())
	}
	return out, dropped, nil
}

func badParam(param, msg string) *APIError {
	e := BadRequest("invalid_value", msg)
	e.Param = param
	return e
}

// completionsNativeRequest passes a completions body to an OpenAI-schema
// host. A stream always asks for usage, so the gateway counts tokens; the
// usage chunk is dropped again if the client did not ask.
func completionsNativeRequest(body []byte, t Target) (Request, error) {
	out, root, err := passThroughBody(body, t.Model)
	if err != nil {
		return Request{}, err
	}
	req := Request{Path: t.PathPrefix + "/completions", Headers: []Header{{"content-type", "application/json"}}}
	req.Stream = root.Get("stream").Type == gjson.True
	req.IncludeUsage = req.Stream && root.Get("stream_options.include_usage").Type == gjson.True
	switch {
	case req.Stream && !openAIQuirksFor(t.Host).noStreamOptions:
		out, err = sjson.SetBytes(out, "stream_options.include_usage", true)
	case root.Get("stream_options").Exists():
		// OpenAI rejects stream_options without stream.
		out, err = sjson.DeleteBytes(out, "stream_options")
	}
	if err != nil {
		return Request{}, BadRequest("invalid_request", "cannot rewrite the request: "+err.Error())
	}
	req.Body = out
	return req, nil
}

// completionsNativeAnswer checks a text_completion answer and names the
// provider and cost on it, as chat answers do.
func (x *Exchange) completionsNativeAnswer(body []byte) ([]byte, Usage, error) {
	if !validJSON(body) {
		return nil, Usage{}, &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "provider returned a body that is not JSON"}
	}
	root := gjson.ParseBytes(body)
	if root.Get("object").Str != "text_completion" || !root.Get("choices").IsArray() {
		return nil, Usage{}, &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "provider returned a body that is not a text completion"}
	}
	u := openAIUsage(root.Get("usage"))
	out, _ := sjson.SetBytes(body, "provider", x.Provider)
	if fields, ok := x.costFields(u); ok && root.Get("usage").IsObject() {
		out = setCost(out, fields)
	}
	return out, u, nil
}

// textCompletion rewrites a (decorated) chat.completion as a
// text_completion: each choice's message content becomes its text.
func textCompletion(chat []byte) []byte {
	root := gjson.ParseBytes(chat)
	out := make([]byte, 0, len(chat))
	out = append(out, `{"id":`...)
	out = appendRaw(out, root.Get("id"), `""`)
	out = append(out, `,"object":"text_completion","created":`...)
	out = appendRaw(out, root.Get("created"), "0")
	out = append(out, `,"model":`...)
	out = appendRaw(out, root.Get("model"), `""`)
	if p := root.Get("provider"); p.Exists() {
		out = append(append(out, `,"provider":`...), p.Raw...)
	}
	out = append(out, `,"choices":[`...)
	root.Get("choices").ForEach(func(k, c gjson.Result) bool {
		if k.Int() > 0 {
			out = append(out, ',')
		}
		out = appendTextChoice(out, c.Get("message.content"), c.Get("index"), c.Get("finish_reason"))
		return true
	})
	out = append(out, ']')
	if u := root.Get("usage"); u.Exists() {
		out = append(append(out, `,"usage":`...), u.Raw...)
	}
	return append(out, '}')
}

// appendTextChoice appends one text_completion choice.
func appendTextChoice(dst []byte, text, index, finish gjson.Result) []byte {
	dst = append(dst, `{"text":`...)
	if text.Type == gjson.String {
		dst = append(dst, text.Raw...)
	} else {
		dst = append(dst, `""`...)
	}
	dst = append(dst, `,"index":`...)
	dst = appendRaw(dst, index, "0")
	dst = append(dst, `,"logprobs":null,"finish_reason":`...)
	return append(appendRaw(dst, finish, "null"), '}')
}

func appendRaw(dst []byte, v gjson.Result, absent string) []byte {
	if !v.Exists() {
		return append(dst, absent...)
	}
	return append(dst, v.Raw...)
}

// completionsStream rewrites the chat chunks of a translated stream as
// text_completion chunks; native text_completion chunks and [DONE] pass
// as they are. Its input is a stream translator's own output, one
// "data: " line per event, read in place: no allocation per chunk.
type completionsStream struct {
	up  StreamTranslator
	buf []byte
}

func (s *completionsStream) Translate(dst, chunk []byte) []byte {
	s.buf = s.up.Translate(s.buf[:0], chunk)
	return s.rewrite(dst)
}

func (s *completionsStream) Finish(dst []byte) []byte {
	s.buf = s.up.Finish(s.buf[:0])
	return s.rewrite(dst)
}

func (s *completionsStream) Usage() Usage { return s.up.Usage() }

func (s *completionsStream) rewrite(dst []byte) []byte {
	src := s.buf
	for len(src) > 0 {
		end := bytes.Index(src, []byte("\n\n"))
		if end < 0 {
			return append(dst, src...) // unreachable: translators end events
		}
		ev := src[:end+2]
		src = src[end+2:]
		data, ok := bytes.CutPrefix(ev[:end], []byte("data: "))
		if !ok || len(data) == 0 || data[0] != '{' {
			dst = append(dst, ev...) // [DONE], comments
			continue
		}
		dst = s.chunk(dst, ev, bytesView(data))
	}
	return dst
}

// chunk rewrites one chat chunk; a chunk with nothing a text completion
// carries (the role, reasoning) is left out.
func (s *completionsStream) chunk(dst, ev []byte, js string) []byte {
	var id, created, model, choices, usage, errv gjson.Result
	isText := false
	gjson.Parse(js).ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "id":
			id = v
		case "object":
			isText = v.Str == "text_completion"
		case "created":
			created = v
		case "model":
			model = v
		case "choices":
			choices = v
		case "usage":
			usage = v
		case "error":
			errv = v
		}
		return !isText
	})
	if isText {
		return append(dst, ev...)
	}
	start := len(dst)
	dst = append(dst, `data: {"id":`...)
	dst = appendRaw(dst, id, `""`)
	dst = append(dst, `,"object":"text_completion","created":`...)
	dst = appendRaw(dst, created, "0")
	dst = append(dst, `,"model":`...)
	dst = appendRaw(dst, model, `""`)
	dst = append(dst, `,"choices":[`...)
	n := 0
	choices.ForEach(func(_, c gjson.Result) bool {
		text, finish := c.Get("delta.content"), c.Get("finish_reason")
		if (text.Type != gjson.String || text.Str == "") && finish.Type != gjson.String {
			return true
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = appendTextChoice(dst, text, c.Get("index"), finish)
		return true
	})
	dst = append(dst, ']')
	if n == 0 && !usage.IsObject() && !errv.Exists() {
		return dst[:start]
	}
	if usage.IsObject() {
		dst = append(append(dst, `,"usage":`...), usage.Raw...)
	}
	if errv.Exists() {
		dst = append(append(dst, `,"error":`...), errv.Raw...)
	}
	return append(dst, "}\n\n"...)
}

var _ StreamTranslator = (*completionsStream)(nil)
