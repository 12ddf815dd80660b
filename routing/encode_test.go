package routing

import (
	"reflect"
	"testing"

	"github.com/switchboard-gw/switchboard/config"
)

func TestEncodeDecode(t *testing.T) {
	cat := loadCatalog(t, catalogYAML)
	// The configured groups, plus the fallback models' (a weighted level
	// stays one group here, to cover multi-candidate groups).
	var plan Plan
	for _, m := range []string{"chat", "acme/odd|x;y,z+%", "mini"} {
		r, ok := cat.Model(m)
		if !ok {
			t.Fatalf("no model %q", m)
		}
		plan.Groups = append(plan.Groups, DefaultGroups(r)...)
	}
	enc := plan.Encode()
	if want := "alpha|chat,beta|chat;gamma|chat;delta|acme%2Fodd%7Cx%3By%2Cz%2B%25;delta|mini;alpha|mini"; enc != want {
		t.Errorf("Encode = %q, want %q", enc, want)
	}
	tests := []struct {
		n    int
		want []Entry
	}{
		{n: 0, want: []Entry{{"alpha", "chat"}, {"beta", "chat"}}}, // before the first: the first
		{n: 1, want: []Entry{{"alpha", "chat"}, {"beta", "chat"}}},
		{n: 2, want: []Entry{{"gamma", "chat"}}},
		{n: 3, want: []Entry{{"delta", "acme/odd|x;y,z+%"}}},
		{n: 5, want: []Entry{{"alpha", "mini"}}},
		{n: 6, want: []Entry{{"alpha", "mini"}}}, // past the end: the last, as Envoy does
		{n: 99, want: []Entry{{"alpha", "mini"}}},
	}
	for _, tc := range tests {
		if got := DecodeGroup(enc, tc.n); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("DecodeGroup(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}

	earlier := []struct {
		n    int
		want []Entry
	}{
		{n: 1},
		{n: 2, want: []Entry{{"alpha", "chat"}, {"beta", "chat"}}},
		{n: 4, want: []Entry{{"alpha", "chat"}, {"beta", "chat"}, {"gamma", "chat"}, {"delta", "acme/odd|x;y,z+%"}}},
	}
	for _, tc := range earlier {
		if got := Earlier(enc, tc.n); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Earlier(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}

func TestDecodeGroupSpecialCharacters(t *testing.T) {
	// Every separator and escape character in both parts survives.
	names := []string{"a|b", "a,b", "a;b", "a b", "a+b", "a%7Cb", "ü/ß?&=#", ""}
	for _, prov := range names {
		for _, model := range names {
			r := &config.Route{Name: model}
			plan := Plan{Groups: []Group{
				{{Provider: &config.Provider{Name: "first"}, Route: r}},
				{{Provider: &config.Provider{Name: prov}, Route: r}, {Provider: &config.Provider{Name: model}, Route: &config.Route{Name: prov}}},
			}}
			enc := plan.Encode()
			got := DecodeGroup(enc, 2)
			want := []Entry{{prov, model}, {model, prov}}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("provider %q model %q: encoded %q decodes to %v, want %v", prov, model, enc, got, want)
			}
			if got := DecodeGroup(enc, 1); !reflect.DeepEqual(got, []Entry{{"first", model}}) {
				t.Errorf("provider %q model %q: group 1 of %q = %v", prov, model, enc, got)
			}
		}
	}
}

func TestDecodeGroupMalformed(t *testing.T) {
	tests := []struct {
		name string
		enc  string
		n    int
		want []Entry
	}{
		{name: "empty plan", enc: "", n: 1},
		{name: "empty plan, later attempt", enc: "", n: 3},
		{name: "entry without a separator is skipped", enc: "alpha,beta|chat", n: 1, want: []Entry{{"beta", "chat"}}},
		{name: "bad escape is skipped", enc: "al%zzpha|chat,beta|chat", n: 1, want: []Entry{{"beta", "chat"}}},
		{name: "empty group", enc: "alpha|chat;", n: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := DecodeGroup(tc.enc, tc.n); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("DecodeGroup(%q, %d) = %v, want %v", tc.enc, tc.n, got, tc.want)
			}
		})
	}
	if got := Earlier("", 3); got != nil {
		t.Errorf("Earlier of an empty plan = %v, want nil", got)
	}
}
