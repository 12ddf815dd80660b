package translators

import "slices"

// Headers cross the gateway by allow-list, in both directions. A client's
// headers are meant for the gateway: cookies, proxy credentials,
// forwarding chains, or openai-organization / x-goog-user-project (which
// choose whose account the gateway's key bills) never reach a provider.
// A provider's headers are its business with the gateway: its
// organization id, cookies, rate limits and internal ids never reach a
// client. Anything else a request or answer needs is set by the
// translator or the gateway itself.

// ForwardsRequestHeader reports whether a client request header (lower
// case) may reach a provider of schema s as the client sent it.
// Pseudo-headers are Envoy's and always kept; the translator rewrites them.
func ForwardsRequestHeader(s Schema, name string) bool {
	switch name {
	case "content-type", "content-length":
		return true
	}
	if len(name) > 0 && name[0] == ':' {
		return true
	}
	if sp, ok := SpecFor(s); ok {
		return slices.Contains(sp.ForwardHeaders, name)
	}
	return false
}

// ForwardsResponseHeader reports whether a provider response header (lower
// case) may reach the client. Status, type and date describe the answer;
// everything else the client sees (retry-after, who served, usage) the
// gateway sets itself.
func ForwardsResponseHeader(name string) bool {
	switch name {
	case ":status", "content-type", "date":
		return true
	}
	return false
}
