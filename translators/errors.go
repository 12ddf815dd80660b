package translators

import (
	"strconv"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// Error types used in the OpenAI error shape.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypeRateLimit      = "rate_limit_error"
	TypeNotFound       = "not_found_error"
	TypeUpstream       = "upstream_error"
	TypeServer         = "server_error"
)

// APIError is an error the client sees in the OpenAI error shape
// {"error":{"message","type","param","code"}} with an HTTP status.
type APIError struct {
	Status  int
	Type    string
	Code    string
	Message string
	// Param names the request parameter at fault, as OpenAI's errors do
	// (null when none).
	Param string
	// RetryAfter is sent as the Retry-After header when set.
	RetryAfter string
}

func (e *APIError) Error() string {
	return strconv.Itoa(e.Status) + " " + e.Type + ": " + e.Message
}

// Body renders the OpenAI error body.
func (e *APIError) Body() []byte {
	b := []byte(`{"error":{"message":"","type":"","param":null,"code":null}}`)
	b, _ = sjson.SetBytes(b, "error.message", e.Message)
	b, _ = sjson.SetBytes(b, "error.type", e.Type)
	if e.Param != "" {
		b, _ = sjson.SetBytes(b, "error.param", e.Param)
	}
	if e.Code != "" {
		b, _ = sjson.SetBytes(b, "error.code", e.Code)
	}
	return b
}

// BadRequest is a 400 invalid_request_error.
func BadRequest(code, msg string) *APIError {
	return &APIError{Status: 400, Type: TypeInvalidRequest, Code: code, Message: msg}
}

// UpstreamError maps a provider's non-2xx status to what the client sees.
// The provider's own message is kept where it helps the caller (bad request,
// rate limit) and replaced where it concerns the gateway's credentials.
func UpstreamError(status int, retryAfter, message string) *APIError {
	e := &APIError{Status: status, Type: TypeUpstream, Message: message, RetryAfter: retryAfter}
	switch {
	case status == 401 || status == 403:
		e.Status, e.Type, e.Code = 502, TypeUpstream, "provider_auth_failed"
		e.Message = "the gateway's credential for the provider was rejected (upstream status " + strconv.Itoa(status) + ")"
		e.RetryAfter = ""
	case status == 429:
		e.Type, e.Code = TypeRateLimit, "rate_limit_exceeded"
	case status == 408 || status == 504:
		e.Status, e.Code = 504, "upstream_timeout"
	case status == 503 || status == 529:
		e.Status, e.Code = 503, "provider_overloaded"
	case status >= 500:
		e.Status, e.Code = 502, "upstream_error"
	case status == 404:
		e.Status, e.Code = 502, "upstream_not_found"
	case status >= 400:
		e.Type = TypeInvalidRequest
	default:
		e.Status, e.Code = 502, "upstream_error"
	}
	if e.Message == "" {
		e.Message = "provider returned status " + strconv.Itoa(status)
	}
	return e
}

// upstreamMessage pulls a human message out of a provider error body, trying
// the shapes providers use; it falls back to a short prefix of the raw body.
func upstreamMessage(body []byte) string {
	for _, p := range []string{"error.message", "message", "error", "detail"} {
		if r := gjson.GetBytes(body, p); r.Type == gjson.String && r.Str != "" {
			return r.Str
		}
	}
	const max = 200
	if !validJSON(body) && len(body) > 0 {
		if len(body) > max {
			body = body[:max]
		}
		return string(body)
	}
	return ""
}
