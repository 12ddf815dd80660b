package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/switchboard-gw/switchboard/governance"
)

// govConfig writes a config whose store is in a temp dir, with one tenant
// and one key declared in the file. It returns the config path and the
// store path.
func govConfig(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "switchboard.yaml")
	err := os.WriteFile(path, []byte(`providers:
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
  - {name: openai, schema: openai, base_url: "https://api.openai.com/v1", api_key: {env: SWITCHBOARD_TEST_UNSET_KEY}}
models:
  - {name: demo, providers: [{provider: local}]}
governance:
  store: {path: state/g.db}
  tenants:
    - {name: gitops, rpm: 5}
  keys:
    - {id: declared, tenant: gitops, hash: "sha256:`+strings.Repeat("ab", 32)+`", prefix: sk-sb-AAAA}
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return path, filepath.Join(dir, "state", "g.db")
}

func cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := runGovernance(context.Background(), args[0], args[1:], &out)
	return out.String(), err
}

func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := cli(t, args...)
	if err != nil {
		t.Fatalf("switchboard %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// cols marks tabwriter's column gaps with "|".
func cols(s string) string { return regexp.MustCompile(` {2,}`).ReplaceAllString(s, "|") }

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// TestGovernanceCLI drives tenants and keys through the CLI and checks the
// result where the gateway reads it: the store, through an Authenticator.
func TestGovernanceCLI(t *testing.T) {
	cfg, storePath := govConfig(t)
	ctx := context.Background()

	out := mustCLI(t, "tenants", "create", "team-a", "--rpm", "60", "--tpm", "100000", "--budget-daily", "5", "--budget-monthly", "100", "--config", cfg)
	if want := "created tenant team-a: rpm 60, tpm 100000, day budget $5, month budget $100\n"; out != want {
		t.Errorf("tenants create printed %q, want %q", out, want)
	}
	out = mustCLI(t, "keys", "create", "--tenant", "team-a", "--label", "ci runner", "--config", cfg)
	secret := lastLine(out)
	if !regexp.MustCompile(`^sk-sb-[0-9A-Za-z]{43}$`).MatchString(secret) {
		t.Fatalf("last line %q is not a key alone; output:\n%s", secret, out)
	}
	if strings.Count(out, secret) != 1 {
		t.Errorf("the key is printed more than once:\n%s", out)
	}
	id := regexp.MustCompile(`created key (k_\w+)`).FindStringSubmatch(out)[1]

	store, err := governance.OpenSQLite(ctx, storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	auth, err := governance.NewAuthenticator(ctx, store, zap.NewNop(), governance.AuthOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := auth.Authenticate(ctx, secret)
	if err != nil {
		t.Fatalf("the created key does not authenticate: %v", err)
	}
	if p.KeyID != id || p.Tenant != "team-a" || p.KeyLabel != "ci runner" || p.Scopes[1].Rules.RPM != 60 || p.Scopes[1].Rules.Budgets.Daily.USD != governance.USD(5) {
		t.Errorf("principal %+v", p)
	}

	out = cols(mustCLI(t, "keys", "list", "--config", cfg))
	for _, want := range []string{"ID|PREFIX|TENANT|LABEL|STATUS|SOURCE|CREATED|EXPIRES\n", id + "|" + secret[:14] + "|team-a|ci runner|active|store|", "declared|sk-sb-AAAA|gitops|-|active|config|-|-\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("keys list lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, secret) {
		t.Errorf("keys list shows the secret:\n%s", out)
	}
	out = cols(mustCLI(t, "tenants", "list", "--config", cfg))
	for _, want := range []string{"gitops|config|active|rpm 5|$0|$0\n", "team-a|store|active|rpm 60, tpm 100000, day budget $5, month budget $100|$0|$0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("tenants list lacks %q:\n%s", want, out)
		}
	}
	out = regexp.MustCompile(`:\s+`).ReplaceAllString(mustCLI(t, "keys", "show", id, "--config", cfg), ": ")
	if !strings.Contains(out, "\nstatus: active\n") || !strings.Contains(out, "\nhash: "+governance.FormatHash(governance.HashKey(secret))+"\n") {
		t.Errorf("keys show:\n%s", out)
	}

	out = mustCLI(t, "keys", "rotate", id, "--overlap", "1h", "--config", cfg)
	next := lastLine(out)
	if next == secret || !strings.HasPrefix(next, "sk-sb-") {
		t.Fatalf("rotate's last line %q is not a new key", next)
	}
	if err := auth.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if p, err := auth.Authenticate(ctx, secret); err != nil || !p.Rotated {
		t.Errorf("old key during its overlap: %+v, %v; want it working, marked rotated", p, err)
	}
	if p, err := auth.Authenticate(ctx, next); err != nil || p.Tenant != "team-a" || p.KeyLabel != "ci runner" {
		t.Errorf("new key: %+v, %v", p, err)
	}

	out = mustCLI(t, "keys", "revoke", id, "--config", cfg)
	if !strings.HasPrefix(out, "revoked key "+id) {
		t.Errorf("revoke printed %q", out)
	}
	if err := auth.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(ctx, secret); !errors.Is(err, governance.ErrKeyRevoked) {
		t.Errorf("revoked key: %v, want ErrKeyRevoked", err)
	}
	if out := mustCLI(t, "keys", "list", "--tenant", "team-a", "--config", cfg); !strings.Contains(out, "revoked") || strings.Contains(out, "gitops") {
		t.Errorf("keys list --tenant team-a:\n%s", out)
	}
	// Plugin policies: the tenant's, narrowed by its key's.
	out = mustCLI(t, "tenants", "create", "team-p", "--plugins-deny", "file-parser", "--plugins-force", "response-healing",
		"--plugins-force", `middle-out={"note":"x"}`, "--config", cfg)
	if want := "created tenant team-p: plugins deny file-parser, plugins force response-healing+middle-out\n"; out != want {
		t.Errorf("tenants create printed %q, want %q", out, want)
	}
	out = mustCLI(t, "keys", "create", "--tenant", "team-p", "--plugins-allow", "response-healing,middle-out", "--config", cfg)
	if err := auth.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	p, err = auth.Authenticate(ctx, lastLine(out))
	if err != nil {
		t.Fatal(err)
	}
	pl := p.Plugins
	if !slices.Equal(pl.Allow, []string{"response-healing", "middle-out"}) || !slices.Equal(pl.Deny, []string{"file-parser"}) ||
		!slices.Equal(forcedIDs(pl), []string{"response-healing", "middle-out"}) || string(pl.Force[1].Options) != `{"id":"middle-out","note":"x"}` ||
		len(pl.Within) != 2 || pl.Within[0].Owner != `tenant "team-p"` {
		t.Errorf("plugin policy %+v", pl)
	}
	// Keys of a tenant the config declares live in the store too.
	if out := mustCLI(t, "keys", "create", "--config", cfg, "--tenant", "gitops"); !strings.HasPrefix(lastLine(out), "sk-sb-") {
		t.Errorf("key for a declared tenant:\n%s", out)
	}
}

func TestGovernanceCLIErrors(t *testing.T) {
	cfg, _ := govConfig(t)
	mustCLI(t, "tenants", "create", "team-a", "--config", cfg)
	mustCLI(t, "tenants", "create", "team-d", "--plugins-allow", "file-parser", "--plugins-force", "response-healing", "--config", cfg)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no config", []string{"tenants", "list"}, "--config FILE is required: it names the store"},
		{"duplicate tenant", []string{"tenants", "create", "team-a", "--config", cfg}, `governance: create tenant "team-a": already exists`},
		{"tenant in the config", []string{"tenants", "create", "gitops", "--config", cfg}, `tenant "gitops" is declared in ` + cfg + `; change it there`},
		{"bad tenant name", []string{"tenants", "create", "Team A", "--config", cfg}, `tenant name "Team A": must be lowercase letters`},
		{"bad budget", []string{"tenants", "create", "b", "--budget-daily", "-3", "--config", cfg}, `invalid value "-3" for flag -budget-daily: "-3": want a USD amount above 0`},
		{"negative rpm", []string{"tenants", "create", "b", "--rpm", "-1", "--config", cfg}, "--rpm -1: must be between 0 (no limit) and 1000000000"},
		{"no name", []string{"tenants", "create", "--config", cfg}, "tenants create: want 1 argument(s), got 0"},
		{"key without tenant", []string{"keys", "create", "--config", cfg}, "keys create: --tenant NAME is required"},
		{"key of unknown tenant", []string{"keys", "create", "--tenant", "ghost", "--config", cfg}, "tenant \"ghost\" does not exist (create it with `switchboard tenants create ghost`)"},
		{"revoke unknown key", []string{"keys", "revoke", "k_nope", "--config", cfg}, "governance: key k_nope: not found"},
		{"revoke a config key", []string{"keys", "revoke", "declared", "--config", cfg}, "key declared is declared in " + cfg + "; change it there"},
		{"unknown subcommand", []string{"keys", "delete", "x"}, `unknown command "keys delete"`},
		{"unknown plugin", []string{"tenants", "create", "b", "--plugins-deny", "pdf", "--config", cfg}, `middleware: policy: deny "pdf": unknown plugin (known: file-parser, middle-out, response-healing)`},
		{"web not configured", []string{"tenants", "create", "b", "--plugins-force", "web", "--config", cfg}, `middleware: policy: force "web": unknown plugin`},
		{"forced and denied", []string{"tenants", "create", "b", "--plugins-force", "middle-out", "--plugins-deny", "middle-out", "--config", cfg}, `force "middle-out": the plugin is also denied`},
		{"force block not an object", []string{"tenants", "create", "b", "--plugins-force", "middle-out=[1]", "--config", cfg}, `"middle-out=[1]": the block after = must be a JSON object`},
		{"key forcing outside its tenant", []string{"keys", "create", "--tenant", "team-d", "--plugins-force", "middle-out", "--config", cfg},
			`tenant team-d: middleware: policy: force "middle-out": the tenant does not allow the plugin (a key cannot widen its tenant)`},
		{"key denying its tenant's forced plugin", []string{"keys", "create", "--tenant", "team-d", "--plugins-deny", "response-healing", "--config", cfg},
			`tenant team-d: middleware: policy: deny "response-healing": the tenant forces the plugin (a key cannot turn it off)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cli(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want %q", err, tc.want)
			}
		})
	}
	// A key revoked twice says when the first revoke was.
	out := mustCLI(t, "keys", "create", "--tenant", "team-a", "--config", cfg)
	id := regexp.MustCompile(`created key (k_\w+)`).FindStringSubmatch(out)[1]
	mustCLI(t, "keys", "revoke", id, "--config", cfg)
	_, err := cli(t, "keys", "revoke", id, "--config", cfg)
	if err == nil || !strings.Contains(err.Error(), "already revoked at "+time.Now().UTC().Format("2006-01-02")) {
		t.Errorf("second revoke: %v", err)
	}
}
