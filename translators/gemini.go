package translators

// openAIToGemini is a placeholder until its translator lands: every call answers 501
// so a config that names the schema fails loudly, never silently.
type openAIToGemini struct{}

func (openAIToGemini) Request([]byte, Target) (Request, error) {
	return Request{}, unimplemented(SchemaGemini)
}

func (openAIToGemini) Response([]byte) ([]byte, Usage, error) {
	return nil, Usage{}, unimplemented(SchemaGemini)
}

func (openAIToGemini) Error(status int, retryAfter string, body []byte) *APIError {
	return UpstreamError(status, retryAfter, upstreamMessage(body))
}

func (openAIToGemini) NewStream(StreamOptions) StreamTranslator {
	return &failedStream{err: unimplemented(SchemaGemini)}
}
