package translators

// ValidateChat runs the schema-independent checks on an OpenAI chat request
// (valid JSON object, non-empty messages), so the router can reject a bad
// request before any provider is chosen.
func ValidateChat(body []byte) error { return checkChatRequest(body) }

// validateCheckedChat is ValidateChat for a body that passed
// CheckRequestJSON: the shape checks, without validating the JSON again
// (on a long conversation, that second pass was a fifth of the router
// hop's work).
func validateCheckedChat(body []byte) error { return checkChatShape(body) }
