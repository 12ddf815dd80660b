package middleware

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard-gw/switchboard/translators"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    []Enabled
		wantErr string
	}{
		{name: "nothing", body: `{"model":"demo","messages":[]}`},
		{name: "plugins in order", body: `{"model":"demo","plugins":[{"id":"web","max_results":5},{"id":"file-parser","pdf":{"engine":"pdf-text"}},{"id":"response-healing"}]}`,
			want: []Enabled{
				{ID: "web", Options: []byte(`{"id":"web","max_results":5}`), Path: "plugins[0]"},
				{ID: "file-parser", Options: []byte(`{"id":"file-parser","pdf":{"engine":"pdf-text"}}`), Path: "plugins[1]"},
				{ID: "response-healing", Options: []byte(`{"id":"response-healing"}`), Path: "plugins[2]"},
			}},
		{name: "transforms after plugins", body: `{"model":"demo","plugins":[{"id":"web"}],"transforms":["middle-out"]}`,
			want: []Enabled{
				{ID: "web", Options: []byte(`{"id":"web"}`), Path: "plugins[0]"},
				{ID: "middle-out", Options: []byte(`{"id":"middle-out"}`), Path: "transforms[0]"},
			}},
		{name: "online suffix", body: `{"model":"openai/gpt-4o:online"}`,
			want: []Enabled{{ID: "web", Options: []byte(`{"id":"web"}`), Path: "model"}}},
		{name: "online with a web block keeps the block", body: `{"model":"demo:online","plugins":[{"id":"web","max_results":2}]}`,
			want: []Enabled{{ID: "web", Options: []byte(`{"id":"web","max_results":2}`), Path: "plugins[0]"}}},
		{name: "null fields", body: `{"model":"demo","plugins":null,"transforms":null}`},
		{name: "other suffix is no plugin", body: `{"model":"demo:nitro"}`},
		{name: "plugins not an array", body: `{"plugins":{"id":"web"}}`, wantErr: "'plugins' must be an array of objects with an 'id'"},
		{name: "plugin not an object", body: `{"plugins":["web"]}`, wantErr: "'plugins[0]' must be an object with an 'id'"},
		{name: "plugin without id", body: `{"plugins":[{"max_results":3}]}`, wantErr: "'plugins[0].id' must be a non-empty string"},
		{name: "plugin twice", body: `{"plugins":[{"id":"web"},{"id":"web"}]}`, wantErr: `'plugins[1].id' "web" is enabled twice`},
		{name: "transform not a string", body: `{"transforms":[1]}`, wantErr: "'transforms[0]' must be a non-empty string"},
		{name: "transforms not an array", body: `{"transforms":"middle-out"}`, wantErr: "'transforms' must be an array of strings"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sel, err := Parse([]byte(tc.body))
			if tc.wantErr != "" {
				var ae *translators.APIError
				if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Message, tc.wantErr) {
					t.Fatalf("error = %v, want 400 containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, sel.Plugins); diff != "" {
				t.Errorf("plugins (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStrip(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "nothing to strip", in: `{"model":"demo","messages":[]}`, want: `{"model":"demo","messages":[]}`},
		{name: "all of it", in: `{"model":"demo:online","plugins":[{"id":"web"}],"transforms":["middle-out"],"stream":true}`, want: `{"model":"demo","stream":true}`},
		{name: "only the last suffix", in: `{"model":"a:online:online"}`, want: `{"model":"a:online"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			got := Strip(in)
			if string(got) != tc.want {
				t.Errorf("Strip = %s, want %s", got, tc.want)
			}
			if string(in) != tc.in {
				t.Errorf("input modified: %s", in)
			}
		})
	}
}
