package translators

import (
	"strings"

	"github.com/tidwall/gjson"
)

// RequireParameters reports whether the request asks that every parameter
// be honoured (OpenRouter's provider.require_parameters).
func RequireParameters(body []byte) bool {
	return gjson.GetBytes(body, "provider.require_parameters").Bool()
}

// dropOrReject records unsupported parameters that the request sets. With
// provider.require_parameters it returns a 400 naming them instead.
func dropOrReject(body []byte, schema Schema, params ...string) ([]string, error) {
	var set []string
	for _, p := range params {
		if gjson.GetBytes(body, p).Exists() {
			set = append(set, p)
		}
	}
	if len(set) > 0 && RequireParameters(body) {
		return nil, BadRequest("unsupported_parameter", "provider schema "+string(schema)+" cannot honour: "+strings.Join(set, ", ")+" (provider.require_parameters is set)")
	}
	return set, nil
}
