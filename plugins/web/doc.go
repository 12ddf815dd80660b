// Package web is the web search plugin of the middleware chain, in its two
// forms, and the search backends it calls.
//
// # The plugin form
//
// plugins: [{"id": "web", "max_results": 5, "search_prompt": "...",
// "engine": "searxng"}] or the :online model suffix. Plugin.Start:
//
//  1. builds the query from the conversation: the text of the last user
//     message, whitespace collapsed, cut to Config.MaxQueryBytes at a word
//     boundary (Query);
//  2. calls the backend the request names (the first configured by
//     default) under Config.Timeout, for max_results results (default
//     Config.DefaultResults, at most Config.MaxResults);
//  3. caps each result (title, snippet: HTML stripped, Clean), drops
//     duplicates and non-http URLs, and renders a note in OpenRouter's
//     wording (DefaultPrompt, Note) holding as many results as fit
//     Config.MaxPromptBytes;
//  4. inserts the note as a system message right before the last user
//     message (Inject). Translators that hoist system messages (Anthropic,
//     Gemini, Bedrock) carry it in their system field;
//  5. returns Citations as its After: url_citation annotations on the
//     whole answer and on the final chunk of a stream (see Citations).
//
// A failed search fails the request with 502 web_search_failed under
// FailureMode Fail, or goes on without results and a warning under
// Continue (the default). Usage counts one search call, the results used
// and their cost (Config.CostPerResult each).
//
// # The tool form
//
// Anthropic's web_search server tool (what Claude Code sends) on any
// provider: Loop serves a /v1/messages request that declares it. The
// model gets a web_search tool (ServerToolFunction); each round goes back
// through the gateway as an ordinary request; when a round calls only
// web_search, the loop searches, streams the server_tool_use and
// web_search_tool_result blocks (AnthropicBlocks) and sends the next round
// with the calls' results, at most the tool's max_uses searches
// (AnthropicServerTool reads its limits and domain lists).
//
// # Backends and Envoy
//
// SearXNG, Exa, Tavily and Brave clients speak their public wire formats
// and take a base URL. They are meant to go through Envoy as provider
// clusters do: xds adds one cluster per configured backend (its host, TLS
// with SNI, the same circuit breakers and outlier detection as providers)
// and a route on an internal loopback listener, e.g.
// http://127.0.0.1:<port>/search-backend/<name>, prefix-rewritten to the
// backend's path. The gateway then builds each client with that listener as
// BaseURL, and the calls get Envoy's metrics, access log, mTLS and
// retries. The credential stays in the ext_proc process (the client sets
// the header) so Envoy's config never holds it. Until xds grows that
// listener, BaseURL is the backend's own URL and the calls leave the
// ext_proc process directly, with Config.Timeout and the http.Client
// timeout as bounds.
//
// Search results are untrusted text placed in the prompt. Clean flattens
// and caps them; it cannot stop a page from trying to instruct the model.
package web
