package translators

import (
	"strings"

	"github.com/tidwall/gjson"
)

// members is a JSON object's top-level members, read in one pass, for code
// that asks for many of them: each gjson Get scans the object from its
// start, skipping every member before the one it wants, so a dozen reads
// of a request skipped a long messages array a dozen times.
type members struct {
	root gjson.Result
	keys []string
	vals []gjson.Result
}

// gjsonSyntax are the characters with a meaning in a gjson path.
const gjsonSyntax = ".*?#|@\\!=<>%"

func readMembers(root gjson.Result) members {
	m := members{root: root, keys: make([]string, 0, 16), vals: make([]gjson.Result, 0, 16)}
	root.ForEach(func(k, v gjson.Result) bool {
		m.keys, m.vals = append(m.keys, k.Str), append(m.vals, v)
		return true
	})
	return m
}

// Get is root.Get(path). A plain member name is looked up among the
// members (the first of a repeated name, as gjson); a dotted path starts
// from its first member; any other path goes to gjson.
func (m members) Get(path string) gjson.Result {
	if !strings.ContainsAny(path, gjsonSyntax) {
		for i, k := range m.keys {
			if k == path {
				return m.vals[i]
			}
		}
		return gjson.Result{}
	}
	if i := strings.IndexByte(path, '.'); i > 0 && !strings.ContainsAny(path[:i], gjsonSyntax) {
		return m.Get(path[:i]).Get(path[i+1:])
	}
	return m.root.Get(path)
}
