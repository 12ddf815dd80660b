package translators

// ValidateChat runs the schema-independent checks on an OpenAI chat request
// (valid JSON object, non-empty messages), so the router can reject a bad
// request before any provider is chosen.
func ValidateChat(body []byte) error { return checkChatRequest(body) }
