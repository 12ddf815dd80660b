package translators

import (
	"strings"

	"github.com/tidwall/gjson"
)

// members is a JSON object's top-level members, read in one pass, for code
// that asks for several of them: each gjson Get scans the object from its
// start, skipping every member before the one it wants, so a dozen reads
// of a request skipped a long messages array a dozen times, and each read
// of a message skipped its content. The first maxMembers are kept in
// place (no allocation; a reader lives on the stack); a name not among
// them in a larger object is left to gjson.
type members struct {
	root gjson.Result
	n    int
	more bool // the object has members beyond keys
	keys [maxMembers]string
	vals [maxMembers]gjson.Result
}

const maxMembers = 12

// getter is what reads a request's top-level fields: a gjson.Result, or
// its members read once.
type getter interface {
	Get(path string) gjson.Result
}

// gjsonSyntax are the characters with a meaning in a gjson path.
const gjsonSyntax = ".*?#|@\\!=<>%"

func (m *members) read(root gjson.Result) {
	m.root, m.n, m.more = root, 0, false
	root.ForEach(func(k, v gjson.Result) bool {
		if m.n == maxMembers {
			m.more = true
			return false
		}
		m.keys[m.n], m.vals[m.n] = k.Str, v
		m.n++
		return true
	})
}

// Get is root.Get(path). A plain member name is looked up among the
// members (the first of a repeated name, as gjson); a dotted path starts
// from its first member; any other path goes to gjson.
func (m *members) Get(path string) gjson.Result {
	if !strings.ContainsAny(path, gjsonSyntax) {
		for i, k := range m.keys[:m.n] {
			if k == path {
				return m.vals[i]
			}
		}
		if m.more {
			return m.root.Get(path)
		}
		return gjson.Result{}
	}
	if i := strings.IndexByte(path, '.'); i > 0 && !strings.ContainsAny(path[:i], gjsonSyntax) {
		return m.Get(path[:i]).Get(path[i+1:])
	}
	return m.root.Get(path)
}
