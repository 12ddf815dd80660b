package translators

import (
	"strconv"
	"strings"
)

// Converse document blocks
// (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_DocumentBlock.html).
// A user message holds at most bedrockMaxDocuments of them, and one that
// holds any must hold a text block too
// (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Message.html).
const (
	bedrockMaxDocuments   = 5
	bedrockMaxDocumentLen = 200 // characters of a document name
)

// bedrockDocumentFormats maps the media types of OpenAI file parts to
// Converse's document formats.
var bedrockDocumentFormats = map[string]string{
	"application/pdf":    "pdf",
	"text/csv":           "csv",
	"application/msword": "doc",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
	"application/vnd.ms-excel": "xls",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
	"text/html":     "html",
	"text/plain":    "txt",
	"text/markdown": "md",
}

// bedrockDocumentOf maps an OpenAI file part ({"file":{"filename",
// "file_data"}}) to a Converse document block. Only inline base64 data URLs
// work: file_id refers to OpenAI's file store. The name is made to follow
// Converse's rules by bedrockDocumentName; names are made unique within
// the request by checkDocuments.
func bedrockDocumentOf(p chatPart) (*bedrockDocument, error) {
	if p.Data == "" {
		return nil, fileIDError(p, "Bedrock")
	}
	format, ok := bedrockDocumentFormats[strings.ToLower(p.MediaType)]
	if !ok {
		return nil, BadRequest("unsupported_parameter", p.path()+": file type "+strconv.Quote(p.MediaType)+" is not supported by Bedrock (pdf, csv, doc, docx, xls, xlsx, html, txt and md documents are)")
	}
	return &bedrockDocument{Format: format, Name: bedrockDocumentName(p.FileName, format), Source: bedrockImageSource{Bytes: p.Data}}, nil
}

// bedrockDocumentName turns a file name into a Converse document name:
// alphanumerics, single spaces, hyphens, parentheses and square brackets,
// 1 to 200 characters. The extension of the format is left out, other
// characters become hyphens, and a missing name is "document".
func bedrockDocumentName(filename, format string) string {
	if base, ext, ok := cutLast(filename, "."); ok && strings.EqualFold(ext, format) {
		filename = base
	}
	var b strings.Builder
	space := false
	for _, r := range filename {
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			space = b.Len() > 0
			continue
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '-', r == '(', r == ')', r == '[', r == ']':
		default:
			r = '-'
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
		if b.Len() >= bedrockMaxDocumentLen {
			break
		}
	}
	name := strings.TrimSpace(b.String())
	if len(name) > bedrockMaxDocumentLen {
		name = strings.TrimSpace(name[:bedrockMaxDocumentLen])
	}
	if name == "" {
		return "document"
	}
	return name
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// uniqueDocumentName gives a document a name no earlier document of the
// request has, numbering repeats "name (2)", "name (3)" and so on.
func (b *bedrockBuilder) uniqueDocumentName(d *bedrockDocument) {
	if b.docNames == nil {
		b.docNames = map[string]bool{}
	}
	name := d.Name
	for n := 2; b.docNames[name]; n++ {
		suffix := " (" + strconv.Itoa(n) + ")"
		base := d.Name
		if len(base)+len(suffix) > bedrockMaxDocumentLen {
			base = strings.TrimSpace(base[:bedrockMaxDocumentLen-len(suffix)])
		}
		name = base + suffix
	}
	b.docNames[name] = true
	d.Name = name
}

// checkDocuments enforces Converse's rules for documents in a user
// message, once same-role turns are merged: at most five, beside a text
// block (Bedrock would refuse the request otherwise), and gives each a name
// of its own.
func (b *bedrockBuilder) checkDocuments() error {
	for _, m := range b.msgs {
		docs, text, first := 0, false, ""
		for _, c := range m.Content {
			if c.Document != nil {
				if docs == 0 {
					first = b.docPaths[c.Document]
				}
				docs++
				b.uniqueDocumentName(c.Document)
			}
			text = text || c.Text != ""
		}
		switch {
		case docs > bedrockMaxDocuments:
			return BadRequest("unsupported_parameter", first+": Bedrock takes at most "+strconv.Itoa(bedrockMaxDocuments)+" documents in one user turn; this turn has "+strconv.Itoa(docs))
		case docs > 0 && !text:
			return BadRequest("invalid_messages", first+": Bedrock needs a text part in the user turn that holds a file")
		}
	}
	return nil
}
