package compress

import (
	"context"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/middleware"
)

// Plugin is the middle-out transform as a middleware plugin: a prompt
// over the model's context length (or message cap) loses messages from
// its middle until it fits.
type Plugin struct {
	// LimitsOf gives the limits of a public model (from the catalog).
	LimitsOf func(model string) Limits
	Options  Options
}

func (Plugin) ID() string { return TransformMiddleOut }

func (p Plugin) Start(_ context.Context, in middleware.Input) (middleware.Step, error) {
	lim := Limits{}
	if p.LimitsOf != nil {
		lim = p.LimitsOf(modelOf(in.Body))
	}
	res, err := MiddleOut(in.Body, lim, p.Options)
	if err != nil {
		return middleware.Step{}, err
	}
	return middleware.Step{Body: res.Body}, nil
}

var _ middleware.Plugin = Plugin{}

func modelOf(body []byte) string { return gjson.GetBytes(body, "model").Str }
