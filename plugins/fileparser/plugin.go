package fileparser

import (
	"context"
	"fmt"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/middleware"
)

// Plugin is the file parser as a middleware plugin: PDF and text file
// parts become text for models that cannot read files.
type Plugin struct {
	Parser *Parser
	// ReadsPDF tells whether a public model reads PDFs itself (engine
	// default then passes files through).
	ReadsPDF func(model string) bool
}

func (Plugin) ID() string { return PluginID }

// CheckOptions checks a forced block as Start reads it.
func (Plugin) CheckOptions(block []byte) error {
	_, _, err := OptionsFromRequest([]byte(`{"plugins":[` + string(block) + `]}`))
	return err
}

func (p Plugin) Start(ctx context.Context, in middleware.Input) (middleware.Step, error) {
	opts, _, err := OptionsFromRequest([]byte(`{"plugins":[` + string(in.Options) + `]}`))
	if err != nil {
		return middleware.Step{}, err
	}
	m := Model{}
	if p.ReadsPDF != nil {
		m.ReadsPDF = p.ReadsPDF(gjsonModel(in.Body))
	}
	res, err := p.Parser.Rewrite(ctx, in.Body, opts, m)
	if err != nil {
		return middleware.Step{}, err
	}
	var warns []string
	if res.Changed {
		warns = append(warns, fmt.Sprintf("file-parser: %d file(s), %d page(s) parsed to text", res.Usage.Files, res.Usage.PagesParsed))
	}
	return middleware.Step{Body: res.Body, Warnings: warns}, nil
}

var _ middleware.Plugin = Plugin{}

func gjsonModel(body []byte) string { return gjson.GetBytes(body, "model").Str }
