package translators

import (
	"net"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// openAIQuirks is what one OpenAI-compatible host accepts beyond (or short
// of) OpenAI's own chat completions API. The table below is data taken from
// each host's public API reference; a host not in it gets genericQuirks,
// which passes the request through as the client sent it.
type openAIQuirks struct {
	// name identifies the entry in tests and logs.
	name string
	// tokenField is the output limit the host wants: max_completion_tokens
	// or max_tokens. The client's other spelling is renamed to it; "" keeps
	// whatever the client sent.
	tokenField string
	// drop lists parameters the host rejects or ignores.
	drop []paramRule
	// allow, when set, lists every top-level field the host accepts (hosts
	// that answer 422 to unknown fields); any other field is dropped.
	allow []string
	// dropMessageNames removes messages[].name, which the host rejects.
	dropMessageNames bool
	// developerAsSystem sends developer messages as system messages to a
	// host that predates the developer role.
	developerAsSystem bool
	// seedField renames seed to the host's own spelling.
	seedField string
	// noStreamOptions: the host rejects stream_options but reports usage in
	// its last chunk anyway, so the gateway never adds it.
	noStreamOptions bool

	// Model families, by model id prefix or substring. A reasoning model
	// also drops reasoningDrop; a plain model drops reasoning_effort. Models
	// in neither list are passed through as sent.
	reasoningPrefixes []string
	plainPrefixes     []string
	plainMarks        []string
	reasoningDrop     []paramRule

	// reasoningEffort: the host accepts reasoning_effort, so the
	// OpenRouter-style reasoning object's effort maps to it.
	reasoningEffort bool
	// nativeReasoning: the host takes OpenRouter's reasoning object as is.
	nativeReasoning bool
	// history says what reasoning on earlier assistant messages becomes.
	history historyReasoning
}

// paramRule is a parameter a host cannot take. It is always removed from
// the body; it is reported as dropped unless its value is null or harmless
// (n: 1 asks for nothing a host could fail to honour).
type paramRule struct {
	path     string
	harmless string // raw JSON value that is removed silently
}

type historyReasoning int

const (
	// historyStrip removes reasoning, reasoning_details and
	// reasoning_content from assistant messages: the host rejects them.
	historyStrip historyReasoning = iota
	// historyReasoningContent sends the reasoning text back as
	// reasoning_content (DeepSeek requires it on tool-call turns).
	historyReasoningContent
	// historyKeep passes OpenRouter's own fields through.
	historyKeep
)

func drops(paths ...string) []paramRule {
	out := make([]paramRule, len(paths))
	for i, p := range paths {
		out[i] = paramRule{path: p}
		if p == "logprobs" {
			out[i].harmless = "false"
		}
	}
	return out
}

// openRouterExtras are OpenRouter sampling parameters that OpenAI itself
// (and its strict clones) reject as unknown.
var openRouterExtras = []string{"top_k", "top_a", "min_p", "repetition_penalty"}

var (
	// OpenAI itself: https://platform.openai.com/docs/api-reference/chat/create
	// max_tokens "is not compatible with o-series models"; reasoning models
	// reject sampling parameters ("Unsupported parameter: 'temperature' is
	// not supported with this model",
	// https://platform.openai.com/docs/guides/reasoning); unknown fields are
	// 400 "Unrecognized request argument supplied".
	openAIQuirksTable = openAIQuirks{
		name:              "openai",
		tokenField:        "max_completion_tokens",
		drop:              drops(openRouterExtras...),
		reasoningPrefixes: []string{"o1", "o3", "o4", "gpt-5"},
		plainPrefixes:     []string{"gpt-3.5", "gpt-4", "chatgpt-4o", "gpt-5-chat"},
		reasoningDrop:     drops("temperature", "top_p", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs"),
		reasoningEffort:   true,
	}

	openAIHostQuirks = []struct {
		suffix string
		q      *openAIQuirks
	}{
		{"api.openai.com", &openAIQuirksTable},
		// https://console.groq.com/docs/openai: logprobs, logit_bias,
		// top_logprobs and messages[].name are a 400, n must be 1.
		// https://console.groq.com/docs/api-reference#chat-create lists
		// max_completion_tokens, max_tokens deprecated.
		{"api.groq.com", &openAIQuirks{
			name:             "groq",
			tokenField:       "max_completion_tokens",
			drop:             append(drops("logprobs", "logit_bias", "top_logprobs", "top_a", "min_p", "repetition_penalty", "top_k"), paramRule{"n", "1"}),
			dropMessageNames: true,
			reasoningEffort:  true,
		}},
		// https://docs.together.ai/reference/chat-completions-1: max_tokens,
		// top_k and repetition_penalty native; logprobs is an integer there,
		// not OpenAI's boolean. Usage comes in the last chunk.
		{"api.together.xyz", &openAIQuirks{
			name:            "together",
			tokenField:      "max_tokens",
			drop:            drops("logprobs", "top_logprobs"),
			noStreamOptions: true,
			reasoningEffort: true,
		}},
		// https://docs.fireworks.ai/tools-sdks/openai-compatibility: usage
		// is returned in the chunk that carries finish_reason.
		{"api.fireworks.ai", &openAIQuirks{
			name:            "fireworks",
			tokenField:      "max_tokens",
			noStreamOptions: true,
			reasoningEffort: true,
		}},
		// https://api-docs.deepseek.com/api/create-chat-completion lists no
		// n, seed, logit_bias or top_k; deepseek-reasoner ignores sampling
		// parameters and rejects logprobs
		// (https://api-docs.deepseek.com/guides/reasoning_model); thinking
		// mode needs reasoning_content back on tool-call turns
		// (https://api-docs.deepseek.com/guides/thinking_mode).
		{"api.deepseek.com", &openAIQuirks{
			name:              "deepseek",
			tokenField:        "max_tokens",
			drop:              append(drops("seed", "logit_bias", "top_k", "top_a", "min_p", "repetition_penalty"), paramRule{"n", "1"}),
			reasoningPrefixes: []string{"deepseek-reasoner"},
			reasoningDrop:     drops("temperature", "top_p", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs"),
			reasoningEffort:   true,
			history:           historyReasoningContent,
		}},
		// https://docs.mistral.ai/api/#tag/chat/operation/chat_completion_v1_chat_completions_post:
		// unknown fields are a 422 (extra_forbidden), stream_options too;
		// the seed is random_seed; usage comes in the last chunk.
		{"api.mistral.ai", &openAIQuirks{
			name:       "mistral",
			tokenField: "max_tokens",
			allow: []string{"model", "messages", "temperature", "top_p", "max_tokens", "stream", "stop", "random_seed",
				"metadata", "response_format", "tools", "tool_choice", "presence_penalty", "frequency_penalty", "n",
				"prediction", "parallel_tool_calls", "prompt_mode", "safe_prompt"},
			dropMessageNames:  true,
			developerAsSystem: true,
			seedField:         "random_seed",
			noStreamOptions:   true,
		}},
		// https://docs.x.ai/docs/guides/reasoning: reasoning models reject
		// presence_penalty, frequency_penalty and stop.
		{"api.x.ai", &openAIQuirks{
			name:              "xai",
			tokenField:        "max_completion_tokens",
			drop:              drops(openRouterExtras...),
			reasoningPrefixes: []string{"grok-3-mini", "grok-4", "grok-code"},
			plainMarks:        []string{"non-reasoning"},
			reasoningDrop:     drops("presence_penalty", "frequency_penalty", "stop"),
			reasoningEffort:   true,
		}},
		// https://openrouter.ai/docs/api-reference/parameters and
		// https://openrouter.ai/docs/use-cases/reasoning-tokens: the reasoning
		// object and reasoning_details are its own.
		{"openrouter.ai", &openAIQuirks{
			name:            "openrouter",
			tokenField:      "max_tokens",
			reasoningEffort: true,
			nativeReasoning: true,
			history:         historyKeep,
		}},
	}

	// localQuirks serves vLLM and Ollama on loopback or a private name:
	// both take max_tokens and ignore what they do not know.
	localQuirks = openAIQuirks{name: "local", tokenField: "max_tokens", reasoningEffort: true}

	// genericQuirks serves any other host: the request passes through.
	genericQuirks = openAIQuirks{name: "generic", reasoningEffort: true}
)

// openAIQuirksFor picks the quirks of a host by its name.
func openAIQuirksFor(host string) *openAIQuirks {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, h := range openAIHostQuirks {
		if host == h.suffix || strings.HasSuffix(host, "."+h.suffix) {
			return h.q
		}
	}
	// Loopback, private names and single-label names (compose services
	// such as "ollama" or "vllm") are self-hosted servers.
	if host != "" && !strings.Contains(host, ".") || strings.HasSuffix(host, ".localhost") ||
		strings.HasSuffix(host, ".local") || strings.HasSuffix(host, ".internal") {
		return &localQuirks
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil && (ip.IsLoopback() || ip.IsPrivate()) {
		return &localQuirks
	}
	return &genericQuirks
}

type modelFamily int

const (
	familyUnknown modelFamily = iota
	familyPlain
	familyReasoning
)

func (q *openAIQuirks) family(model string) modelFamily {
	m := strings.ToLower(model)
	for _, p := range q.plainMarks {
		if strings.Contains(m, p) {
			return familyPlain
		}
	}
	for _, p := range q.plainPrefixes {
		if strings.HasPrefix(m, p) {
			return familyPlain
		}
	}
	for _, p := range q.reasoningPrefixes {
		if strings.HasPrefix(m, p) {
			return familyReasoning
		}
	}
	return familyUnknown
}

// openAIBody rewrites an OpenAI chat request for a host's quirks. It never
// modifies body; the result is a new slice. dropped lists what the host
// cannot honour (the caller applies provider.require_parameters).
type openAIBody struct {
	q      *openAIQuirks
	model  string
	schema Schema
	// setModel replaces "model"; Azure removes it instead.
	setModel bool
}

func (o openAIBody) rewrite(body []byte, top *members, stream bool) ([]byte, []string, error) {
	q := o.q
	root := top.root
	var dropped []string
	var remove []string // top-level paths removed silently or as dropped
	note := func(r paramRule) {
		v := top.Get(r.path)
		if !v.Exists() {
			return
		}
		remove = append(remove, r.path)
		if v.Type != gjson.Null && (r.harmless == "" || v.Raw != r.harmless) {
			dropped = append(dropped, r.path)
		}
	}
	for _, r := range q.drop {
		note(r)
	}
	fam := q.family(o.model)
	if fam == familyReasoning {
		for _, r := range q.reasoningDrop {
			note(r)
		}
	}

	// Reasoning: the OpenRouter-style object maps to reasoning_effort where
	// the host has it; what cannot be honoured is dropped.
	effort := top.Get("reasoning_effort")
	var setEffort string
	if r := top.Get("reasoning"); r.Exists() && !q.nativeReasoning {
		remove = append(remove, "reasoning")
		if e := r.Get("effort"); e.Type == gjson.String && !effort.Exists() {
			if q.reasoningEffort && fam != familyPlain {
				setEffort = e.Str
			} else {
				dropped = append(dropped, "reasoning.effort")
			}
		}
		if r.Get("max_tokens").Exists() {
			dropped = append(dropped, "reasoning.max_tokens")
		}
		// reasoning.exclude is honoured on the way back (StreamOptions).
	}
	if effort.Exists() && (!q.reasoningEffort || fam == familyPlain) {
		note(paramRule{path: "reasoning_effort"})
	}
	// Gateway directives (OpenRouter's provider routing and usage
	// accounting) are meant for the gateway; OpenRouter itself takes usage.
	if top.Get("provider").Exists() {
		remove = append(remove, "provider")
	}
	if top.Get("usage").Exists() && !q.nativeReasoning {
		remove = append(remove, "usage")
	}
	if q.allow != nil {
		root.ForEach(func(k, _ gjson.Result) bool {
			if !contains(q.allow, k.Str) && !contains(remove, k.Str) && !o.handled(k.Str, q) {
				remove = append(remove, k.Str)
				dropped = append(dropped, k.Str)
			}
			return true
		})
	}

	b := body
	var err error
	set := func(path string, v any) {
		if err == nil {
			b, err = sjson.SetBytes(b, path, v)
		}
	}
	setRaw := func(path, raw string) {
		if err == nil {
			b, err = sjson.SetRawBytes(b, path, []byte(raw))
		}
	}
	del := func(path string) {
		if err == nil {
			b, err = sjson.DeleteBytes(b, path)
		}
	}
	if o.setModel {
		set("model", o.model)
	} else if top.Get("model").Exists() {
		del("model")
	}
	for _, p := range remove {
		del(p)
	}
	if setEffort != "" {
		set("reasoning_effort", setEffort)
	}
	// The output limit under the name the host wants; max_completion_tokens
	// replaced max_tokens, so it wins when both are set.
	if tf := q.tokenField; tf != "" {
		other := "max_tokens"
		if tf == other {
			other = "max_completion_tokens"
		}
		if top.Get(other).Exists() {
			del(other)
			limit := top.Get("max_completion_tokens")
			if limit.Type == gjson.Null || !limit.Exists() {
				limit = top.Get("max_tokens")
			}
			if limit.Exists() && limit.Type != gjson.Null {
				setRaw(tf, limit.Raw)
			}
		}
	}
	if q.seedField != "" {
		if s := top.Get("seed"); s.Exists() {
			del("seed")
			setRaw(q.seedField, s.Raw)
		}
	}
	if !stream || q.noStreamOptions {
		// OpenAI rejects stream_options without stream.
		if top.Get("stream_options").Exists() {
			del("stream_options")
		}
	} else {
		// Always ask for usage so the gateway can count tokens; the usage
		// chunk is dropped again if the client did not ask.
		set("stream_options.include_usage", true)
	}
	if err == nil {
		b, err = o.rewriteMessages(b, q, &dropped)
	}
	if err != nil {
		return nil, nil, BadRequest("invalid_request", "cannot rewrite the request for the provider: "+err.Error())
	}
	if len(dropped) > 0 {
		if _, err := dropOrReject(body, o.schema, dropped...); err != nil {
			return nil, nil, err
		}
	}
	return b, dropped, nil
}

// handled reports top-level fields a whitelist must not drop because the
// rewrite renames them.
func (o openAIBody) handled(k string, q *openAIQuirks) bool {
	return k == "seed" && q.seedField != "" || k == "max_completion_tokens" && q.tokenField == "max_tokens" ||
		k == "stream_options" || k == "model" || k == "reasoning" || k == "reasoning_effort"
}

// rewriteMessages applies the per-message quirks: names the host rejects
// and reasoning carried on earlier assistant turns.
func (o openAIBody) rewriteMessages(b []byte, q *openAIQuirks, dropped *[]string) ([]byte, error) {
	msgs := gjson.GetBytes(b, "messages")
	if !msgs.IsArray() {
		return b, nil
	}
	type edit struct {
		path string
		raw  string // "" deletes
	}
	var edits []edit
	named := false
	i := -1
	msgs.ForEach(func(_, m gjson.Result) bool {
		i++
		if !m.IsObject() {
			return true
		}
		at := "messages." + strconv.Itoa(i) + "."
		// One pass over the message; the first of a repeated name, as Get.
		var name, role, r, rd, rc gjson.Result
		m.ForEach(func(k, v gjson.Result) bool {
			var dst *gjson.Result
			switch k.Str {
			case "name":
				dst = &name
			case "role":
				dst = &role
			case "reasoning":
				dst = &r
			case "reasoning_details":
				dst = &rd
			case "reasoning_content":
				dst = &rc
			default:
				return true
			}
			if !dst.Exists() {
				*dst = v
			}
			return true
		})
		if q.dropMessageNames && name.Exists() {
			edits = append(edits, edit{path: at + "name"})
			named = true
		}
		if q.developerAsSystem && role.Str == "developer" {
			edits = append(edits, edit{path: at + "role", raw: `"system"`})
		}
		if q.history == historyKeep || role.Str != "assistant" {
			return true
		}
		if !r.Exists() && !rd.Exists() && !rc.Exists() {
			return true
		}
		if q.history == historyReasoningContent && !rc.Exists() {
			if text := reasoningText(r, rd); text != "" {
				edits = append(edits, edit{path: at + "reasoning_content", raw: string(appendJSONString(nil, text))})
			}
		}
		if r.Exists() {
			edits = append(edits, edit{path: at + "reasoning"})
		}
		if rd.Exists() {
			edits = append(edits, edit{path: at + "reasoning_details"})
		}
		if rc.Exists() && q.history == historyStrip {
			edits = append(edits, edit{path: at + "reasoning_content"})
		}
		return true
	})
	if named {
		*dropped = append(*dropped, droppedMessageNames)
	}
	var err error
	for _, e := range edits {
		if e.raw == "" {
			b, err = sjson.DeleteBytes(b, e.path)
		} else {
			b, err = sjson.SetRawBytes(b, e.path, []byte(e.raw))
		}
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// reasoningText is the plain reasoning of an assistant message: its
// reasoning string, or else the text of its reasoning.text details.
func reasoningText(r, details gjson.Result) string {
	if r.Type == gjson.String && r.Str != "" {
		return r.Str
	}
	var sb strings.Builder
	details.ForEach(func(_, d gjson.Result) bool {
		if d.Get("type").Str == "reasoning.text" {
			sb.WriteString(d.Get("text").Str)
		}
		return true
	})
	return sb.String()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
