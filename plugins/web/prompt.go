package web

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultPrompt is the note's opening, in OpenRouter's wording;
// {todays_date} is replaced with the date. A request's search_prompt
// replaces it (and may use {todays_date} too).
const DefaultPrompt = "A web search was conducted on {todays_date}. Incorporate the following web search results into your response.\n\n" +
	"IMPORTANT: Cite them using markdown links named using the domain of the source.\n" +
	"Example: [nytimes.com](https://nytimes.com/some-page)."

// NoteInput is what a note is made of.
type NoteInput struct {
	Prompt   string // empty: DefaultPrompt
	Date     time.Time
	Results  []Result
	MaxBytes int // the note's cap; results that do not fit are left out
}

// Note renders the note injected before the last user message:
//
//	<prompt with {todays_date} as YYYY-MM-DD>
//
//	[1] <title>
//	URL: <url>
//	Published: <date>        (only when known)
//	<snippet>
//
//	[2] ...
//
// It returns the note and how many results (a prefix of in.Results) it
// holds.
func Note(in NoteInput) (string, int) {
	prompt := in.Prompt
	if prompt == "" {
		prompt = DefaultPrompt
	}
	var sb strings.Builder
	sb.WriteString(strings.ReplaceAll(prompt, "{todays_date}", in.Date.Format("2006-01-02")))
	n := 0
	for i, r := range in.Results {
		entry := renderResult(i+1, r)
		if in.MaxBytes > 0 && sb.Len()+2+len(entry) > in.MaxBytes {
			break
		}
		sb.WriteString("\n\n")
		sb.WriteString(entry)
		n++
	}
	return sb.String(), n
}

func renderResult(n int, r Result) string {
	var sb strings.Builder
	sb.WriteString("[" + strconv.Itoa(n) + "] ")
	if r.Title != "" {
		sb.WriteString(r.Title)
	} else {
		sb.WriteString(r.URL)
	}
	sb.WriteString("\nURL: " + r.URL)
	if r.Published != "" {
		sb.WriteString("\nPublished: " + r.Published)
	}
	if r.Snippet != "" {
		sb.WriteString("\n" + r.Snippet)
	}
	return sb.String()
}

// Clean makes backend text safe to put in a prompt: HTML tags removed,
// common entities decoded, control characters dropped, whitespace
// collapsed, cut to maxBytes on a rune boundary (with "…" when cut).
// Search results are untrusted text: this bounds and flattens them, it
// does not make them trustworthy (the note says they are search results).
func Clean(s string, maxBytes int) string {
	s = strings.ToValidUTF8(s, "")
	if strings.ContainsRune(s, '<') {
		s = stripTags(s)
	}
	s = entities.Replace(s)
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return cut(strings.Join(strings.Fields(s), " "), maxBytes, false)
}

var entities = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'", "&#x27;", "'", "&nbsp;", " ")

func stripTags(s string) string {
	var sb strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>' && in:
			in = false
		case !in:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// cut shortens s to at most maxBytes on a rune boundary, at a space when
// words is set and one is in the last quarter, marking a cut with "…"
// unless words is set.
func cut(s string, maxBytes int, words bool) string {
	if len(s) <= maxBytes {
		return s
	}
	limit := maxBytes
	if !words {
		limit -= len("…")
	}
	for limit > 0 && !utf8.RuneStart(s[limit]) {
		limit--
	}
	out := s[:limit]
	if words {
		if i := strings.LastIndexByte(out, ' '); i > maxBytes*3/4 {
			out = out[:i]
		}
		return out
	}
	return out + "…"
}
