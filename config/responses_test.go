package config

import (
	"testing"
	"time"
)

func TestResponsesRetention(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       time.Duration
		err        string
	}{
		{name: "default", yaml: "", want: 30 * 24 * time.Hour},
		{name: "set", yaml: "responses: {retention: 48h}\n", want: 48 * time.Hour},
		{name: "too short", yaml: "responses: {retention: 30s}\n", err: `cfg.yaml:7: responses.retention "30s": must be at least 1m (default 720h)`},
		{name: "negative", yaml: "responses: {retention: -1h}\n", err: `cfg.yaml:7: responses.retention "-1h0m0s": must be at least 1m (default 720h)`},
		{name: "unknown field", yaml: "responses: {keep: 1h}\n", err: `cfg.yaml:7: unknown field "keep"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse("cfg.yaml", []byte(govBase+tc.yaml), noEnv)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error =\n%v\nwant\n%s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := l.Responses.Retention.D(); got != tc.want {
				t.Errorf("retention %s, want %s", got, tc.want)
			}
		})
	}
}
