package web

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
	"go.uber.org/zap"

	"github.com/switchboard-gw/switchboard/middleware"
	"github.com/switchboard-gw/switchboard/translators"
)

// FailureMode is what a failed search does to the request.
type FailureMode string

const (
	// Continue answers without web results and warns (the default).
	Continue FailureMode = "continue"
	// Fail fails the request with a 502 web_search_failed.
	Fail FailureMode = "fail"
)

// Config is the web plugin's config block. Zero fields take the defaults
// New states.
type Config struct {
	// Backends are the search engines; the first is the default and a
	// request's "engine" picks another by name. At least one.
	Backends []Backend
	// DefaultResults is the number of results when the request names
	// none. Default 5.
	DefaultResults int
	// MaxResults is the most a request may ask for (max_results).
	// Default 10.
	MaxResults int
	// Timeout bounds one search call. Default 5s.
	Timeout time.Duration
	// MaxQueryBytes caps the search query. Default 400.
	MaxQueryBytes int
	// MaxTitleBytes and MaxSnippetBytes cap each result's title and
	// snippet. Defaults 200 and 700.
	MaxTitleBytes, MaxSnippetBytes int
	// MaxPromptBytes caps the injected note; results that do not fit are
	// left out. Default 12000.
	MaxPromptBytes int
	// MaxSearchPromptBytes caps a request's search_prompt. Default 2000.
	MaxSearchPromptBytes int
	// FailureMode: Continue (default) or Fail.
	FailureMode FailureMode
	// CostPerResult is the USD price of one result used (OpenRouter
	// charges 0.004). Default 0.
	CostPerResult float64
	// PreferNative leaves the search to the providers when every one the
	// request may reach searches itself (Input.NativeSearch).
	PreferNative bool
	// Now is the clock for the note's date. Default time.Now.
	Now func() time.Time
	// Log receives search failures (never queries or keys). Default nop.
	Log *zap.Logger
}

func (c Config) withDefaults() Config {
	set := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	set(&c.DefaultResults, 5)
	set(&c.MaxResults, 10)
	set(&c.MaxQueryBytes, 400)
	set(&c.MaxTitleBytes, 200)
	set(&c.MaxSnippetBytes, 700)
	set(&c.MaxPromptBytes, 12000)
	set(&c.MaxSearchPromptBytes, 2000)
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.FailureMode == "" {
		c.FailureMode = Continue
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
	return c
}

// Validate checks a config whose defaults are filled.
func (c Config) Validate() error {
	if len(c.Backends) == 0 {
		return errors.New("web: at least one search backend is required")
	}
	var names []string
	for i, b := range c.Backends {
		if b == nil {
			return fmt.Errorf("web: backends[%d] is nil", i)
		}
		if slices.Contains(names, b.Name()) || b.Name() == EngineNative {
			return fmt.Errorf("web: backends[%d] %q: name used twice or reserved", i, b.Name())
		}
		names = append(names, b.Name())
	}
	switch {
	case c.DefaultResults < 1 || c.MaxResults < 1:
		return fmt.Errorf("web: default_results %d and max_results %d must be at least 1", c.DefaultResults, c.MaxResults)
	case c.DefaultResults > c.MaxResults:
		return fmt.Errorf("web: default_results %d exceeds max_results %d", c.DefaultResults, c.MaxResults)
	case c.Timeout < 0:
		return fmt.Errorf("web: timeout %s must be positive", c.Timeout)
	case c.MaxQueryBytes < 16 || c.MaxTitleBytes < 16 || c.MaxSnippetBytes < 16 || c.MaxPromptBytes < 256:
		return errors.New("web: size caps too small (query, title, snippet at least 16 bytes, prompt at least 256)")
	case c.CostPerResult < 0:
		return fmt.Errorf("web: cost_per_result %g must not be negative", c.CostPerResult)
	}
	if c.FailureMode != Continue && c.FailureMode != Fail {
		return fmt.Errorf("web: failure_mode %q: must be continue or fail", c.FailureMode)
	}
	return nil
}

// EngineNative is the engine name that asks for the provider's own search.
const EngineNative = "native"

// Plugin is the web search plugin (id "web").
type Plugin struct{ cfg Config }

// New fills cfg's defaults, checks it and returns the plugin.
func New(cfg Config) (*Plugin, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Plugin{cfg: cfg}, nil
}

// ID is "web".
func (*Plugin) ID() string { return middleware.WebID }

// Options is a request's web plugin block.
type Options struct {
	MaxResults   int
	SearchPrompt string
	Engine       Backend
	// Native: engine "native", the provider's own search
	// (web_search_options); Engine is nil then.
	Native bool
	// EngineSet: the request named an engine.
	EngineSet bool
}

// ParseOptions reads a request's block ({"id":"web","max_results":5,
// "search_prompt":"...","engine":"exa"}) against the plugin's limits.
// Errors are 400s naming the field.
func (p *Plugin) ParseOptions(block []byte) (Options, error) {
	o := Options{MaxResults: p.cfg.DefaultResults, Engine: p.cfg.Backends[0]}
	res := gjson.GetManyBytes(block, "max_results", "search_prompt", "engine")
	if m := res[0]; m.Exists() && m.Type != gjson.Null {
		if m.Type != gjson.Number || m.Num != float64(int(m.Num)) || m.Num < 1 || int(m.Num) > p.cfg.MaxResults {
			return Options{}, badOption("max_results", "'max_results' "+m.Raw+": must be an integer from 1 to "+strconv.Itoa(p.cfg.MaxResults))
		}
		o.MaxResults = int(m.Num)
	}
	if sp := res[1]; sp.Exists() && sp.Type != gjson.Null {
		if sp.Type != gjson.String {
			return Options{}, badOption("search_prompt", "'search_prompt' must be a string")
		}
		if len(sp.Str) > p.cfg.MaxSearchPromptBytes {
			return Options{}, badOption("search_prompt", "'search_prompt' is "+strconv.Itoa(len(sp.Str))+" bytes: at most "+strconv.Itoa(p.cfg.MaxSearchPromptBytes))
		}
		o.SearchPrompt = sp.Str
	}
	if e := res[2]; e.Exists() && e.Type != gjson.Null {
		o.Engine = nil
		for _, b := range p.cfg.Backends {
			if b.Name() == e.Str {
				o.Engine = b
			}
		}
		if o.Engine == nil && e.Str == EngineNative {
			o.Native = true
		} else if o.Engine == nil {
			var names []string
			for _, b := range p.cfg.Backends {
				names = append(names, b.Name())
			}
			return Options{}, badOption("engine", "'engine' "+strconv.Quote(e.Str)+": not configured on this gateway (configured: native, "+strings.Join(names, ", ")+")")
		}
		o.EngineSet = true
	}
	return o, nil
}

func badOption(field, msg string) *translators.APIError {
	e := translators.BadRequest("invalid_plugins", "plugin \"web\": "+msg)
	e.Param = "plugins.web." + field
	return e
}

// Start searches with a query built from the conversation (Query),
// injects the results before the last user message (Inject) and returns
// the After that adds url_citation annotations to the answer.
// CheckOptions checks a forced block as Start reads it.
func (p *Plugin) CheckOptions(block []byte) error {
	_, err := p.ParseOptions(block)
	return err
}

func (p *Plugin) Start(ctx context.Context, in middleware.Input) (middleware.Step, error) {
	o, err := p.ParseOptions(in.Options)
	if err != nil {
		return middleware.Step{}, err
	}
	if o.Native || (p.cfg.PreferNative && in.NativeSearch && !o.EngineSet) {
		return nativeSearch(in.Body, o)
	}
	q := Query(in.Body, p.cfg.MaxQueryBytes)
	if q == "" {
		return middleware.Step{Warnings: []string{"no user text to search for; answered without web results"}}, nil
	}
	results, err := p.search(ctx, o.Engine, q, o.MaxResults)
	if err != nil {
		p.cfg.Log.Warn("web search failed", zap.String("engine", o.Engine.Name()), zap.Error(err))
		if p.cfg.FailureMode == Fail {
			return middleware.Step{}, &translators.APIError{Status: 502, Type: translators.TypeUpstream, Code: "web_search_failed",
				Message: "web search (" + o.Engine.Name() + ") failed: " + err.Error()}
		}
		return middleware.Step{Usage: middleware.Usage{SearchCalls: 1},
			Warnings: []string{"search (" + o.Engine.Name() + ") failed; answered without web results"}}, nil
	}
	results = p.clean(results)
	note, used := Note(NoteInput{Prompt: o.SearchPrompt, Date: p.cfg.Now(), Results: results, MaxBytes: p.cfg.MaxPromptBytes})
	results = results[:used]
	st := middleware.Step{Usage: middleware.Usage{SearchCalls: 1, Results: len(results), Cost: float64(len(results)) * p.cfg.CostPerResult}}
	if len(results) == 0 {
		st.Warnings = []string{"search (" + o.Engine.Name() + ") found nothing"}
		return st, nil
	}
	body, err := Inject(in.Body, note)
	if err != nil {
		return middleware.Step{}, fmt.Errorf("web: inject results: %w", err)
	}
	st.Body, st.After = body, &Citations{Results: results}
	return st, nil
}

func (p *Plugin) search(ctx context.Context, b Backend, q string, n int) ([]Result, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	rs, err := b.Search(ctx, q, n)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	if len(rs) > n {
		rs = rs[:n]
	}
	return rs, nil
}

// clean caps and sanitizes results, dropping those without an http(s)
// URL or repeating one.
func (p *Plugin) clean(rs []Result) []Result {
	out := make([]Result, 0, len(rs))
	seen := make(map[string]bool, len(rs))
	for _, r := range rs {
		u := strings.TrimSpace(r.URL)
		if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") || len(u) > 2048 || strings.ContainsAny(u, " \n\r\t()<>") || seen[u] {
			continue
		}
		seen[u] = true
		out = append(out, Result{
			Title:     Clean(r.Title, p.cfg.MaxTitleBytes),
			URL:       u,
			Snippet:   Clean(r.Snippet, p.cfg.MaxSnippetBytes),
			Published: Clean(r.Published, 40),
		})
	}
	return out
}

// Query builds the search query from a chat request: the text of the
// last user message (a string content, or its text parts joined by
// spaces), with whitespace collapsed, cut to maxBytes at a word boundary
// where one is near. Empty when there is no user text.
func Query(body []byte, maxBytes int) string {
	msgs := gjson.GetBytes(body, "messages").Array()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Get("role").Str != "user" {
			continue
		}
		var sb strings.Builder
		c := msgs[i].Get("content")
		if c.Type == gjson.String {
			sb.WriteString(c.Str)
		} else {
			c.ForEach(func(_, part gjson.Result) bool {
				if part.Get("type").Str == "text" {
					sb.WriteString(part.Get("text").Str)
					sb.WriteByte(' ')
				}
				return sb.Len() < 4*maxBytes
			})
		}
		return cut(strings.Join(strings.Fields(sb.String()), " "), maxBytes, true)
	}
	return ""
}

// Inject inserts a system message holding note before the last user
// message (at the end when there is none). It never modifies body.
func Inject(body []byte, note string) ([]byte, error) {
	msgs := gjson.GetBytes(body, "messages")
	if !msgs.IsArray() {
		return nil, errors.New("request has no messages array")
	}
	arr := msgs.Array()
	at := len(arr)
	for i := len(arr) - 1; i >= 0; i-- {
		if arr[i].Get("role").Str == "user" {
			at = i
			break
		}
	}
	sys, _ := sjson.SetBytes([]byte(`{"role":"system","content":""}`), "content", note)
	out := make([]byte, 0, len(msgs.Raw)+len(sys)+1)
	out = append(out, '[')
	for i, m := range arr {
		if i == at {
			out = append(append(out, sys...), ',')
		}
		out = append(append(out, m.Raw...), ',')
	}
	if at == len(arr) {
		out = append(append(out, sys...), ',')
	}
	out[len(out)-1] = ']'
	return sjson.SetRawBytes(append([]byte(nil), body...), "messages", out)
}

var _ middleware.Plugin = (*Plugin)(nil)

// nativeSearch leaves the search to the provider: OpenAI's
// web_search_options on the request, which OpenAI's search models take as
// they are and Gemini and Vertex AI Gemini models turn into grounding with
// Google Search (their sources come back as url_citation annotations).
// Other schemas report it dropped. The provider bills the search.
func nativeSearch(body []byte, o Options) (middleware.Step, error) {
	if gjson.GetBytes(body, "web_search_options").IsObject() {
		return middleware.Step{}, nil
	}
	out, err := sjson.SetRawBytes(append([]byte(nil), body...), "web_search_options", []byte(`{}`))
	if err != nil {
		return middleware.Step{}, fmt.Errorf("web: native search: %w", err)
	}
	return middleware.Step{Body: out}, nil
}
