// Package fileparser is the file-parser plugin (OpenRouter's
// "file-parser"): `file` content parts of an OpenAI chat request — a
// base64 data URL, or a URL the config allows fetching — go as they are
// to models that read PDFs, and are turned into a text part
//
//	<file name="report.pdf">
//	...the extracted text...
//	</file>
//
// for models that do not (engine "pdf-text"). Text is extracted with a
// pure-Go PDF reader; OCR is out of scope, so a scanned PDF without a
// text layer gets a clear 400, as do encrypted and corrupt ones. Parsed
// text is cached by content hash, so a conversation resent with the same
// file is not parsed again.
//
// The package is pure apart from the optional URL fetch; it logs
// nothing, and never puts file text into errors.
package fileparser

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-gw/switchboard/translators"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// PluginID is the plugin's id in a request's plugins list.
const PluginID = "file-parser"

// Engine names how PDFs are handled, as OpenRouter names them.
type Engine string

const (
	// EngineDefault: native for a model that reads PDFs, else pdf-text.
	EngineDefault Engine = ""
	// EngineNative passes file parts through to the provider.
	EngineNative Engine = "native"
	// EnginePDFText extracts the text layer.
	EnginePDFText Engine = "pdf-text"
	// EngineMistralOCR is OpenRouter's OCR engine; Switchboard has no OCR
	// and answers 400 for it.
	EngineMistralOCR Engine = "mistral-ocr"
)

// Limits bound the work of one request. Zero fields take the defaults.
type Limits struct {
	// MaxFileBytes is the largest decoded file. Default 20 MiB.
	MaxFileBytes int
	// MaxPages is how many pages of a PDF are parsed; later pages are
	// left out and the text says so. Default 100.
	MaxPages int
	// MaxContentBytes caps a PDF's decompressed page content (a zip bomb
	// guard). Default 64 MiB.
	MaxContentBytes int64
	// MaxTextBytes caps the text kept per file. Default 512 KiB.
	MaxTextBytes int
	// MaxFiles is the most file parts in one request. Default 10.
	MaxFiles int
	// Timeout bounds parsing one file. Default 10s.
	Timeout time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = 20 << 20
	}
	if l.MaxPages <= 0 {
		l.MaxPages = 100
	}
	if l.MaxContentBytes <= 0 {
		l.MaxContentBytes = 64 << 20
	}
	if l.MaxTextBytes <= 0 {
		l.MaxTextBytes = 512 << 10
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = 10
	}
	if l.Timeout <= 0 {
		l.Timeout = 10 * time.Second
	}
	return l
}

// Config is the plugin's config block.
type Config struct {
	Limits Limits
	// Fetch allows file parts given as URLs; nil refuses them.
	Fetch *FetchConfig
	// CacheEntries is how many parsed files are kept. Default 128;
	// negative turns the cache off.
	CacheEntries int
}

// Validate checks the config without side effects.
func (c Config) Validate() error {
	if c.Fetch != nil {
		if err := c.Fetch.Validate(); err != nil {
			return fmt.Errorf("fileparser: fetch: %w", err)
		}
	}
	return nil
}

// Options are a request's settings: {"id":"file-parser","pdf":{"engine":...}}.
type Options struct {
	Engine Engine
}

// OptionsFromRequest reads the file-parser entry of the request's
// plugins list; ok is false when there is none. An unknown engine is a 400.
func OptionsFromRequest(body []byte) (o Options, ok bool, err error) {
	for _, p := range gjson.GetBytes(body, "plugins").Array() {
		if p.Get("id").String() != PluginID {
			continue
		}
		e := Engine(p.Get("pdf.engine").String())
		switch e {
		case EngineDefault, EngineNative, EnginePDFText:
		case EngineMistralOCR:
			return Options{}, false, badRequest("unsupported_engine", "plugins", `file-parser engine "mistral-ocr" is not available on this gateway (no OCR); use "pdf-text" or "native"`)
		default:
			return Options{}, false, badRequest("unsupported_engine", "plugins", fmt.Sprintf("file-parser engine %q is unknown (known: native, pdf-text)", e))
		}
		return Options{Engine: e}, true, nil
	}
	return Options{}, false, nil
}

// Model is what the parser needs to know of the target model.
type Model struct {
	// ReadsPDF reports that the model takes PDF file parts natively.
	ReadsPDF bool
}

// Usage is what parsing cost; it is free of charge and reported as
// "pages parsed" in the usage object.
type Usage struct {
	Files       int
	PagesParsed int
	CacheHits   int
}

// Result is the rewritten request.
type Result struct {
	// Body is the request to send: the input itself when Changed is false.
	Body    []byte
	Changed bool
	Usage   Usage
}

// Parser turns file parts into text. It is safe for concurrent use.
type Parser struct {
	lim   Limits
	fetch *fetcher
	cache *cache
}

// New returns a parser for cfg, which must have passed Validate.
func New(cfg Config) *Parser {
	p := &Parser{lim: cfg.Limits.withDefaults()}
	if cfg.Fetch != nil {
		p.fetch = newFetcher(*cfg.Fetch)
	}
	if cfg.CacheEntries >= 0 {
		p.cache = newCache(orDefault(cfg.CacheEntries, 128))
	}
	return p
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Rewrite replaces the request's file parts by text parts, unless the
// engine is native, or is the default and the model reads PDFs. Errors
// are *translators.APIError (400 for a bad file, 502 for a failed
// fetch). body is never modified.
func (p *Parser) Rewrite(ctx context.Context, body []byte, opts Options, m Model) (Result, error) {
	res := Result{Body: body}
	if opts.Engine == EngineNative || (opts.Engine == EngineDefault && m.ReadsPDF) {
		return res, nil
	}
	type site struct {
		path string
		part gjson.Result
	}
	var sites []site
	gjson.GetBytes(body, "messages").ForEach(func(mi, msg gjson.Result) bool {
		msg.Get("content").ForEach(func(pi, part gjson.Result) bool {
			if part.Get("type").String() == "file" {
				sites = append(sites, site{"messages." + mi.String() + ".content." + pi.String(), part})
			}
			return true
		})
		return true
	})
	if len(sites) == 0 {
		return res, nil
	}
	if len(sites) > p.lim.MaxFiles {
		return Result{}, badRequest("too_many_files", "messages", fmt.Sprintf("the request has %d files, over the limit of %d", len(sites), p.lim.MaxFiles))
	}
	out := slices.Clone(body)
	for _, s := range sites {
		text, u, err := p.partText(ctx, s.part)
		if err != nil {
			var ae *translators.APIError
			if errors.As(err, &ae) && ae.Param == "" {
				ae.Param = s.path
			}
			return Result{}, err
		}
		res.Usage.Files++
		res.Usage.PagesParsed += u.PagesParsed
		res.Usage.CacheHits += u.CacheHits
		tp, _ := sjson.SetBytes([]byte(`{"type":"text","text":""}`), "text", text)
		if out, err = sjson.SetRawBytes(out, s.path, tp); err != nil {
			return Result{}, badRequest("invalid_request", s.path, "cannot rewrite the file part")
		}
	}
	res.Body, res.Changed = out, true
	return res, nil
}

// partText turns one file part into the text that replaces it.
func (p *Parser) partText(ctx context.Context, part gjson.Result) (string, Usage, error) {
	name := part.Get("file.filename").String()
	src := part.Get("file.file_data").String()
	if src == "" {
		if part.Get("file.file_id").Exists() {
			return "", Usage{}, badRequest("unsupported_file", "", "file_id references are not supported; send file_data")
		}
		return "", Usage{}, badRequest("invalid_file", "", "a file part needs file.file_data")
	}
	var data []byte
	var mediaType string
	var err error
	if strings.HasPrefix(src, "data:") {
		mediaType, data, err = decodeDataURL(src, p.lim.MaxFileBytes)
	} else if p.fetch == nil {
		return "", Usage{}, badRequest("file_url_not_allowed", "", "file URLs are not fetched by this gateway; send the file as a base64 data URL")
	} else {
		mediaType, data, err = p.fetch.get(ctx, src, p.lim.MaxFileBytes)
	}
	if err != nil {
		return "", Usage{}, err
	}
	if name == "" {
		name = "document"
	}
	switch {
	case mediaType == "application/pdf" || (mediaType == "" || mediaType == "application/octet-stream") && hasPDFMagic(data):
		return p.pdfText(ctx, name, data)
	case strings.HasPrefix(mediaType, "text/") || mediaType == "application/json" || mediaType == "application/xml":
		text := string(data)
		if !validUTF8(text) {
			return "", Usage{}, badRequest("invalid_file", "", "file "+quoteName(name)+" is not UTF-8 text")
		}
		if len(text) > p.lim.MaxTextBytes {
			text = cutRunes(text, p.lim.MaxTextBytes) + "\n[... truncated: the file is over the text limit ...]"
		}
		return wrap(name, text), Usage{}, nil
	}
	return "", Usage{}, badRequest("unsupported_file", "", fmt.Sprintf("file %s of type %q cannot be turned into text; use a model that reads it natively", quoteName(name), mediaType))
}

func (p *Parser) pdfText(ctx context.Context, name string, data []byte) (string, Usage, error) {
	key := sha256.Sum256(data)
	if ext, ok := p.cache.get(key); ok {
		return render(name, ext), Usage{CacheHits: 1}, nil
	}
	ext, err := p.extract(ctx, data)
	if err != nil {
		var pe *pdfError
		if errors.As(err, &pe) {
			return "", Usage{}, badRequest(pe.code, "", "file "+quoteName(name)+": "+pe.msg)
		}
		return "", Usage{}, err
	}
	p.cache.put(key, ext)
	return render(name, ext), Usage{PagesParsed: ext.Pages}, nil
}

// extract runs ExtractPDF under the parse timeout. The parse runs in its
// own goroutine so a slow file cannot hold the request past the
// deadline; the goroutine stops at its next page check, and its work is
// bounded by the content limit in any case.
func (p *Parser) extract(ctx context.Context, data []byte) (Extracted, error) {
	ctx, cancel := context.WithTimeout(ctx, p.lim.Timeout)
	defer cancel()
	type answer struct {
		ext Extracted
		err error
	}
	done := make(chan answer, 1)
	go func() {
		ext, err := ExtractPDF(ctx, data, p.lim)
		done <- answer{ext, err}
	}()
	select {
	case a := <-done:
		return a.ext, a.err
	case <-ctx.Done():
		return Extracted{}, &pdfError{"pdf_timeout", "the PDF took too long to parse"}
	}
}

func render(name string, ext Extracted) string {
	text := ext.Text
	if ext.Pages < ext.TotalPages {
		text += "\n[... only the first " + strconv.Itoa(ext.Pages) + " of " + strconv.Itoa(ext.TotalPages) + " pages were parsed ...]"
	} else if ext.Truncated {
		text += "\n[... truncated: the text is over the limit ...]"
	}
	return wrap(name, text)
}

func wrap(name, text string) string {
	return "<file name=" + quoteName(name) + ">\n" + text + "\n</file>"
}

// quoteName renders a file name safe inside the wrapper's attribute.
func quoteName(name string) string {
	name = strings.Map(func(r rune) rune {
		switch r {
		case '"', '<', '>', '\n', '\r', '\t':
			return '_'
		}
		return r
	}, name)
	return `"` + cutRunes(name, 255) + `"`
}

// decodeDataURL decodes "data:<type>;base64,<data>", refusing more than
// max decoded bytes before decoding anything.
func decodeDataURL(s string, max int) (string, []byte, error) {
	meta, payload, ok := strings.Cut(strings.TrimPrefix(s, "data:"), ",")
	if !ok || !strings.HasSuffix(meta, ";base64") {
		return "", nil, badRequest("invalid_file", "", "file_data must be a base64 data URL (data:application/pdf;base64,...)")
	}
	mediaType := strings.ToLower(strings.TrimSpace(strings.Split(meta, ";")[0]))
	if base64.StdEncoding.DecodedLen(len(payload)) > max+3 {
		return "", nil, badRequest("file_too_large", "", fmt.Sprintf("the file is over the %d-byte limit", max))
	}
	data, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		if data, err = base64.RawStdEncoding.DecodeString(payload); err != nil {
			return "", nil, badRequest("invalid_file", "", "file_data is not valid base64")
		}
	}
	if len(data) > max {
		return "", nil, badRequest("file_too_large", "", fmt.Sprintf("the file is over the %d-byte limit", max))
	}
	return mediaType, data, nil
}

func validUTF8(s string) bool { return utf8.ValidString(s) }

func hasPDFMagic(b []byte) bool { return len(b) >= 5 && string(b[:5]) == "%PDF-" }

func badRequest(code, param, msg string) *translators.APIError {
	e := translators.BadRequest(code, msg)
	e.Param = param
	return e
}
