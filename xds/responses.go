package xds

import (
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// ResponsesStorePrefix is where the Responses API's stored answers are
// read and deleted (GET and DELETE /v1/responses/{id}).
const ResponsesStorePrefix = "/v1/responses/"

// storedResponsesRoute sends /v1/responses/{id} to the router hop, which
// answers it from the gateway's store, as it answers the management API.
// POST /v1/responses is an API path and matches its own route first.
func storedResponsesRoute(version string) *routev3.Route {
	return &routev3.Route{
		Name:  "stored_responses",
		Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: ResponsesStorePrefix}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: UnroutedCluster},
		}},
		TypedPerFilterConfig: stampRouterHop(version),
	}
}
