package fileparser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"
)

// Extracted is the text of one PDF.
type Extracted struct {
	Text string
	// Pages is the number of pages parsed; TotalPages the number the
	// document has. Pages < TotalPages when the page limit cut it short.
	Pages, TotalPages int
	// Truncated reports that the text hit the text limit.
	Truncated bool
}

// pdfError is a PDF the parser refuses, with a code for the 400.
type pdfError struct {
	code, msg string
}

func (e *pdfError) Error() string { return e.msg }

var (
	errEncrypted = &pdfError{"pdf_encrypted", "the PDF is encrypted with a password; send it decrypted"}
	errNoText    = &pdfError{"pdf_no_text", "the PDF has no extractable text (a scanned document?); OCR is not available, use a model that reads PDFs natively"}
)

func corrupt(detail string) error {
	return &pdfError{"pdf_corrupt", "the PDF could not be read (" + detail + ")"}
}

// Limits bound the work one PDF may cost.
const (
	maxTreeDepth = 32
	maxTreeNodes = 20_000
)

// ExtractPDF returns the text of a PDF held in data, page by page up to
// lim.MaxPages. Work is bounded: the decompressed content streams may
// total at most lim.MaxContentBytes, the page tree is walked with depth
// and node limits (a cyclic tree cannot loop), and ctx is checked
// between pages. Errors are *pdfError values: encrypted, corrupt, too
// large, no text.
func ExtractPDF(ctx context.Context, data []byte, lim Limits) (ext Extracted, err error) {
	lim = lim.withDefaults()
	defer func() {
		if r := recover(); r != nil {
			ext, err = Extracted{}, corrupt("malformed structure")
		}
	}()
	r, err := pdf.NewReader(bytes.NewReader(normalizeHeader(data)), int64(len(data)))
	switch {
	case errors.Is(err, pdf.ErrInvalidPassword):
		return Extracted{}, errEncrypted
	case err != nil && strings.Contains(err.Error(), "encrypt"):
		return Extracted{}, &pdfError{"pdf_encrypted", "the PDF uses an encryption the parser does not support; send it decrypted"}
	case err != nil:
		return Extracted{}, corrupt(firstLine(err.Error()))
	}
	encrypted := !r.Trailer().Key("Encrypt").IsNull()

	pages, total, err := pageList(r.Trailer().Key("Root").Key("Pages"), lim.MaxPages)
	if err != nil {
		return Extracted{}, err
	}
	budget := lim.MaxContentBytes
	var b strings.Builder
	for i, p := range pages {
		if err := ctx.Err(); err != nil {
			return Extracted{}, &pdfError{"pdf_timeout", "the PDF took too long to parse"}
		}
		n, err := contentSize(p.V.Key("Contents"), budget)
		if err != nil {
			if encrypted {
				return Extracted{}, &pdfError{"pdf_encrypted", "the PDF is encrypted and could not be decrypted; send it decrypted"}
			}
			return Extracted{}, corrupt(fmt.Sprintf("page %d: %s", i+1, firstLine(err.Error())))
		}
		if n > budget {
			return Extracted{}, &pdfError{"pdf_too_large", fmt.Sprintf("the PDF's content is over the %d-byte limit once decompressed", lim.MaxContentBytes)}
		}
		budget -= n
		text, err := p.GetPlainText(nil)
		if err != nil {
			if encrypted {
				return Extracted{}, &pdfError{"pdf_encrypted", "the PDF is encrypted and could not be decrypted; send it decrypted"}
			}
			return Extracted{}, corrupt(fmt.Sprintf("page %d: %s", i+1, firstLine(err.Error())))
		}
		text = tidy(text)
		if text == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(text)
		if b.Len() >= lim.MaxTextBytes {
			ext.Truncated = true
			break
		}
	}
	ext.Text, ext.Pages, ext.TotalPages = b.String(), len(pages), total
	if len(ext.Text) > lim.MaxTextBytes {
		ext.Text = cutRunes(ext.Text, lim.MaxTextBytes)
		ext.Truncated = true
	}
	if strings.TrimSpace(ext.Text) == "" {
		if encrypted {
			return Extracted{}, errEncrypted
		}
		return Extracted{}, errNoText
	}
	return ext, nil
}

// pageList walks the page tree in order and returns up to limit pages,
// and the page count the tree claims. It does not trust /Count (the
// library's own lookup does, and loops on a cyclic tree).
func pageList(root pdf.Value, limit int) ([]pdf.Page, int, error) {
	var pages []pdf.Page
	nodes := 0
	total := int(root.Key("Count").Int64())
	var walk func(v pdf.Value, depth int) error
	walk = func(v pdf.Value, depth int) error {
		nodes++
		if depth > maxTreeDepth || nodes > maxTreeNodes {
			return corrupt("page tree too deep or too large")
		}
		switch v.Key("Type").Name() {
		case "Page":
			if len(pages) < limit {
				pages = append(pages, pdf.Page{V: v})
			}
			return nil
		case "Pages":
			kids := v.Key("Kids")
			for i := 0; i < kids.Len() && len(pages) < limit; i++ {
				if err := walk(kids.Index(i), depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		// A kid without /Type: a Page if it has contents.
		if !v.Key("Contents").IsNull() && len(pages) < limit {
			pages = append(pages, pdf.Page{V: v})
		}
		return nil
	}
	if err := walk(root, 0); err != nil {
		return nil, 0, err
	}
	if len(pages) == 0 {
		return nil, 0, corrupt("no pages")
	}
	return pages, max(total, len(pages)), nil
}

// contentSize decompresses a page's content streams, stopping once they
// pass limit; it returns their size (limit+1 when over).
func contentSize(contents pdf.Value, limit int64) (n int64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	var streams []pdf.Value
	switch contents.Kind() {
	case pdf.Null:
		return 0, nil
	case pdf.Array:
		for i := 0; i < contents.Len(); i++ {
			streams = append(streams, contents.Index(i))
		}
	default:
		streams = []pdf.Value{contents}
	}
	for _, s := range streams {
		rc := s.Reader()
		m, err := io.Copy(io.Discard, io.LimitReader(rc, limit-n+1))
		rc.Close()
		n += m
		if err != nil {
			return n, err
		}
		if n > limit {
			return n, nil
		}
	}
	return n, nil
}

// normalizeHeader lets PDF 2.0 files through: the library only takes
// "%PDF-1.x" headers, and 2.0 changed nothing text extraction reads.
func normalizeHeader(data []byte) []byte {
	if bytes.HasPrefix(data, []byte("%PDF-2.0")) {
		d := bytes.Clone(data)
		copy(d, "%PDF-1.7")
		return d
	}
	return data
}

// tidy trims each line and collapses runs of blank lines.
func tidy(s string) string {
	var b strings.Builder
	blank := 0
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" {
			blank++
			continue
		}
		if b.Len() > 0 {
			if blank > 0 {
				b.WriteString("\n\n")
			} else {
				b.WriteByte('\n')
			}
		}
		blank = 0
		b.WriteString(line)
	}
	return b.String()
}

// cutRunes returns at most n bytes of s, ending on a rune boundary.
func cutRunes(s string, n int) string {
	if n >= len(s) {
		return s
	}
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = cutRunes(s, 120)
	}
	return s
}
