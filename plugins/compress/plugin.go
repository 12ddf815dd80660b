package compress

import (
	"context"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/middleware"
	"github.com/switchboard-gw/switchboard/tokens"
)

// Plugin is the middle-out transform as a middleware plugin: a prompt
// over the model's context length (or message cap) loses messages from
// its middle until it fits.
type Plugin struct {
	// LimitsOf gives the limits of a public model (from the catalog).
	LimitsOf func(model string) Limits
	// OptionsOf gives how to count a public model's tokens (tokens.ForModels of
	// its providers' model ids). Nil counts every model with o200k_base,
	// no margin.
	OptionsOf func(model string) tokens.Options
}

func (Plugin) ID() string { return TransformMiddleOut }

func (p Plugin) Start(_ context.Context, in middleware.Input) (middleware.Step, error) {
	model := modelOf(in.Body)
	lim, opts := Limits{}, tokens.Options{}
	if p.LimitsOf != nil {
		lim = p.LimitsOf(model)
	}
	if p.OptionsOf != nil {
		opts = p.OptionsOf(model)
	}
	res, err := MiddleOut(in.Body, lim, opts)
	if err != nil {
		return middleware.Step{}, err
	}
	return middleware.Step{Body: res.Body}, nil
}

var _ middleware.Plugin = Plugin{}

func modelOf(body []byte) string { return gjson.GetBytes(body, "model").Str }
