package translators

// openAIToVertex is a placeholder until its translator lands: every call answers 501
// so a config that names the schema fails loudly, never silently.
type openAIToVertex struct{}

func (openAIToVertex) Request([]byte, Target) (Request, error) {
	return Request{}, unimplemented(SchemaVertexAI)
}

func (openAIToVertex) Response([]byte) ([]byte, Usage, error) {
	return nil, Usage{}, unimplemented(SchemaVertexAI)
}

func (openAIToVertex) Error(status int, retryAfter string, body []byte) *APIError {
	return UpstreamError(status, retryAfter, upstreamMessage(body))
}

func (openAIToVertex) NewStream(StreamOptions) StreamTranslator {
	return &failedStream{err: unimplemented(SchemaVertexAI)}
}
