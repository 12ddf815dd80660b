package translators

import (
	"encoding/json"
	"strings"
)

// Amazon Bedrock Converse API request wire types
// (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html).
// Responses and stream events are read with gjson instead.

const (
	// bedrockStructuredPrefix names the tool that carries structured output
	// (response_format), so the response side, which never sees the
	// request, can tell its input is the answer rather than a tool call.
	bedrockStructuredPrefix = "structured_output_"
	// bedrockAnswerTokens is the room left for the answer on top of a
	// reasoning budget when the client sets no max_tokens.
	bedrockAnswerTokens = 4096
	// bedrockMinThinkingBudget is the smallest thinking budget Anthropic
	// models accept.
	bedrockMinThinkingBudget = 1024
)

// bedrockEffortBudgets maps an OpenAI reasoning effort to a thinking budget
// when the client sets no max_tokens.
var bedrockEffortBudgets = map[string]int64{"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 32000}

// bedrockEffortShares is the share of max_tokens an effort gives to
// thinking when the client sets max_tokens (OpenRouter's rule).
var bedrockEffortShares = map[string]float64{"minimal": 0.1, "low": 0.2, "medium": 0.5, "high": 0.8, "xhigh": 0.95}

type bedrockRequest struct {
	Messages                     []bedrockMessage         `json:"messages"`
	System                       []bedrockBlock           `json:"system,omitempty"`
	InferenceConfig              *bedrockInferenceConfig  `json:"inferenceConfig,omitempty"`
	ToolConfig                   *bedrockToolConfig       `json:"toolConfig,omitempty"`
	AdditionalModelRequestFields *bedrockAdditionalFields `json:"additionalModelRequestFields,omitempty"`
}

type bedrockMessage struct {
	Role    string         `json:"role"`
	Content []bedrockBlock `json:"content"`
}

// bedrockBlock is a ContentBlock (or a SystemContentBlock): a union, so
// exactly one field is set.
type bedrockBlock struct {
	Text             string             `json:"text,omitempty"`
	Image            *bedrockImage      `json:"image,omitempty"`
	Document         *bedrockDocument   `json:"document,omitempty"`
	ToolUse          *bedrockToolUse    `json:"toolUse,omitempty"`
	ToolResult       *bedrockToolResult `json:"toolResult,omitempty"`
	ReasoningContent *bedrockReasoning  `json:"reasoningContent,omitempty"`
	CachePoint       *bedrockCachePoint `json:"cachePoint,omitempty"`
	JSON             json.RawMessage    `json:"json,omitempty"` // tool result content only
}

type bedrockImage struct {
	Format string             `json:"format"` // png, jpeg, gif, webp
	Source bedrockImageSource `json:"source"`
}

// bedrockDocument is a DocumentBlock (bedrock_document.go).
type bedrockDocument struct {
	Format string             `json:"format"` // pdf, csv, doc, docx, xls, xlsx, html, txt, md
	Name   string             `json:"name"`
	Source bedrockImageSource `json:"source"`
}

type bedrockImageSource struct {
	Bytes string `json:"bytes"` // base64, as JSON carries blobs
}

type bedrockToolUse struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

type bedrockToolResult struct {
	ToolUseID string         `json:"toolUseId"`
	Content   []bedrockBlock `json:"content"`
}

// bedrockReasoning is a ReasoningContentBlock: reasoning text with its
// signature, or redacted (encrypted) reasoning.
type bedrockReasoning struct {
	ReasoningText   *bedrockReasoningText `json:"reasoningText,omitempty"`
	RedactedContent string                `json:"redactedContent,omitempty"` // base64
}

type bedrockReasoningText struct {
	Text      string `json:"text"`
	Signature string `json:"signature,omitempty"`
}

type bedrockCachePoint struct {
	Type string `json:"type"` // default
}

type bedrockInferenceConfig struct {
	MaxTokens     int64           `json:"maxTokens,omitempty"`
	Temperature   json.RawMessage `json:"temperature,omitempty"`
	TopP          json.RawMessage `json:"topP,omitempty"`
	StopSequences []string        `json:"stopSequences,omitempty"`
}

type bedrockToolConfig struct {
	Tools      []bedrockTool      `json:"tools"`
	ToolChoice *bedrockToolChoice `json:"toolChoice,omitempty"`
}

type bedrockTool struct {
	ToolSpec bedrockToolSpec `json:"toolSpec"`
}

type bedrockToolSpec struct {
	Name        string             `json:"name"`
	Description string             `json:"description,omitempty"`
	InputSchema bedrockInputSchema `json:"inputSchema"`
}

type bedrockInputSchema struct {
	JSON json.RawMessage `json:"json"`
}

// bedrockToolChoice is a union: auto, any or one named tool.
type bedrockToolChoice struct {
	Auto *struct{}         `json:"auto,omitempty"`
	Any  *struct{}         `json:"any,omitempty"`
	Tool *bedrockNamedTool `json:"tool,omitempty"`
}

type bedrockNamedTool struct {
	Name string `json:"name"`
}

// bedrockAdditionalFields are model-specific fields Bedrock passes through
// to the model.
type bedrockAdditionalFields struct {
	TopK     json.RawMessage  `json:"top_k,omitempty"`
	Thinking *bedrockThinking `json:"thinking,omitempty"`
	// InferenceConfig carries Amazon Nova's topK.
	InferenceConfig *bedrockNovaInference `json:"inferenceConfig,omitempty"`
}

type bedrockThinking struct {
	Type         string `json:"type"` // enabled
	BudgetTokens int64  `json:"budget_tokens"`
}

type bedrockNovaInference struct {
	TopK json.RawMessage `json:"topK"`
}

// bedrockFamily is the model family a Bedrock model id (or inference
// profile id, or ARN naming one) belongs to, for the fields only some
// families take. An application inference profile ARN names no family.
type bedrockFamily int

const (
	bedrockOther bedrockFamily = iota
	bedrockAnthropic
	bedrockNova
)

func bedrockFamilyOf(model string) bedrockFamily {
	m := strings.ToLower(model)
	switch {
	case strings.Contains(m, "anthropic."):
		return bedrockAnthropic
	case strings.Contains(m, "amazon.nova"):
		return bedrockNova
	}
	return bedrockOther
}

// bedrockFinishReason maps a Converse stopReason to an OpenAI finish_reason.
func bedrockFinishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "guardrail_intervened", "content_filtered":
		return "content_filter"
	default: // end_turn, stop_sequence
		return "stop"
	}
}

// bedrockImageFormat maps an image media type to a Converse image format.
func bedrockImageFormat(mediaType string) (string, bool) {
	switch strings.ToLower(mediaType) {
	case "image/png":
		return "png", true
	case "image/jpeg", "image/jpg":
		return "jpeg", true
	case "image/gif":
		return "gif", true
	case "image/webp":
		return "webp", true
	}
	return "", false
}

// bedrockEscapeModel escapes a model id for the request path as the AWS
// SDKs do: everything but unreserved characters, so the ':' of a version
// and the '/' of an ARN stay inside one segment.
func bedrockEscapeModel(id string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(id) + 8)
	for i := 0; i < len(id); i++ {
		c := id[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}
