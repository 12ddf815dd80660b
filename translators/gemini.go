package translators

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// openAIToGemini translates OpenAI chat completions to the Gemini API of
// Google AI Studio (https://ai.google.dev/api/generate-content). The body
// building, response and stream translation are shared with vertex-ai.
type openAIToGemini struct{}

func (openAIToGemini) Request(body []byte, t Target) (Request, error) {
	g, err := buildGemini(body, t.Model, false)
	if err != nil {
		return Request{}, err
	}
	model := url.PathEscape(strings.TrimPrefix(t.Model, "models/"))
	out := g.request(googleVersioned(t.PathPrefix, "v1beta") + "/models/" + model + geminiMethod(g.stream))
	return out, nil
}

func (openAIToGemini) Response(body []byte) ([]byte, Usage, error) { return geminiResponse(body) }

func (openAIToGemini) Error(status int, retryAfter string, body []byte) *APIError {
	return geminiError(status, retryAfter, body)
}

func (openAIToGemini) NewStream(opts StreamOptions) StreamTranslator {
	return &geminiStream{opts: opts}
}

// geminiMethod is the generateContent method and query for a request.
func geminiMethod(stream bool) string {
	if stream {
		return ":streamGenerateContent?alt=sse"
	}
	return ":generateContent"
}

// googleVersioned appends the API version to a base URL path, unless the base URL
// already names one (https://generativelanguage.googleapis.com/v1beta).
func googleVersioned(prefix, version string) string {
	last := prefix[strings.LastIndexByte(prefix, '/')+1:]
	if len(last) >= 2 && last[0] == 'v' && last[1] >= '0' && last[1] <= '9' {
		return prefix
	}
	return prefix + "/" + version
}

// geminiBuilt is a translated generateContent body and what the request
// asked for.
type geminiBuilt struct {
	body         []byte
	stream       bool
	includeUsage bool
	dropped      []string
}

func (g geminiBuilt) request(path string) Request {
	return Request{
		Path:         path,
		Headers:      []Header{{"content-type", "application/json"}},
		Body:         g.body,
		Stream:       g.stream,
		IncludeUsage: g.includeUsage,
		Dropped:      g.dropped,
	}
}

// buildGemini translates an OpenAI request into a generateContent body.
// vertex makes file URLs carry a MIME type, which Vertex AI requires.
func buildGemini(body []byte, model string, vertex bool) (geminiBuilt, error) {
	if err := checkChatRequest(body); err != nil {
		return geminiBuilt{}, err
	}
	root := gjson.ParseBytes(body)
	conv, err := readChat(root.Get("messages"))
	if err != nil {
		return geminiBuilt{}, err
	}
	var g geminiBuilt
	if g.dropped, err = geminiDropped(body, root, conv.Names); err != nil {
		return geminiBuilt{}, err
	}
	var req geminiRequest
	mb := geminiMessageBuilder{vertex: vertex, gen3: geminiGeneration(model) >= 3}
	if req.SystemInstruction, req.Contents, err = mb.build(conv); err != nil {
		return geminiBuilt{}, err
	}
	decls, err := geminiTools(root.Get("tools"))
	if err != nil {
		return geminiBuilt{}, err
	}
	if req.ToolConfig, decls, err = geminiToolChoice(root.Get("tool_choice"), decls); err != nil {
		return geminiBuilt{}, err
	}
	if len(decls) > 0 {
		req.Tools = []geminiTool{{FunctionDeclarations: decls}}
	}
	// OpenAI's web_search_options is Gemini's grounding with Google
	// Search; its sources come back as url_citation annotations.
	if w := root.Get("web_search_options"); w.IsObject() {
		req.Tools = append(req.Tools, geminiTool{GoogleSearch: &struct{}{}})
	}
	if req.GenerationConfig, err = geminiGenConfig(root, model); err != nil {
		return geminiBuilt{}, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // prompts keep their <, > and & as sent
	if err := enc.Encode(&req); err != nil {
		return geminiBuilt{}, BadRequest("invalid_request", "cannot encode the Gemini request: "+err.Error())
	}
	g.body = bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
	g.stream = root.Get("stream").Type == gjson.True
	g.includeUsage = g.stream && root.Get("stream_options.include_usage").Type == gjson.True
	return g, nil
}

// geminiDropped lists the parameters Gemini cannot honour that the request
// sets, or rejects them under provider.require_parameters.
func geminiDropped(body []byte, root gjson.Result, names bool) ([]string, error) {
	var set []string
	for _, p := range []string{"logit_bias", "top_logprobs", "prediction", "audio", "service_tier"} {
		if r := root.Get(p); r.Exists() && r.Type != gjson.Null {
			set = append(set, p)
		}
	}
	if root.Get("logprobs").Type == gjson.True {
		set = append(set, "logprobs")
	}
	// Gemini decides itself whether to call functions in parallel.
	if root.Get("parallel_tool_calls").Type == gjson.False {
		set = append(set, "parallel_tool_calls")
	}
	// Gemini contents have no participant names (a legacy function
	// message's name is its function's, which is kept).
	if names {
		set = append(set, droppedMessageNames)
	}
	return dropOrReject(body, SchemaGemini, set...)
}

// geminiMessageBuilder renders the conversation as Gemini contents.
type geminiMessageBuilder struct {
	vertex bool
	gen3   bool
	// toolNames maps the tool call ids of earlier assistant messages to
	// their function names: a Gemini functionResponse carries the name.
	toolNames map[string]string
	contents  []geminiContent
}

// add appends parts as a turn, merging with a previous turn of the same
// role: tool results and the user text after them share one user turn.
func (b *geminiMessageBuilder) add(role string, parts []geminiPart) {
	if len(parts) == 0 {
		return
	}
	if n := len(b.contents); n > 0 && b.contents[n-1].Role == role {
		b.contents[n-1].Parts = append(b.contents[n-1].Parts, parts...)
		return
	}
	b.contents = append(b.contents, geminiContent{Role: role, Parts: parts})
}

// build renders the conversation. cache_control has no Gemini
// counterpart: Gemini caches implicitly.
func (b *geminiMessageBuilder) build(conv chatConversation) (*geminiContent, []geminiContent, error) {
	var system []geminiPart
	for i := range conv.Messages {
		m := &conv.Messages[i]
		var parts []geminiPart
		var err error
		role := "user" // function responses travel in a user turn
		switch m.Role {
		case roleSystem:
			system = append(system, geminiTextParts(m.Parts)...)
			continue
		case roleUser:
			parts, err = b.userParts(m.Parts)
		case roleAssistant:
			role, parts = "model", b.assistantParts(m)
		case roleTool:
			parts, err = b.toolResult(m)
		case roleFunction: // the legacy function-calling result
			if m.Name == "" {
				return nil, nil, BadRequest("invalid_messages", m.path()+": function message needs a 'name'")
			}
			parts = geminiResultParts(m.Name, m.Parts)
		}
		if err != nil {
			return nil, nil, err
		}
		b.add(role, parts)
	}
	if len(b.contents) == 0 {
		return nil, nil, errNoTurns()
	}
	var sys *geminiContent
	if len(system) > 0 {
		sys = &geminiContent{Parts: system}
	}
	return sys, b.contents, nil
}

func geminiTextParts(parts []chatPart) []geminiPart {
	out := make([]geminiPart, len(parts))
	for i, p := range parts {
		out[i] = geminiPart{Text: p.Text}
	}
	return out
}

func (b *geminiMessageBuilder) userParts(parts []chatPart) ([]geminiPart, error) {
	out := make([]geminiPart, 0, len(parts))
	for _, p := range parts {
		switch p.Kind {
		case partText:
			out = append(out, geminiPart{Text: p.Text})
		case partImage:
			part, err := b.media(p)
			if err != nil {
				return nil, err
			}
			out = append(out, part)
		case partAudio:
			if p.Data == "" || p.Format == "" {
				return nil, BadRequest("invalid_messages", p.path()+": input_audio needs 'data' and 'format'")
			}
			out = append(out, geminiPart{InlineData: &geminiBlob{MimeType: "audio/" + p.Format, Data: p.Data}})
		case partFile:
			if p.Data == "" {
				return nil, fileIDError(p, "Gemini")
			}
			blob, err := geminiInline(p)
			if err != nil {
				return nil, err
			}
			out = append(out, geminiPart{InlineData: blob})
		}
	}
	return out, nil
}

// media maps an image URL to a part: data: URLs inline, https:// and gs://
// URLs by reference, which Gemini fetches itself. Plain http:// is refused
// because Gemini does not fetch it.
func (b *geminiMessageBuilder) media(p chatPart) (geminiPart, error) {
	if p.Data != "" {
		blob, err := geminiInline(p)
		if err != nil {
			return geminiPart{}, err
		}
		return geminiPart{InlineData: blob}, nil
	}
	l := strings.ToLower(p.URL)
	if strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "gs://") {
		mt := geminiMediaType(l)
		if mt == "" && b.vertex {
			mt = "image/jpeg" // Vertex AI requires one; Gemini reads the bytes
		}
		return geminiPart{FileData: &geminiFileData{MimeType: mt, FileURI: p.URL}}, nil
	}
	if strings.HasPrefix(l, "http://") {
		return geminiPart{}, BadRequest("invalid_value", p.path()+": Gemini only fetches https:// and gs:// URLs; send this image as https:// or as a data: URL")
	}
	return geminiPart{}, BadRequest("invalid_value", p.path()+": image_url.url must be a data: URL, an https:// URL or a gs:// URL")
}

// geminiInline is an inline blob of a data URL part; Gemini needs its
// media type.
func geminiInline(p chatPart) (*geminiBlob, error) {
	if !strings.Contains(p.MediaType, "/") {
		return nil, BadRequest("invalid_value", p.path()+": data URL needs a media type such as image/png")
	}
	return &geminiBlob{MimeType: p.MediaType, Data: p.Data}, nil
}

// geminiMediaType guesses a media type from a URL's file extension; a fixed
// table, so the result does not depend on the host's MIME database.
func geminiMediaType(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	ext := u[strings.LastIndexByte(u, '.')+1:]
	switch ext {
	case "png":
		return "image/png"
	case "jpg", "jpeg":
		return "image/jpeg"
	case "webp":
		return "image/webp"
	case "gif":
		return "image/gif"
	case "heic":
		return "image/heic"
	case "heif":
		return "image/heif"
	case "pdf":
		return "application/pdf"
	}
	return ""
}

func (b *geminiMessageBuilder) assistantParts(m *chatMessage) []geminiPart {
	parts := geminiTextParts(m.Parts)
	texts := len(parts)
	bySig, loose := geminiSignatures(m.Reasoning)
	for _, tc := range m.ToolCalls {
		if b.toolNames == nil {
			b.toolNames = map[string]string{}
		}
		b.toolNames[tc.ID] = tc.Name
		parts = append(parts, geminiPart{FunctionCall: &geminiFunctionCall{Name: tc.Name, Args: tc.Input}, ThoughtSignature: bySig[tc.ID]})
	}
	// A signature without a tool call id goes where Gemini put it: on the
	// first function call of the turn, else on its last text part.
	if len(loose) > 0 {
		switch {
		case texts < len(parts) && parts[texts].ThoughtSignature == "":
			parts[texts].ThoughtSignature = loose[0]
		case texts > 0 && parts[texts-1].ThoughtSignature == "":
			parts[texts-1].ThoughtSignature = loose[len(loose)-1]
		}
	}
	if b.gen3 && texts < len(parts) && parts[texts].ThoughtSignature == "" {
		parts[texts].ThoughtSignature = geminiSkipSignature
	}
	return parts
}

// geminiSignatures reads the thought signatures an assistant message
// carries back in reasoning_details: by tool call id, and those without.
// Entries of other providers (another format) are left out.
func geminiSignatures(details []reasoningDetail) (map[string]string, []string) {
	var byID map[string]string
	var loose []string
	for _, d := range details {
		if d.Type != "reasoning.encrypted" {
			continue // reasoning text is not sent back: Gemini keeps its thoughts in the signature
		}
		if d.Format != "" && d.Format != geminiDetailFormat {
			continue
		}
		if d.ID != "" {
			if byID == nil {
				byID = map[string]string{}
			}
			byID[d.ID] = d.Data
			continue
		}
		loose = append(loose, d.Data)
	}
	return byID, loose
}

func (b *geminiMessageBuilder) toolResult(m *chatMessage) ([]geminiPart, error) {
	name, ok := b.toolNames[m.ToolCallID]
	if !ok {
		return nil, BadRequest("invalid_messages", m.path()+": tool_call_id "+strconv.Quote(m.ToolCallID)+" matches no tool call of an earlier assistant message")
	}
	return geminiResultParts(name, m.Parts), nil
}

// geminiResultParts wraps a tool result: a JSON object result is the
// response itself, anything else goes under "output", the key Gemini's
// documentation uses for a function's output.
func geminiResultParts(name string, parts []chatPart) []geminiPart {
	text := ""
	if len(parts) == 1 {
		text = parts[0].Text
	} else {
		var sb strings.Builder
		for _, p := range parts {
			sb.WriteString(p.Text)
		}
		text = sb.String()
	}
	var resp []byte
	if t := strings.TrimSpace(text); t != "" && t[0] == '{' && gjson.Valid(t) {
		resp = []byte(t)
	} else {
		resp = appendJSONString([]byte(`{"output":`), text)
		resp = append(resp, '}')
	}
	return []geminiPart{{FunctionResponse: &geminiFunctionResponse{Name: name, Response: resp}}}
}

func geminiTools(tools gjson.Result) ([]geminiFunctionDeclaration, error) {
	fts, err := functionTools(tools)
	if err != nil {
		return nil, err
	}
	var out []geminiFunctionDeclaration
	for _, t := range fts {
		d := geminiFunctionDeclaration{Name: t.Name, Description: t.Description}
		// Gemini rejects an object schema without properties: a function
		// without arguments declares no parameters.
		if t.Params.Exists() {
			if s := geminiSchema(t.Params); gjson.GetBytes(s, "properties").Exists() || gjson.GetBytes(s, "type").Str != "object" {
				d.Parameters = s
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// geminiToolChoice maps tool_choice to a function calling mode. An
// allowed_tools choice narrows the declared functions (auto) or the
// functions Gemini may call (required).
func geminiToolChoice(tc gjson.Result, decls []geminiFunctionDeclaration) (*geminiToolConfig, []geminiFunctionDeclaration, error) {
	var c *geminiToolConfig
	mode := func(m string, names ...string) *geminiToolConfig {
		return &geminiToolConfig{FunctionCallingConfig: geminiFunctionCallingConfig{Mode: m, AllowedFunctionNames: names}}
	}
	declared := func(name string) bool {
		for _, d := range decls {
			if d.Name == name {
				return true
			}
		}
		return false
	}
	switch {
	case !tc.Exists() || tc.Type == gjson.Null:
		return nil, decls, nil
	case tc.Type == gjson.String:
		switch tc.Str {
		case "auto":
			c = mode("AUTO")
		case "none":
			c = mode("NONE")
		case "required":
			c = mode("ANY")
		default:
			return nil, nil, BadRequest("invalid_value", "'tool_choice' must be auto, none, required or a function: got "+strconv.Quote(tc.Str))
		}
	case tc.IsObject() && tc.Get("type").Str == "function":
		name := tc.Get("function.name").String()
		if name == "" {
			return nil, nil, BadRequest("invalid_value", "'tool_choice.function.name' is required")
		}
		if len(decls) > 0 && !declared(name) {
			return nil, nil, BadRequest("invalid_value", "'tool_choice' names function "+strconv.Quote(name)+", which is not in 'tools'")
		}
		c = mode("ANY", name)
	case tc.IsObject() && tc.Get("type").Str == "allowed_tools":
		var names []string
		for _, t := range tc.Get("allowed_tools.tools").Array() {
			if n := t.Get("function.name").String(); n != "" && declared(n) {
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			return nil, nil, BadRequest("invalid_value", "'tool_choice.allowed_tools.tools' names no function of 'tools'")
		}
		switch m := tc.Get("allowed_tools.mode").String(); m {
		case "required":
			c = mode("ANY", names...)
		case "auto", "":
			kept := make([]geminiFunctionDeclaration, 0, len(names))
			for _, d := range decls {
				for _, n := range names {
					if d.Name == n {
						kept = append(kept, d)
						break
					}
				}
			}
			decls, c = kept, mode("AUTO")
		default:
			return nil, nil, BadRequest("invalid_value", "'tool_choice.allowed_tools.mode' must be auto or required: got "+strconv.Quote(m))
		}
	default:
		return nil, nil, BadRequest("unsupported_parameter", "'tool_choice' must be auto, none, required, {\"type\":\"function\",...} or {\"type\":\"allowed_tools\",...}")
	}
	if len(decls) == 0 {
		if m := c.FunctionCallingConfig.Mode; m == "ANY" {
			return nil, nil, BadRequest("invalid_value", "'tool_choice' requires 'tools'")
		}
		return nil, nil, nil // nothing to choose from; auto and none mean the same
	}
	return c, decls, nil
}

func geminiGenConfig(root gjson.Result, model string) (*geminiGenerationConfig, error) {
	gc := &geminiGenerationConfig{}
	var err error
	for _, p := range []struct {
		name    string
		integer bool
		dst     *json.RawMessage
	}{
		{"temperature", false, &gc.Temperature},
		{"top_p", false, &gc.TopP},
		{"top_k", true, &gc.TopK},
		{"seed", true, &gc.Seed},
		{"presence_penalty", false, &gc.PresencePenalty},
		{"frequency_penalty", false, &gc.FrequencyPenalty},
	} {
		if *p.dst, err = numberParam(root, p.name, p.integer); err != nil {
			return nil, err
		}
	}
	// max_completion_tokens replaced the deprecated max_tokens; it wins.
	for _, k := range []string{"max_completion_tokens", "max_tokens"} {
		if gc.MaxOutputTokens, err = geminiPositiveInt(root, k); err != nil || gc.MaxOutputTokens > 0 {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	n, err := geminiPositiveInt(root, "n")
	if err != nil {
		return nil, err
	}
	if n > 1 {
		gc.CandidateCount = n
	}
	if gc.StopSequences, err = stopSequences(root.Get("stop")); err != nil {
		return nil, err
	}
	if err := geminiResponseFormat(root.Get("response_format"), gc); err != nil {
		return nil, err
	}
	if gc.ThinkingConfig, err = geminiThinking(root, model); err != nil {
		return nil, err
	}
	if gc.ResponseModalities, err = geminiModalities(root.Get("modalities")); err != nil {
		return nil, err
	}
	if gc.empty() {
		return nil, nil
	}
	return gc, nil
}

// geminiModalities maps OpenRouter's output modalities (["image",
// "text"]) to Gemini's responseModalities; nil leaves the model's
// default (text).
func geminiModalities(m gjson.Result) ([]string, error) {
	if !m.Exists() || m.Type == gjson.Null {
		return nil, nil
	}
	if !m.IsArray() {
		return nil, BadRequest("invalid_value", "'modalities' must be an array of \"text\" and \"image\"")
	}
	var out []string
	for _, v := range m.Array() {
		switch v.Str {
		case "text":
			out = append(out, "TEXT")
		case "image":
			out = append(out, "IMAGE")
		default:
			return nil, BadRequest("invalid_value", "'modalities' may hold \"text\" and \"image\"; Gemini models cannot answer "+strconv.Quote(v.String()))
		}
	}
	return out, nil
}

// geminiPositiveInt reads an optional positive integer parameter; 0 when absent.
func geminiPositiveInt(root gjson.Result, name string) (int64, error) {
	r := root.Get(name)
	if !r.Exists() || r.Type == gjson.Null {
		return 0, nil
	}
	if r.Type != gjson.Number || r.Num < 1 || r.Num != math.Trunc(r.Num) || r.Num > math.MaxInt32 {
		return 0, BadRequest("invalid_value", "'"+name+"' must be a positive integer")
	}
	return int64(r.Num), nil
}

// geminiResponseFormat maps structured output to Gemini's JSON mode, with
// the schema rewritten to the subset Gemini's responseSchema accepts.
func geminiResponseFormat(rf gjson.Result, gc *geminiGenerationConfig) error {
	if !rf.Exists() || rf.Type == gjson.Null {
		return nil
	}
	switch t := rf.Get("type").String(); t {
	case "text":
	case "json_object":
		gc.ResponseMimeType = "application/json"
	case "json_schema":
		gc.ResponseMimeType = "application/json"
		if s := rf.Get("json_schema.schema"); s.IsObject() {
			gc.ResponseSchema = geminiSchema(s)
		} else if s.Exists() {
			return BadRequest("invalid_value", "'response_format.json_schema.schema' must be a JSON Schema object")
		}
	default:
		return BadRequest("unsupported_parameter", "'response_format' of type "+strconv.Quote(t)+" is not supported by Gemini models")
	}
	return nil
}

// Thinking budgets for reasoning efforts on models that take a budget
// (Gemini 2.5); Gemini 3 takes the effort as a thinking level.
var geminiEffortBudget = map[string]int64{"minimal": 512, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 24576}

// geminiThinking maps reasoning_effort and OpenRouter's reasoning object
// {effort, max_tokens, exclude, enabled} to a thinking config. Thoughts are
// returned unless reasoning.exclude is set.
func geminiThinking(root gjson.Result, model string) (*geminiThinkingConfig, error) {
	r, eff := root.Get("reasoning"), root.Get("reasoning_effort")
	hasR := r.Exists() && r.Type != gjson.Null
	if !hasR && (!eff.Exists() || eff.Type == gjson.Null) {
		return nil, nil
	}
	if hasR && !r.IsObject() {
		return nil, BadRequest("invalid_value", "'reasoning' must be an object")
	}
	name := "reasoning_effort"
	if e := r.Get("effort"); e.Exists() && e.Type != gjson.Null {
		eff, name = e, "reasoning.effort"
	}
	effort := eff.String()
	if _, ok := geminiEffortBudget[effort]; !ok && effort != "" && effort != "none" {
		return nil, BadRequest("invalid_value", "'"+name+"' must be one of none, minimal, low, medium, high, xhigh: got "+strconv.Quote(effort))
	}
	budget := int64(-1)
	if mt := r.Get("max_tokens"); mt.Exists() && mt.Type != gjson.Null {
		if mt.Type != gjson.Number || mt.Num < 0 || mt.Num != math.Trunc(mt.Num) || mt.Num > math.MaxInt32 {
			return nil, BadRequest("invalid_value", "'reasoning.max_tokens' must be a non-negative integer")
		}
		budget = int64(mt.Num)
	}
	off := r.Get("enabled").Type == gjson.False || effort == "none" || budget == 0
	gen3 := geminiGeneration(model) >= 3
	pro := strings.Contains(model, "-pro")
	c := &geminiThinkingConfig{IncludeThoughts: !off && r.Get("exclude").Type != gjson.True}
	setBudget := func(n int64) { c.ThinkingBudget = &n }
	switch {
	case off && gen3:
		// Gemini 3 always thinks; the lowest level is the nearest to none.
		c.ThinkingLevel = "minimal"
		if pro {
			c.ThinkingLevel = "low"
		}
	case off && pro:
		setBudget(128) // 2.5 Pro cannot turn thinking off; 128 is its least
	case off:
		setBudget(0)
	case budget > 0:
		setBudget(budget)
	case effort != "" && gen3:
		c.ThinkingLevel = effort
		if effort == "xhigh" {
			c.ThinkingLevel = "high"
		} else if effort == "minimal" && pro {
			c.ThinkingLevel = "low"
		}
	case effort != "":
		setBudget(geminiEffortBudget[effort])
	case !gen3:
		setBudget(-1) // reasoning enabled, no effort: Gemini decides
	}
	return c, nil
}

var _ Translator = openAIToGemini{}
