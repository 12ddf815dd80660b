// Package tokens counts the tokens of OpenAI chat requests, for the
// checks that need more than a guess: routing skips providers whose
// context is too small (Needs), middle-out compresses a prompt to fit
// (plugins/compress). It knows the chat form and the tokenizers, and
// nothing of Envoy or providers.
//
// Texts are counted with OpenAI's tokenizers, compiled into the binary
// (tokenizer.go): o200k_base by default, cl100k_base for the older
// OpenAI models (Options.Encoding). On top of the texts each message
// costs 4 tokens, the request 3, each image part 765 (the cost of a
// 1024x1024 high-detail image at OpenAI), and tool definitions and the
// response schema count as their JSON text. The completion budget
// (max_completion_tokens, or max_tokens) must fit too.
//
// For OpenAI models the texts are counted exactly; the overheads are
// OpenAI's documented figures and may be off by a few tokens a request.
// Other models (Claude, Gemini, open-weight models) have tokenizers of
// their own that are not shipped: o200k_base approximates them, and
// Options.Margin (ApproxMargin, from ForModels) is added to the count
// before it is compared with the context length.
//
// Counting costs about 20 ms per 100 KB of text (BenchmarkCount100K),
// so it is skipped when the prompt's byte length proves the request
// fits: a byte-level BPE token is at least one byte, so the byte count
// of the texts, with the same overheads, is an upper bound (ByteBound,
// TestByteBound).
package tokens
