package translators

// openAIToAzure is a placeholder until its translator lands: every call answers 501
// so a config that names the schema fails loudly, never silently.
type openAIToAzure struct{}

func (openAIToAzure) Request([]byte, Target) (Request, error) {
	return Request{}, unimplemented(SchemaAzureOpenAI)
}

func (openAIToAzure) Response([]byte) ([]byte, Usage, error) {
	return nil, Usage{}, unimplemented(SchemaAzureOpenAI)
}

func (openAIToAzure) Error(status int, retryAfter string, body []byte) *APIError {
	return UpstreamError(status, retryAfter, upstreamMessage(body))
}

func (openAIToAzure) NewStream(StreamOptions) StreamTranslator {
	return &failedStream{err: unimplemented(SchemaAzureOpenAI)}
}
