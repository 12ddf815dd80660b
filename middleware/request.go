package middleware

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/switchboard-gw/switchboard/translators"
)

// OnlineSuffix is the model suffix that enables the web plugin.
const OnlineSuffix = ":online"

// WebID is the id of the web search plugin, which :online enables.
const WebID = "web"

// Enabled is one plugin a request (or a policy) turned on.
type Enabled struct {
	ID string
	// Options is the plugin's block, a JSON object with at least "id".
	Options []byte
	// Path names where it was enabled, for errors: "plugins[1]",
	// "transforms[0]", "model" (the :online suffix) or "policy".
	Path string
}

// Selection is what a request asked of the chain.
type Selection struct {
	// Plugins in request order: the plugins array, then transforms,
	// then :online (unless the array already names "web").
	Plugins []Enabled
}

// Empty reports whether the request asked for nothing.
func (s Selection) Empty() bool { return len(s.Plugins) == 0 }

func (s Selection) has(id string) bool {
	for _, e := range s.Plugins {
		if e.ID == id {
			return true
		}
	}
	return false
}

func idOnly(id string) []byte {
	b, _ := sjson.SetBytes([]byte(`{}`), "id", id)
	return b
}

// Parse reads OpenRouter's plugin syntax from a chat request: the plugins
// array, the transforms array and the :online model suffix. Errors are 400
// *translators.APIError naming the parameter.
func Parse(body []byte) (Selection, error) {
	res := gjson.GetManyBytes(body, "plugins", "transforms", "model")
	plugins, transforms, model := res[0], res[1], res[2]
	if !plugins.Exists() && !transforms.Exists() && !strings.HasSuffix(model.Str, OnlineSuffix) {
		return Selection{}, nil
	}
	var sel Selection
	if plugins.Exists() && plugins.Type != gjson.Null {
		if !plugins.IsArray() {
			return Selection{}, invalid("plugins", "'plugins' must be an array of objects with an 'id'")
		}
		for i, p := range plugins.Array() {
			path := "plugins[" + strconv.Itoa(i) + "]"
			if !p.IsObject() {
				return Selection{}, invalid(path, "'"+path+"' must be an object with an 'id'")
			}
			id := p.Get("id")
			if id.Type != gjson.String || id.Str == "" {
				return Selection{}, invalid(path+".id", "'"+path+".id' must be a non-empty string")
			}
			if sel.has(id.Str) {
				return Selection{}, invalid(path+".id", "'"+path+".id' "+strconv.Quote(id.Str)+" is enabled twice")
			}
			sel.Plugins = append(sel.Plugins, Enabled{ID: id.Str, Options: []byte(p.Raw), Path: path})
		}
	}
	if transforms.Exists() && transforms.Type != gjson.Null {
		if !transforms.IsArray() {
			return Selection{}, invalid("transforms", "'transforms' must be an array of strings")
		}
		for i, t := range transforms.Array() {
			path := "transforms[" + strconv.Itoa(i) + "]"
			if t.Type != gjson.String || t.Str == "" {
				return Selection{}, invalid(path, "'"+path+"' must be a non-empty string")
			}
			if sel.has(t.Str) {
				return Selection{}, invalid(path, "'"+path+"' "+strconv.Quote(t.Str)+" is enabled twice")
			}
			sel.Plugins = append(sel.Plugins, Enabled{ID: t.Str, Options: idOnly(t.Str), Path: path})
		}
	}
	if strings.HasSuffix(model.Str, OnlineSuffix) && !sel.has(WebID) {
		sel.Plugins = append(sel.Plugins, Enabled{ID: WebID, Options: idOnly(WebID), Path: "model"})
	}
	return sel, nil
}

// Strip removes what only the chain reads from a chat request: the
// plugins and transforms fields and the :online model suffix. It returns
// body itself when there is nothing to strip, and never modifies it.
func Strip(body []byte) []byte {
	res := gjson.GetManyBytes(body, "plugins", "transforms", "model")
	if !res[0].Exists() && !res[1].Exists() && !strings.HasSuffix(res[2].Str, OnlineSuffix) {
		return body
	}
	out := append([]byte(nil), body...)
	if res[0].Exists() {
		out, _ = sjson.DeleteBytes(out, "plugins")
	}
	if res[1].Exists() {
		out, _ = sjson.DeleteBytes(out, "transforms")
	}
	if m := res[2].Str; strings.HasSuffix(m, OnlineSuffix) {
		out, _ = sjson.SetBytes(out, "model", strings.TrimSuffix(m, OnlineSuffix))
	}
	return out
}

func invalid(param, msg string) *translators.APIError {
	e := translators.BadRequest("invalid_plugins", msg)
	e.Param = param
	return e
}
