package translators

import "encoding/json"

// Anthropic Messages API request wire types
// (https://docs.anthropic.com/en/api/messages). Responses and stream events
// are read with gjson instead, so only the fields the gateway reads are
// touched.

const (
	anthropicVersion = "2023-06-01"
	// anthropicDefaultMaxTokens fills max_tokens, which Anthropic requires
	// and OpenAI clients usually leave out.
	anthropicDefaultMaxTokens = 4096
	// anthropicReasoningFormat tags reasoning_details whose signatures only
	// Claude can verify, as OpenRouter does.
	anthropicReasoningFormat = "anthropic-claude-v1"
)

type anthropicRequest struct {
	Model     string `json:"model"`
	MaxTokens int64  `json:"max_tokens"`
	// System is a string or []anthropicBlock of text blocks.
	System        any                  `json:"system,omitempty"`
	Messages      []anthropicMessage   `json:"messages"`
	Tools         []anthropicTool      `json:"tools,omitempty"`
	ToolChoice    *anthropicToolChoice `json:"tool_choice,omitempty"`
	Thinking      *anthropicThinking   `json:"thinking,omitempty"`
	OutputConfig  *anthropicOutput     `json:"output_config,omitempty"`
	Temperature   json.RawMessage      `json:"temperature,omitempty"`
	TopP          json.RawMessage      `json:"top_p,omitempty"`
	TopK          json.RawMessage      `json:"top_k,omitempty"`
	StopSequences []string             `json:"stop_sequences,omitempty"`
	Stream        bool                 `json:"stream,omitempty"`
	Metadata      *anthropicMetadata   `json:"metadata,omitempty"`
}

type anthropicMessage struct {
	Role string `json:"role"`
	// Content is a string (one text block) or []anthropicBlock.
	Content any `json:"content"`
}

// anthropicBlock is one content block: text, image, tool_use, tool_result,
// thinking or redacted_thinking.
type anthropicBlock struct {
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
	// Thinking is the text of a thinking block; a pointer because the field
	// is required there even when empty.
	Thinking  *string               `json:"thinking,omitempty"`
	Signature string                `json:"signature,omitempty"`
	Data      string                `json:"data,omitempty"`   // of a redacted_thinking block
	Source    *anthropicImageSource `json:"source,omitempty"` // of an image or a document
	Title     string                `json:"title,omitempty"`  // of a document
	ID        string                `json:"id,omitempty"`
	Name      string                `json:"name,omitempty"`
	Input     json.RawMessage       `json:"input,omitempty"`
	ToolUseID string                `json:"tool_use_id,omitempty"`
	// Content of a tool_result: a string or []anthropicBlock.
	Content any `json:"content,omitempty"`
	// CacheControl marks a prompt-caching breakpoint, passed through as
	// the client sent it ({"type":"ephemeral"} with an optional ttl).
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

type anthropicImageSource struct {
	Type      string `json:"type"` // base64 or url
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

type anthropicTool struct {
	// Type is set for a server tool (web_search_20250305) only.
	Type        string          `json:"type,omitempty"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema,omitempty"`
	// MaxUses and UserLocation configure the web search server tool.
	MaxUses      int             `json:"max_uses,omitempty"`
	UserLocation json.RawMessage `json:"user_location,omitempty"`
	// CacheControl marks a prompt-caching breakpoint after this tool.
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// anthropicThinking enables extended thinking
// (https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking).
type anthropicThinking struct {
	Type         string `json:"type"` // enabled
	BudgetTokens int64  `json:"budget_tokens"`
}

// anthropicJSONTool names the tool that carries a response_format
// json_object answer (anthropicJSONObject). Its input becomes the message
// content, so clients cannot name a tool so.
const anthropicJSONTool = "structured_output_json"

// anthropicOutput is output_config; Format asks for JSON outputs matching a
// schema (https://docs.anthropic.com/en/docs/build-with-claude/structured-outputs).
type anthropicOutput struct {
	Format *anthropicOutputFormat `json:"format,omitempty"`
}

type anthropicOutputFormat struct {
	Type   string          `json:"type"` // json_schema
	Schema json.RawMessage `json:"schema"`
}

type anthropicToolChoice struct {
	Type                   string `json:"type"` // auto, any, tool, none
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

type anthropicMetadata struct {
	UserID string `json:"user_id"`
}

// anthropicFinishReason maps an Anthropic stop_reason to an OpenAI
// finish_reason.
func anthropicFinishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	default: // end_turn, stop_sequence, pause_turn
		return "stop"
	}
}
