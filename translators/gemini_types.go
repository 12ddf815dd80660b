package translators

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Gemini generateContent request wire types
// (https://ai.google.dev/api/generate-content), shared by the gemini and
// vertex-ai schemas: Vertex AI serves Gemini models with the same body.
// Responses and stream events are read with gjson instead.

const (
	// geminiDetailFormat marks reasoning_details entries that came from
	// Gemini, so a signature is only sent back to Gemini.
	geminiDetailFormat = "google-gemini-v1"
	// geminiSkipSignature is the value Google documents for a function call
	// whose thought signature is unknown (history from another model or a
	// client that dropped reasoning_details): Gemini 3 then skips the check
	// instead of rejecting the request.
	geminiSkipSignature = "skip_thought_signature_validator"
	// geminiMaxCandidates bounds the candidate index a stream tracks; the
	// API allows candidateCount up to 8.
	geminiMaxCandidates = 8
)

type geminiRequest struct {
	Contents          []geminiContent         `json:"contents"`
	SystemInstruction *geminiContent          `json:"systemInstruction,omitempty"`
	Tools             []geminiTool            `json:"tools,omitempty"`
	ToolConfig        *geminiToolConfig       `json:"toolConfig,omitempty"`
	GenerationConfig  *geminiGenerationConfig `json:"generationConfig,omitempty"`
}

type geminiContent struct {
	Role  string       `json:"role,omitempty"` // user or model
	Parts []geminiPart `json:"parts"`
}

// geminiPart is one part: exactly one of the data fields is set, plus an
// optional thought signature.
type geminiPart struct {
	Text             string                  `json:"text,omitempty"`
	InlineData       *geminiBlob             `json:"inlineData,omitempty"`
	FileData         *geminiFileData         `json:"fileData,omitempty"`
	FunctionCall     *geminiFunctionCall     `json:"functionCall,omitempty"`
	FunctionResponse *geminiFunctionResponse `json:"functionResponse,omitempty"`
	ThoughtSignature string                  `json:"thoughtSignature,omitempty"`
}

type geminiBlob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

type geminiFileData struct {
	MimeType string `json:"mimeType,omitempty"`
	FileURI  string `json:"fileUri"`
}

type geminiFunctionCall struct {
	Name string          `json:"name"`
	Args json.RawMessage `json:"args"`
}

type geminiFunctionResponse struct {
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
}

type geminiTool struct {
	FunctionDeclarations []geminiFunctionDeclaration `json:"functionDeclarations,omitempty"`
	// GoogleSearch grounds the answer in Google Search (the request's
	// web_search_options): {}.
	GoogleSearch *struct{} `json:"googleSearch,omitempty"`
}

type geminiFunctionDeclaration struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

type geminiToolConfig struct {
	FunctionCallingConfig geminiFunctionCallingConfig `json:"functionCallingConfig"`
}

type geminiFunctionCallingConfig struct {
	Mode                 string   `json:"mode"` // AUTO, ANY, NONE
	AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
}

type geminiGenerationConfig struct {
	Temperature      json.RawMessage       `json:"temperature,omitempty"`
	TopP             json.RawMessage       `json:"topP,omitempty"`
	TopK             json.RawMessage       `json:"topK,omitempty"`
	MaxOutputTokens  int64                 `json:"maxOutputTokens,omitempty"`
	StopSequences    []string              `json:"stopSequences,omitempty"`
	CandidateCount   int64                 `json:"candidateCount,omitempty"`
	Seed             json.RawMessage       `json:"seed,omitempty"`
	PresencePenalty  json.RawMessage       `json:"presencePenalty,omitempty"`
	FrequencyPenalty json.RawMessage       `json:"frequencyPenalty,omitempty"`
	ResponseMimeType string                `json:"responseMimeType,omitempty"`
	ResponseSchema   json.RawMessage       `json:"responseSchema,omitempty"`
	ThinkingConfig   *geminiThinkingConfig `json:"thinkingConfig,omitempty"`
	// ResponseModalities asks image models for images ("IMAGE").
	ResponseModalities []string `json:"responseModalities,omitempty"`
}

func (g *geminiGenerationConfig) empty() bool {
	return g.Temperature == nil && g.TopP == nil && g.TopK == nil && g.MaxOutputTokens == 0 &&
		g.StopSequences == nil && g.CandidateCount == 0 && g.Seed == nil && g.PresencePenalty == nil &&
		g.FrequencyPenalty == nil && g.ResponseMimeType == "" && g.ThinkingConfig == nil && g.ResponseModalities == nil
}

type geminiThinkingConfig struct {
	IncludeThoughts bool   `json:"includeThoughts,omitempty"`
	ThinkingBudget  *int64 `json:"thinkingBudget,omitempty"`
	ThinkingLevel   string `json:"thinkingLevel,omitempty"`
}

// geminiFinishReason maps a Gemini finishReason to an OpenAI finish_reason;
// a candidate that called functions finished with tool_calls.
func geminiFinishReason(reason string, calledTools bool) string {
	switch reason {
	case "MAX_TOKENS":
		return "length"
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
		"IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "LANGUAGE":
		return "content_filter"
	}
	// STOP, OTHER, MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL and
	// reasons added later end the turn like a stop.
	if calledTools {
		return "tool_calls"
	}
	return "stop"
}

// geminiToolCallID is the OpenAI tool call id of a Gemini function call
// without one of its own: stable for a response, whether streamed or not,
// and unique across turns because base is the response id.
func geminiToolCallID(dst []byte, base string, candidate, n int) []byte {
	dst = append(dst, "call_"...)
	dst = append(dst, base...)
	if candidate > 0 {
		dst = append(dst, '_')
		dst = strconv.AppendInt(dst, int64(candidate), 10)
	}
	dst = append(dst, '_')
	return strconv.AppendInt(dst, int64(n), 10)
}

// geminiGeneration returns the major version of a Gemini model name
// ("gemini-2.5-flash" is 2, "gemini-3-pro-preview" 3), 0 when unknown.
func geminiGeneration(model string) int {
	model = strings.TrimPrefix(model, "models/")
	rest, ok := strings.CutPrefix(model, "gemini-")
	if !ok {
		return 0
	}
	n := 0
	for i := 0; i < len(rest) && rest[i] >= '0' && rest[i] <= '9' && n < 100; i++ {
		n = n*10 + int(rest[i]-'0')
	}
	return n
}
