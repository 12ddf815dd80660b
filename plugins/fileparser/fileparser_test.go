package fileparser

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/translators"
	"github.com/tidwall/gjson"
)

func TestExtractPDF(t *testing.T) {
	tests := []struct {
		name      string
		pdf       []byte
		lim       Limits
		want      []string // substrings of the text, in order
		pages     int
		total     int
		truncated bool
		code      string // the pdfError code, when it fails
	}{
		{name: "two pages", pdf: textPDF(t, "Quarterly report\nRevenue rose 12%", "Outlook: café openings"), want: []string{"Quarterly report\nRevenue rose 12%", "Outlook: café openings"}, pages: 2, total: 2},
		{name: "page limit", pdf: textPDF(t, "p one", "p two", "p three", "p four"), lim: Limits{MaxPages: 2}, want: []string{"p one", "p two"}, pages: 2, total: 4},
		{name: "text limit", pdf: textPDF(t, strings.Repeat("long line of text ", 10)), lim: Limits{MaxTextBytes: 20}, want: []string{"long line of text lo"}, pages: 1, total: 1, truncated: true},
		{name: "PDF 2.0 header", pdf: bytes.Replace(textPDF(t, "version two"), []byte("%PDF-1.3"), []byte("%PDF-2.0"), 1), want: []string{"version two"}, pages: 1, total: 1},
		{name: "password protected", pdf: protectedPDF(t, "open-sesame"), code: "pdf_encrypted"},
		// The library's RC4 decryption does not read fpdf's streams: still
		// a clear 400 naming the encryption, never garbage text.
		{name: "encrypted with empty user password", pdf: protectedPDF(t, ""), code: "pdf_encrypted"},
		{name: "no text layer", pdf: drawingPDF(t), code: "pdf_no_text"},
		{name: "truncated file", pdf: func() []byte { b := textPDF(t, "cut"); return b[:len(b)/2] }(), code: "pdf_corrupt"},
		{name: "not a PDF", pdf: []byte("%PDF-1.4\nthis is not really a pdf\n"), code: "pdf_corrupt"},
		{name: "garbage", pdf: bytes.Repeat([]byte{0xff, 0x00}, 512), code: "pdf_corrupt"},
		{name: "cyclic page tree", pdf: cyclicPDF(), code: "pdf_corrupt"},
		{name: "content over the decompressed limit", pdf: textPDF(t, strings.Repeat("zzzzzzzz\n", 60)), lim: Limits{MaxContentBytes: 512}, code: "pdf_too_large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ext, err := ExtractPDF(context.Background(), tc.pdf, tc.lim)
			if tc.code != "" {
				var pe *pdfError
				if !errors.As(err, &pe) || pe.code != tc.code {
					t.Fatalf("err = %v, want code %s", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			at := 0
			for _, w := range tc.want {
				i := strings.Index(ext.Text[at:], w)
				if i < 0 {
					t.Fatalf("text %q lacks %q after byte %d", ext.Text, w, at)
				}
				at += i + len(w)
			}
			if ext.Pages != tc.pages || ext.TotalPages != tc.total || ext.Truncated != tc.truncated {
				t.Errorf("pages %d/%d truncated %v, want %d/%d %v", ext.Pages, ext.TotalPages, ext.Truncated, tc.pages, tc.total, tc.truncated)
			}
		})
	}
}

func TestExtractPDFHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ExtractPDF(ctx, textPDF(t, "a", "b"), Limits{})
	var pe *pdfError
	if !errors.As(err, &pe) || pe.code != "pdf_timeout" {
		t.Errorf("err = %v", err)
	}
}

func apiError(t *testing.T, err error) *translators.APIError {
	t.Helper()
	var ae *translators.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v (%T), want *translators.APIError", err, err)
	}
	return ae
}

func TestRewrite(t *testing.T) {
	report := textPDF(t, "Revenue rose 12%", "Costs fell")
	tests := []struct {
		name    string
		body    []byte
		lim     Limits
		opts    Options
		model   Model
		want    string // the text part that replaces the file
		pages   int
		same    bool   // body passes as sent
		code    string // APIError code
		status  int
		message string
	}{
		{
			name: "pdf to text", body: chatWithFile("report.pdf", dataURL("application/pdf", report)), opts: Options{Engine: EnginePDFText},
			want: "<file name=\"report.pdf\">\nRevenue rose 12%\n\nCosts fell\n</file>", pages: 2,
		},
		{
			name: "default engine, text-only model", body: chatWithFile("report.pdf", dataURL("application/pdf", report)),
			want: "<file name=\"report.pdf\">\nRevenue rose 12%\n\nCosts fell\n</file>", pages: 2,
		},
		{name: "default engine, model reads PDFs", body: chatWithFile("report.pdf", dataURL("application/pdf", report)), model: Model{ReadsPDF: true}, same: true},
		{name: "native engine", body: chatWithFile("report.pdf", dataURL("application/pdf", report)), opts: Options{Engine: EngineNative}, same: true},
		{name: "no file parts", body: []byte(`{"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`), same: true},
		{
			name: "page limit noted", body: chatWithFile("r.pdf", dataURL("application/pdf", report)), lim: Limits{MaxPages: 1},
			want: "<file name=\"r.pdf\">\nRevenue rose 12%\n[... only the first 1 of 2 pages were parsed ...]\n</file>", pages: 1,
		},
		{
			name: "octet-stream sniffed as PDF", body: chatWithFile("r.bin", dataURL("application/octet-stream", report)),
			want: "<file name=\"r.bin\">\nRevenue rose 12%\n\nCosts fell\n</file>", pages: 2,
		},
		{
			name: "plain text file", body: chatWithFile("notes.txt", dataURL("text/plain", []byte("line one\nline two"))),
			want: "<file name=\"notes.txt\">\nline one\nline two\n</file>",
		},
		{
			name: "hostile file name", body: chatWithFile(`x\"><\/file>evil`, dataURL("text/plain", []byte("t"))),
			want: "<file name=\"x___/file_evil\">\nt\n</file>",
		},
		{name: "encrypted", body: chatWithFile("secret.pdf", dataURL("application/pdf", protectedPDF(t, "pw"))), code: "pdf_encrypted", status: 400, message: `file "secret.pdf": the PDF is encrypted with a password`},
		{name: "corrupt", body: chatWithFile("bad.pdf", dataURL("application/pdf", report[:300])), code: "pdf_corrupt", status: 400, message: `file "bad.pdf": the PDF could not be read`},
		{name: "scanned", body: chatWithFile("scan.pdf", dataURL("application/pdf", drawingPDF(t))), code: "pdf_no_text", status: 400, message: "OCR is not available"},
		{name: "image file", body: chatWithFile("a.png", dataURL("image/png", []byte("\x89PNG\r\n"))), code: "unsupported_file", status: 400, message: `of type "image/png" cannot be turned into text`},
		{name: "too large", body: chatWithFile("r.pdf", dataURL("application/pdf", report)), lim: Limits{MaxFileBytes: 100}, code: "file_too_large", status: 400, message: "over the 100-byte limit"},
		{name: "bad base64", body: chatWithFile("r.pdf", "data:application/pdf;base64,!!!"), code: "invalid_file", status: 400, message: "not valid base64"},
		{name: "not a data URL", body: chatWithFile("r.pdf", "data:application/pdf,plain"), code: "invalid_file", status: 400, message: "must be a base64 data URL"},
		{name: "URL without fetch config", body: chatWithFile("r.pdf", "https://files.example.com/r.pdf"), code: "file_url_not_allowed", status: 400, message: "not fetched by this gateway"},
		{name: "file_id", body: []byte(`{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-123"}}]}]}`), code: "unsupported_file", status: 400, message: "file_id references are not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := New(Config{Limits: tc.lim, CacheEntries: -1})
			in := bytes.Clone(tc.body)
			res, err := p.Rewrite(context.Background(), tc.body, tc.opts, tc.model)
			if !bytes.Equal(in, tc.body) {
				t.Fatal("Rewrite modified its input")
			}
			if tc.code != "" {
				ae := apiError(t, err)
				if ae.Code != tc.code || ae.Status != tc.status || !strings.Contains(ae.Message, tc.message) {
					t.Fatalf("error = %d %s %q, want %d %s %q", ae.Status, ae.Code, ae.Message, tc.status, tc.code, tc.message)
				}
				if ae.Param != "messages.1.content.1" && ae.Param != "messages.0.content.0" {
					t.Errorf("param = %q, want the file part's path", ae.Param)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.same {
				if res.Changed || !bytes.Equal(res.Body, tc.body) {
					t.Errorf("body changed: %s", res.Body)
				}
				return
			}
			parts := gjson.GetBytes(res.Body, "messages.1.content")
			if got := parts.Get("1.type").String(); got != "text" {
				t.Fatalf("file part not replaced: %s", res.Body)
			}
			if got := parts.Get("1.text").String(); got != tc.want {
				t.Errorf("text part =\n%s\nwant\n%s", got, tc.want)
			}
			if parts.Get("0.text").String() != "Summarize this." || gjson.GetBytes(res.Body, "messages.0.content").String() != "be brief" {
				t.Errorf("other content changed: %s", res.Body)
			}
			if res.Usage.PagesParsed != tc.pages || res.Usage.Files != 1 {
				t.Errorf("usage = %+v, want %d pages", res.Usage, tc.pages)
			}
		})
	}
}

func TestRewriteFileCount(t *testing.T) {
	body := []byte(`{"messages":[{"role":"user","content":[` +
		`{"type":"file","file":{"filename":"a.txt","file_data":"` + dataURL("text/plain", []byte("a")) + `"}},` +
		`{"type":"file","file":{"filename":"b.txt","file_data":"` + dataURL("text/plain", []byte("b")) + `"}}]}]}`)
	_, err := New(Config{Limits: Limits{MaxFiles: 1}}).Rewrite(context.Background(), body, Options{}, Model{})
	if ae := apiError(t, err); ae.Code != "too_many_files" || !strings.Contains(ae.Message, "2 files, over the limit of 1") {
		t.Errorf("err = %v", ae)
	}
}

func TestRewriteCachesByContent(t *testing.T) {
	p := New(Config{})
	pdf := dataURL("application/pdf", textPDF(t, "cached text", "page two"))
	first, err := p.Rewrite(context.Background(), chatWithFile("a.pdf", pdf), Options{}, Model{})
	if err != nil {
		t.Fatal(err)
	}
	// The same file under another name, as a resent conversation has it.
	again, err := p.Rewrite(context.Background(), chatWithFile("b.pdf", pdf), Options{}, Model{})
	if err != nil {
		t.Fatal(err)
	}
	if first.Usage != (Usage{Files: 1, PagesParsed: 2}) || again.Usage != (Usage{Files: 1, CacheHits: 1}) {
		t.Errorf("usage first %+v again %+v", first.Usage, again.Usage)
	}
	if got := gjson.GetBytes(again.Body, "messages.1.content.1.text").String(); got != "<file name=\"b.pdf\">\ncached text\n\npage two\n</file>" {
		t.Errorf("cached text part = %q", got)
	}
}

func TestCacheEvicts(t *testing.T) {
	c := newCache(2)
	k := func(b byte) [32]byte { return [32]byte{b} }
	c.put(k(1), Extracted{Text: "1"})
	c.put(k(2), Extracted{Text: "2"})
	c.get(k(1)) // 1 is now the most recent
	c.put(k(3), Extracted{Text: "3"})
	if _, ok := c.get(k(2)); ok {
		t.Error("the least recently used entry was kept")
	}
	for _, b := range []byte{1, 3} {
		if e, ok := c.get(k(b)); !ok || e.Text != string('0'+b) {
			t.Errorf("entry %d lost", b)
		}
	}
}

func TestOptionsFromRequest(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		ok      bool
		engine  Engine
		wantErr string
	}{
		{name: "none", body: `{"plugins":[{"id":"web"}]}`},
		{name: "default engine", body: `{"plugins":[{"id":"file-parser"}]}`, ok: true},
		{name: "pdf-text", body: `{"plugins":[{"id":"web"},{"id":"file-parser","pdf":{"engine":"pdf-text"}}]}`, ok: true, engine: EnginePDFText},
		{name: "native", body: `{"plugins":[{"id":"file-parser","pdf":{"engine":"native"}}]}`, ok: true, engine: EngineNative},
		{name: "mistral-ocr", body: `{"plugins":[{"id":"file-parser","pdf":{"engine":"mistral-ocr"}}]}`, wantErr: `engine "mistral-ocr" is not available on this gateway (no OCR)`},
		{name: "unknown", body: `{"plugins":[{"id":"file-parser","pdf":{"engine":"tesseract"}}]}`, wantErr: `engine "tesseract" is unknown (known: native, pdf-text)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, ok, err := OptionsFromRequest([]byte(tc.body))
			if tc.wantErr != "" {
				if ae := apiError(t, err); ae.Status != 400 || ae.Code != "unsupported_engine" || !strings.Contains(ae.Message, tc.wantErr) {
					t.Errorf("err = %v", ae)
				}
				return
			}
			if err != nil || ok != tc.ok || o.Engine != tc.engine {
				t.Errorf("got %+v %v %v", o, ok, err)
			}
		})
	}
}

func FuzzExtractPDF(f *testing.F) {
	f.Add(textPDF(f, "seed text", "second"))
	f.Add(cyclicPDF())
	f.Add(protectedPDF(f, "pw"))
	f.Add(drawingPDF(f))
	lim := Limits{MaxPages: 5, MaxContentBytes: 1 << 16, MaxTextBytes: 1 << 12}
	f.Fuzz(func(t *testing.T, data []byte) {
		ext, err := ExtractPDF(context.Background(), data, lim)
		if err != nil {
			var pe *pdfError
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if ext.Pages > lim.MaxPages || len(ext.Text) > lim.MaxTextBytes {
			t.Fatalf("limits not kept: %d pages, %d bytes", ext.Pages, len(ext.Text))
		}
	})
}
