package translators

import "encoding/json"

// The OpenAI chat request the Responses ingress writes; only what it sets.
type respChatRequest struct {
	Model               string            `json:"model"`
	Messages            []respChatMsg     `json:"messages"`
	MaxCompletionTokens int64             `json:"max_completion_tokens,omitempty"`
	Temperature         json.RawMessage   `json:"temperature,omitempty"`
	TopP                json.RawMessage   `json:"top_p,omitempty"`
	Stream              bool              `json:"stream,omitempty"`
	StreamOptions       *respStreamOpts   `json:"stream_options,omitempty"`
	Tools               []respChatTool    `json:"tools,omitempty"`
	Modalities          []string          `json:"modalities,omitempty"`
	ToolChoice          any               `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool             `json:"parallel_tool_calls,omitempty"`
	Reasoning           *respReasoningObj `json:"reasoning,omitempty"`
	ResponseFormat      *respChatFormat   `json:"response_format,omitempty"`
	Verbosity           string            `json:"verbosity,omitempty"`
	ServiceTier         string            `json:"service_tier,omitempty"`
	User                string            `json:"user,omitempty"`
	Models              json.RawMessage   `json:"models,omitempty"`
	Provider            json.RawMessage   `json:"provider,omitempty"`
	SessionID           string            `json:"session_id,omitempty"`
}

type respStreamOpts struct {
	IncludeUsage bool `json:"include_usage"`
}

type respChatMsg struct {
	Role string `json:"role"`
	// Content is a string, []respChatPart, or nil (null) for an assistant
	// turn of tool calls only.
	Content          any               `json:"content"`
	ReasoningDetails []json.RawMessage `json:"reasoning_details,omitempty"`
	ToolCalls        []respToolCall    `json:"tool_calls,omitempty"`
	ToolCallID       string            `json:"tool_call_id,omitempty"`
}

type respChatPart struct {
	Type     string        `json:"type"` // text, image_url or file
	Text     string        `json:"text,omitempty"`
	ImageURL *respImageURL `json:"image_url,omitempty"`
	File     *respFile     `json:"file,omitempty"`
}

type respImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

type respFile struct {
	Filename string `json:"filename,omitempty"`
	FileData string `json:"file_data"`
}

type respToolCall struct {
	ID       string           `json:"id"`
	Type     string           `json:"type"`
	Function respFunctionCall `json:"function"`
}

type respFunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type respChatTool struct {
	Type     string       `json:"type"`
	Function respFunction `json:"function"`
}

type respFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      *bool           `json:"strict,omitempty"`
}

type respNamedChoice struct {
	Type     string `json:"type"`
	Function struct {
		Name string `json:"name"`
	} `json:"function"`
}

// respReasoningObj is OpenRouter's reasoning object.
type respReasoningObj struct {
	Effort string `json:"effort,omitempty"`
}

type respChatFormat struct {
	Type       string          `json:"type"`
	JSONSchema *respJSONSchema `json:"json_schema,omitempty"`
}

type respJSONSchema struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema"`
	Strict      *bool           `json:"strict,omitempty"`
}
