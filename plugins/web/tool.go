package web

import (
	"strings"

	"github.com/tidwall/gjson"
)

// ToolName is the tool the loop offers the model in place of Anthropic's
// server tool (ServerToolFunction).
const ToolName = "web_search"

// Call is one call of the model to web_search.
type Call struct {
	ID        string
	Arguments string // as the model wrote them
	// Query is the arguments' query, empty when they do not parse.
	Query string
}

func newCall(id, args string) Call {
	return Call{ID: id, Arguments: args, Query: strings.TrimSpace(gjson.Get(args, "query").Str)}
}

// ToolResult is what one search call gave.
type ToolResult struct {
	Call    Call
	Results []Result
	// Err, when set, is told to the model instead of results.
	Err string
}

// renderResults numbers results for the model as the plugin form's note
// does.
func renderResults(rs []Result) string {
	if len(rs) == 0 {
		return "No results."
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = renderResult(i+1, r)
	}
	return strings.Join(parts, "\n\n")
}

// maxArgBytes bounds what a stream keeps of a call's arguments.
const maxArgBytes = 64 << 10
