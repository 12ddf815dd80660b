package translators

import (
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// passThroughBody is a client body for a provider that speaks the
// client's own API: the model swapped for the provider's id and the
// gateway's own fields (GatewayFields) removed, everything else as sent.
func passThroughBody(body []byte, model string) ([]byte, gjson.Result, error) {
	if !validJSON(body) {
		return nil, gjson.Result{}, BadRequest("invalid_json", "request body is not valid JSON")
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return nil, gjson.Result{}, BadRequest("invalid_request", "request body must be a JSON object")
	}
	out, err := sjson.SetBytes(body, "model", model)
	for _, f := range GatewayFields {
		if err == nil && root.Get(f).Exists() {
			out, err = sjson.DeleteBytes(out, f)
		}
	}
	if err != nil {
		return nil, gjson.Result{}, BadRequest("invalid_request", "cannot set the model: "+err.Error())
	}
	return out, root, nil
}
