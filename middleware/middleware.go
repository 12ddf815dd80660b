package middleware

import "context"

// Plugin is one unit of the chain. Implementations are safe for concurrent
// use: per-request state lives in the After that Start returns.
type Plugin interface {
	// ID is the plugin's id in requests ("web", "file-parser",
	// "response-healing") or, for a transform, its name ("middle-out").
	ID() string
	// Start runs before planning and translation. It must not modify
	// in.Body. An error fails the request (see the package doc).
	Start(ctx context.Context, in Input) (Step, error)
}

// Input is what a plugin's Start sees of one request.
type Input struct {
	// Body is the chat request in the OpenAI form, with the
	// plugins, transforms and :online suffix already stripped, and with
	// what earlier plugins of the chain rewrote.
	Body []byte
	// Options is the plugin's own block from the request, a JSON object
	// such as {"id":"web","max_results":5}. A plugin enabled by :online,
	// by a transform name or by a policy with no block gets {"id":"<id>"}.
	Options []byte
	// Stream reports whether the client asked for a stream.
	Stream bool
	// NativeSearch reports whether every provider the request may reach
	// grounds answers in a web search of its own (the web plugin may
	// leave the search to them).
	NativeSearch bool
}

// Step is what a plugin's Start decided.
type Step struct {
	// Body, when set, is the rewritten chat request the rest of the chain
	// and the gateway go on with.
	Body []byte
	// Answer, when set, is a whole chat.completion the gateway answers
	// with; nothing goes upstream (translators.Exchange.Local).
	Answer []byte
	// After, when set, transforms the answer, whole or streamed.
	After After
	// Usage is what the plugin spent on this request.
	Usage Usage
	// Warnings are short, credential-free notes for the client (a
	// plugin that failed and was configured to continue without itself).
	Warnings []string
}

// After transforms one request's answer. It is used for one answer only,
// whole or streamed, never both.
type After interface {
	// Answer transforms a whole chat.completion body. It must not modify
	// its input.
	Answer(body []byte) ([]byte, error)
	// NewStream returns the transformer of a streamed answer.
	NewStream() StreamTransformer
}

// StreamTransformer is a state machine fed chat.completion.chunk objects,
// one JSON object at a time (the data of one SSE event; "[DONE]" is never
// passed). It never fails: what it cannot transform it passes on.
type StreamTransformer interface {
	// Chunk consumes one chunk and emits zero or more chunks. emit's
	// argument is only read during the call.
	Chunk(chunk []byte, emit func([]byte))
	// Finish is called once when the upstream stream ended, before
	// [DONE]; it emits whatever the transformer still holds.
	Finish(emit func([]byte))
}

// Usage is what one plugin spent on one request. ApplyUsage adds it to the
// answer's usage object.
type Usage struct {
	Plugin string
	// SearchCalls is the number of calls to a search backend.
	SearchCalls int
	// Results is the number of search results used.
	Results int
	// Cost is in USD.
	Cost float64
}

func (u Usage) zero() bool { return u.SearchCalls == 0 && u.Results == 0 && u.Cost == 0 }
