package translators

import "github.com/tidwall/gjson"

// anthropicIngressDroppedParams are Messages parameters the OpenAI chat
// form has no counterpart for: a translated request is served without
// them and the client is told (x-switchboard-dropped-params), or refused
// under provider.require_parameters. A pass-through keeps them all.
var anthropicIngressDroppedParams = []string{"context_management", "container", "mcp_servers", "service_tier"}

// Dropped lists what of a Messages request the translation to the OpenAI
// chat form (Request) leaves out, as report names: the top-level
// anthropicIngressDroppedParams, thinking.display (chat providers show
// their reasoning or not on their own), output_config.effort without
// adaptive thinking (only adaptive thinking maps it to reasoning.effort)
// and tool flags such as defer_loading (tools[].defer_loading). Claude
// Code sends context_management, thinking.display and defer_loading on
// every turn.
func (AnthropicIngress) Dropped(body []byte) []string {
	root := gjson.ParseBytes(body)
	var out []string
	for _, p := range anthropicIngressDroppedParams {
		if v := root.Get(p); v.Exists() && v.Type != gjson.Null {
			out = append(out, p)
		}
	}
	th := root.Get("thinking")
	if d := th.Get("display"); d.Exists() && d.Type != gjson.Null {
		out = append(out, "thinking.display")
	}
	if e := root.Get("output_config.effort"); e.Exists() && e.Type != gjson.Null && th.Get("type").Str != "adaptive" {
		out = append(out, "output_config.effort")
	}
	for _, flag := range []string{"defer_loading", "input_examples", "allowed_callers"} {
		found := false
		root.Get("tools").ForEach(func(_, t gjson.Result) bool {
			if v := t.Get(flag); v.Exists() && v.Type != gjson.Null && v.Type != gjson.False {
				found = true
			}
			return !found
		})
		if found {
			out = append(out, "tools[]."+flag)
		}
	}
	return out
}
