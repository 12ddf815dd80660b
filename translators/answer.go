package translators

import "github.com/tidwall/gjson"

// A 2xx from a provider is only a success if it is an answer. A body that
// is an error object, an empty object, or some other document under a 200
// is an upstream failure like a 5xx: it must not reach the client as a
// success, and it counts against the provider.

// CheckChatAnswer checks a translated (OpenAI-shaped) whole chat answer:
// an object with a non-empty choices array whose entries carry a message.
// upstream is the provider's own body, whose error message (if it sent an
// error object) is kept.
func CheckChatAnswer(out, upstream []byte) *APIError {
	ok := true
	choices := gjson.GetBytes(out, "choices")
	if !choices.IsArray() || len(choices.Array()) == 0 {
		ok = false
	} else {
		choices.ForEach(func(_, c gjson.Result) bool {
			ok = c.Get("message").IsObject()
			return ok
		})
	}
	if ok {
		return nil
	}
	return notAnAnswer(upstream, "a chat completion")
}

// CheckEmbeddingsAnswer checks a translated embeddings answer: a data
// array.
func CheckEmbeddingsAnswer(out, upstream []byte) *APIError {
	if gjson.GetBytes(out, "data").IsArray() {
		return nil
	}
	return notAnAnswer(upstream, "an embeddings list")
}

func notAnAnswer(upstream []byte, what string) *APIError {
	msg := "provider returned a success status with a body that is not " + what
	if m := upstreamMessage(upstream); m != "" && validJSON(upstream) {
		msg += ": " + m
	}
	return &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: msg}
}
