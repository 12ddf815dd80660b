package translators

// unimplemented is the error of a schema whose translator has not landed.
func unimplemented(s Schema) *APIError {
	return &APIError{Status: 501, Type: TypeServer, Code: "schema_not_implemented",
		Message: "the gateway does not translate to the " + string(s) + " schema yet"}
}

// failedStream ends a stream at once with an error chunk.
type failedStream struct {
	err  *APIError
	done bool
}

func (s *failedStream) Translate(dst, _ []byte) []byte { return dst }

func (s *failedStream) Finish(dst []byte) []byte {
	if s.done {
		return dst
	}
	s.done = true
	dst = appendErrorChunk(dst, &chunkHeader{}, s.err)
	return append(dst, sseDone...)
}

func (s *failedStream) Usage() Usage { return Usage{} }
