// Package middleware is the gateway's extension point: a chain of plugins
// that work the same on every model, whatever API the client called.
//
// # The chat pivot
//
// Plugins see the OpenAI chat form only. /v1/chat/completions,
// /v1/messages and /v1/responses are all normalized to a chat request
// (translators.API.Normalize) before planning, and every provider's answer
// is a chat.completion or a stream of chat.completion.chunk objects before
// it is turned into the client's API. A plugin written against the chat form
// therefore serves all three endpoints.
//
// # A plugin's life on one request
//
//  1. Start, in the router hop before planning and translation. The plugin
//     gets the chat request and its own block from the request (Input) and
//     returns a Step: a rewritten request (Body), or a whole answer of its
//     own (Answer: nothing goes upstream), and an After that transforms the
//     answer, plus the Usage it caused (search calls, cost) and warnings.
//  2. After.Answer on a whole chat.completion, or After.NewStream, a
//     StreamTransformer fed one chat.completion.chunk at a time.
//
// Plugins run in chain order on the way in and in reverse order on the way
// out (the first plugin sees the final answer last), like HTTP middleware.
// A plugin that answers ends the way in: later plugins are not started and
// the earlier ones' Afters still see the answer.
//
// Per-request state lives in the After a Start returns. The router hop
// handles the request body and the response body of one client request on
// the same ext_proc stream, so no state crosses replicas.
//
// # Enabling plugins
//
// A request enables plugins with OpenRouter's syntax, parsed by Parse:
//
//	"plugins": [{"id": "web", "max_results": 5, "search_prompt": "...", "engine": "exa"},
//	            {"id": "file-parser", "pdf": {"engine": "pdf-text"}},
//	            {"id": "response-healing"}],
//	"transforms": ["middle-out"],
//	"model": "openai/gpt-4o:online"
//
// A transform is a plugin whose id is the transform's name. The :online
// model suffix is shorthand for {"id": "web"}. Strip removes all three from
// the body, so neither the catalog nor a provider ever sees them.
//
// A tenant or key narrows what a request may do with a Policy: which plugins
// are allowed, which are denied, which are forced on with a config block.
// Policy.Narrow combines a tenant's policy with a key's, so that the key
// only narrows: the tenant's forced plugins stay on, and a key forces only
// what its tenant allows. A refused plugin is a 403 plugin_forbidden
// naming the policy's Owner and the rule (plugins.deny or plugins.allow).
//
// # Config and limits
//
// Each plugin is a plain Go value built explicitly in cmd/switchboard from
// its own config block (its package's Config, with Validate), and given to
// NewChain. There is no registry and no init. A plugin checks the request's
// block against its limits in Start and answers a bad one with a 400
// (*translators.APIError).
//
// # Errors and failure modes
//
// An error from Start fails the request: a *translators.APIError goes to
// the client as it is, any other error as a 502 naming the plugin. A plugin
// configured to continue without itself on failure returns a Step with
// Warnings instead; Run.Warnings collects them for a response header.
//
// # Usage
//
// A Step's Usage (search calls, results, cost in USD) is summed per plugin
// in Run.Usage; ApplyUsage adds it to a chat answer's usage object
// (usage.cost and usage.server_tool_use.web_search_requests) and the
// caller adds Usage.Cost to the generation record.
//
// # Cost when unused
//
// Run on a request with no plugins, transforms or :online suffix and an
// empty policy does two gjson lookups and allocates nothing of note
// (BenchmarkBeginNoPlugins).
package middleware
