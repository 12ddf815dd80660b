package config

import "time"

// Responses is the gateway's own state for the Responses API: the answers
// it keeps (the request's store, true by default) so previous_response_id
// and GET /v1/responses/{id} work on every provider. They are kept in the
// governance store's file (governance.store).
type Responses struct {
	// Retention is how long a stored response can be read and continued;
	// a purge deletes it after that. It applies to responses stored from
	// then on. Default 720h (30 days).
	Retention Duration `yaml:"retention"`
}

// DefaultResponsesRetention is Responses.Retention's default.
const DefaultResponsesRetention = 30 * 24 * time.Hour

func (r *Responses) applyDefaults() {
	if r.Retention == 0 {
		r.Retention = Duration(DefaultResponsesRetention)
	}
}

func (r *Responses) check(add func(path, value, format string, args ...any)) {
	if r.Retention < Duration(time.Minute) {
		add("responses.retention", time.Duration(r.Retention).String(), "must be at least 1m (default 720h)")
	}
}
