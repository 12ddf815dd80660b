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
	var m, few members
	m.read(root)
	// More members than it keeps: names beyond them go to gjson.
	wide := `{"a0":0,"a1":1,"a2":2,"a3":3,"a4":4,"a5":5,"a6":6,"a7":7,"a8":8,"a9":9,"a10":10,"a11":11,"a12":12,"a13":{"x":13},"a0":"dup"}`
	few.read(gjson.Parse(wide))
	for _, path := range []string{"a0", "a11", "a12", "a13", "a13.x", "a14"} {
		got, want := few.Get(path), gjson.Get(wide, path)
		if got.Raw != want.Raw || got.Exists() != want.Exists() {
			t.Errorf("wide object: Get(%q) = %s, gjson says %s", path, got.Raw, want.Raw)
		}
	}
	for _, path := range []string{"model", "stream", "stream_options", "stream_options.include_usage", "stream_options.missing",
		"max_tokens", "messages", "messages.0.role", "messages.#", "x", "missing", "", `k\.e`, "a\"b", "mod*", "model|stream"} {
		got, want := m.Get(path), root.Get(path)
		if got.Raw != want.Raw || got.Type != want.Type || got.Exists() != want.Exists() {
			t.Errorf("Get(%q) = %s (%v), gjson says %s (%v)", path, got.Raw, got.Type, want.Raw, want.Type)
		}
	}
}
