package translators

import (
	"testing"

	"github.com/tidwall/gjson"
)

// TestMembersGet: a lookup among the members read once answers as
// gjson's Get on the object does, for every kind of path.
func TestMembersGet(t *testing.T) {
	doc := `{"model":"a","stream":true,"stream_options":{"include_usage":true},"max_tokens":5,` +
		`"messages":[{"role":"user","content":"hi"}],"model":"dup","k.e":1,"a\"b":2,"x":null,"":3}`
	root := gjson.Parse(doc)
	m := readMembers(root)
	for _, path := range []string{"model", "stream", "stream_options", "stream_options.include_usage", "stream_options.missing",
		"max_tokens", "messages", "messages.0.role", "messages.#", "x", "missing", "", `k\.e`, "a\"b", "mod*", "model|stream"} {
		got, want := m.Get(path), root.Get(path)
		if got.Raw != want.Raw || got.Type != want.Type || got.Exists() != want.Exists() {
			t.Errorf("Get(%q) = %s (%v), gjson says %s (%v)", path, got.Raw, got.Type, want.Raw, want.Type)
		}
	}
}
