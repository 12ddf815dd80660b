package translators

// openAIToBedrock is a placeholder until its translator lands: every call answers 501
// so a config that names the schema fails loudly, never silently.
type openAIToBedrock struct{}

func (openAIToBedrock) Request([]byte, Target) (Request, error) {
	return Request{}, unimplemented(SchemaBedrock)
}

func (openAIToBedrock) Response([]byte) ([]byte, Usage, error) {
	return nil, Usage{}, unimplemented(SchemaBedrock)
}

func (openAIToBedrock) Error(status int, retryAfter string, body []byte) *APIError {
	return UpstreamError(status, retryAfter, upstreamMessage(body))
}

func (openAIToBedrock) NewStream(StreamOptions) StreamTranslator {
	return &failedStream{err: unimplemented(SchemaBedrock)}
}
