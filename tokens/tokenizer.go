package tokens

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer/codec"
)

// Encoding names a tokenizer compiled into the binary.
type Encoding string

// The encodings shipped. Only these two are referenced, so the linker
// leaves the module's other vocabularies (r50k, p50k) out.
const (
	// O200k is the GPT-4o family's: gpt-4o, gpt-4.1, gpt-4.5, gpt-5, o1,
	// o3, o4, and gpt-oss (whose o200k_harmony adds only special tokens).
	// The default.
	O200k Encoding = "o200k_base"
	// Cl100k is the older OpenAI models': gpt-4, gpt-3.5-turbo.
	Cl100k Encoding = "cl100k_base"
)

// ApproxMargin is the Options.Margin for models whose own tokenizer is
// not shipped (Claude, Gemini, open-weight models): their prompt is
// counted with o200k_base and 30% is added before it is compared with
// the context length, so that a prompt that fits by our count also fits
// by the provider's. Published comparisons (2024, not measured here)
// found Claude 3.5 Sonnet's tokenizer giving about 16% more tokens than
// GPT-4o's on English and up to 30% more on code; other families come
// out closer to o200k_base on English. The price of the margin is that
// such prompts are compressed, or refused, up to 30% early.
const ApproxMargin = 0.3

// loaded is one encoding's tokenizer, built on first use.
type loaded struct {
	once  sync.Once
	count func(string) int
	err   error
}

var o200k, cl100k loaded

// Counter returns the token count of an encoding's tokenizer ("" is
// O200k). The tokenizer is built once, on first use: its vocabulary is
// Go source in the binary (github.com/tiktoken-go/tokenizer/codec), so
// building it reads no file and makes no network call; o200k_base takes
// about 25 ms and 7 MB of heap. The count is safe for concurrent use.
// If the tokenizer cannot be built, the count is EstimateText and err
// says why.
func Counter(e Encoding) (func(string) int, error) {
	switch e {
	case O200k, "":
		return o200k.load(O200k, codec.NewO200kBase)
	case Cl100k:
		return cl100k.load(Cl100k, codec.NewCl100kBase)
	}
	return EstimateText, fmt.Errorf("tokens: unknown encoding %q (known: %s, %s)", e, O200k, Cl100k)
}

func (l *loaded) load(e Encoding, build func() *codec.Codec) (func(string) int, error) {
	l.once.Do(func() {
		l.count = EstimateText
		defer func() {
			// codec.New* panics only if its fixed split pattern fails to
			// compile; the gateway then runs on the estimate.
			if r := recover(); r != nil {
				l.count, l.err = EstimateText, fmt.Errorf("tokens: load %s tokenizer: %v", e, r)
			}
		}()
		c := build()
		l.count = func(s string) int {
			n, err := c.Count(s)
			if err != nil {
				// Only the strict UTF-8 mode (not used) and a match
				// timeout (none set) fail.
				return EstimateText(s)
			}
			return n
		}
	})
	return l.count, l.err
}

// byteBound is at least the tokens of s in a byte-level BPE encoding
// (o200k_base, cl100k_base), and at least EstimateText(s): every token
// is one or more bytes of s, so there are at most len(s). Invalid UTF-8
// is the exception: the tokenizer's split pattern reads each bad byte
// as U+FFFD, three bytes, so such a string gets 3*len(s).
func ByteBound(s string) int {
	if utf8.ValidString(s) {
		return len(s)
	}
	return 3 * len(s)
}

// o200kModels and cl100kModels are model id families: the id itself,
// or the id followed by "-" or "." and more (gpt-4o-mini, gpt-5.1).
var (
	o200kModels  = []string{"gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "gpt-oss", "codex-mini"}
	cl100kModels = []string{"gpt-4", "gpt-3.5-turbo", "gpt-35-turbo", "text-embedding-3", "text-embedding-ada-002"}
)

// EncodingOf returns the encoding to count a provider model id with, and
// whether it is that model's own (exact) rather than an approximation.
// A vendor prefix ("openai/gpt-4o", Bedrock's "openai.gpt-oss-120b-1:0")
// and a fine-tune prefix ("ft:gpt-4o-mini:org::id") are looked through.
// Models that are not OpenAI's get O200k, inexact.
func EncodingOf(model string) (Encoding, bool) {
	m := strings.TrimPrefix(strings.ToLower(model), "ft:")
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	m = strings.TrimPrefix(m, "openai.")
	for _, p := range o200kModels {
		if family(m, p) {
			return O200k, true
		}
	}
	for _, p := range cl100kModels {
		if family(m, p) {
			return Cl100k, true
		}
	}
	return O200k, false
}

func family(m, p string) bool {
	if !strings.HasPrefix(m, p) {
		return false
	}
	return len(m) == len(p) || m[len(p)] == '-' || m[len(p)] == '.' || m[len(p)] == ':'
}

// ForModels returns the Options for a public model that these provider
// model ids serve: their own encoding when every one of them is an
// OpenAI model of the same encoding, else O200k with ApproxMargin (a
// route may go to any of its providers, so the count must hold for
// each).
func ForModels(models ...string) Options {
	var enc Encoding
	for i, m := range models {
		e, exact := EncodingOf(m)
		if !exact || (i > 0 && e != enc) {
			return Options{Encoding: O200k, Margin: ApproxMargin}
		}
		enc = e
	}
	if enc == "" {
		return Options{Encoding: O200k, Margin: ApproxMargin}
	}
	return Options{Encoding: enc}
}
