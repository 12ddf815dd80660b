package extproc

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/switchboard-gw/switchboard/translators"
)

// Provider error messages sometimes quote the request, credentials
// included ("Incorrect API key provided: sk-proj-..."). Before an error
// reaches a client or a log, every credential the gateway sent on the
// attempt is cut out by value, and anything shaped like a credential by
// pattern.

const redacted = "[redacted]"

// secretPatterns match credentials by shape. Go's regexp is linear in the
// input, so a hostile error body cannot make this slow.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}`),
	regexp.MustCompile(`\bsk-[A-Za-z0-9_-]{8,}`),      // OpenAI, Anthropic and compatible hosts
	regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`), // AWS access key ids
	regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{30,}`),    // Google API keys
	regexp.MustCompile(`\bya29\.[0-9A-Za-z._-]{8,}`),  // Google OAuth access tokens
	regexp.MustCompile(`(?i)((?:x-)?api[-_]?key|authorization|x-amz-security-token)(["']?\s*[:=]\s*["']?(?:(?:basic|bearer|token)\s+)?)[^\s"',;]{8,}`),
}

// scrubber removes one attempt's credentials from text.
type scrubber struct{ exact []string }

// add records a credential value sent upstream. Short values are not
// worth matching (and would cut ordinary words).
func (s *scrubber) add(v string) {
	v = strings.TrimSpace(v)
	if _, tok, ok := strings.Cut(v, " "); ok && strings.EqualFold(v[:len(v)-len(tok)-1], "bearer") {
		v = tok
	}
	if len(v) >= 8 {
		s.exact = append(s.exact, v)
	}
}

func (s *scrubber) scrub(msg string) string {
	for _, v := range s.exact {
		msg = strings.ReplaceAll(msg, v, redacted)
	}
	for _, re := range secretPatterns {
		msg = re.ReplaceAllStringFunc(msg, func(m string) string {
			if sm := re.FindStringSubmatch(m); len(sm) == 3 {
				return sm[1] + sm[2] + redacted // keep the name, cut the value
			}
			if strings.HasPrefix(strings.ToLower(m), "bearer") {
				return "Bearer " + redacted
			}
			return redacted
		})
	}
	return msg
}

// scrubBytes is scrub for stream output; only chunks that carry an error
// are looked at, so ordinary chunks pay one scan.
func (s *scrubber) scrubBytes(b []byte) []byte {
	if !bytes.Contains(b, []byte(`"error"`)) {
		return b
	}
	return []byte(s.scrub(string(b)))
}

// credentialHeaders are the request headers whose values are secrets.
var credentialHeaders = translators.CredentialHeaders
