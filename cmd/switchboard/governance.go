package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/governance"
	"github.com/switchboard-gw/switchboard/middleware"
)

const governanceUsage = `Usage:
  switchboard tenants create NAME [--rpm N] [--tpm N] [--max-concurrent N]
                      [--budget-daily USD] [--budget-monthly USD] [--budget-lifetime USD]
                      [--plugins-allow IDS] [--plugins-deny IDS] [--plugins-force ID[=JSON]] --config FILE
  switchboard tenants list --config FILE
  switchboard keys create --tenant NAME [--label TEXT] [--expires-in DURATION]
                      [--plugins-allow IDS] [--plugins-deny IDS] [--plugins-force ID[=JSON]] --config FILE
  switchboard keys list [--tenant NAME] --config FILE
  switchboard keys show ID --config FILE
  switchboard keys revoke ID --config FILE
  switchboard keys rotate ID [--overlap DURATION] --config FILE

The store is the one the config's governance.store names. A new key is
printed once, alone on the last line of stdout. IDS is a comma-separated
list of plugin ids; --plugins-force repeats, each a plugin id with its
block as JSON if it needs one (web={"max_results":3}).
`

// runGovernance runs `switchboard tenants ...` and `switchboard keys ...`
// against the store the config names.
func runGovernance(ctx context.Context, cmd string, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%s: missing subcommand\n\n%s", cmd, governanceUsage)
	}
	sub, args := args[0], args[1:]
	g := &govCLI{out: stdout, now: time.Now}
	var run func(context.Context, []string) error
	switch cmd + " " + sub {
	case "tenants create":
		run = g.tenantsCreate
	case "tenants list":
		run = g.tenantsList
	case "keys create":
		run = g.keysCreate
	case "keys list":
		run = g.keysList
	case "keys show":
		run = g.keysShow
	case "keys revoke":
		run = g.keysRevoke
	case "keys rotate":
		run = g.keysRotate
	default:
		return fmt.Errorf("unknown command %q\n\n%s", cmd+" "+sub, governanceUsage)
	}
	return run(ctx, args)
}

type govCLI struct {
	out   io.Writer
	now   func() time.Time
	cfg   *config.Loaded
	store governance.Store
}

// parse reads flags wherever they are among the positional arguments
// (`tenants create NAME --rpm 5` as well as `--rpm 5 NAME`), which Go's
// flag package alone does not.
func parse(fs *flag.FlagSet, args []string, positional int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != positional {
		return nil, fmt.Errorf("%s: want %d argument(s), got %d %q", fs.Name(), positional, len(pos), pos)
	}
	return pos, nil
}

// open loads the config and opens its store. The CLI never calls a
// provider, so an unset provider key's variable does not stop it.
func (g *govCLI) open(ctx context.Context, path string) error {
	if path == "" {
		return errors.New("--config FILE is required: it names the store")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	env := func(k string) (string, bool) {
		if v, ok := os.LookupEnv(k); ok {
			return v, ok
		}
		return "unset-for-the-cli", true
	}
	if g.cfg, err = config.Parse(path, data, env); err != nil {
		return err
	}
	s := g.cfg.Governance.Store
	g.store, err = governance.OpenStore(ctx, s)
	return err
}

func (g *govCLI) close() {
	if g.store != nil {
		g.store.Close()
	}
}

// declared is the config's tenants and keys, which the CLI shows but does
// not change.
func (g *govCLI) declared() ([]governance.Tenant, []governance.Key, error) {
	return governance.FromConfig(g.cfg.Governance)
}

var tenantNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// usdFlag is a budget in USD; unset is no budget.
type usdFlag struct{ b governance.Budget }

func (u *usdFlag) String() string { return u.b.USD.String() }
func (u *usdFlag) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimPrefix(s, "$"), 64)
	if err != nil || v <= 0 || v > 1e9 {
		return fmt.Errorf("%q: want a USD amount above 0", s)
	}
	u.b = governance.Budget{USD: governance.USD(v)}
	return nil
}

func (g *govCLI) tenantsCreate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tenants create", flag.ContinueOnError)
	path := fs.String("config", "", "config file")
	var r governance.Rules
	fs.Int64Var(&r.RPM, "rpm", 0, "requests per minute (0: no limit)")
	fs.Int64Var(&r.TPM, "tpm", 0, "tokens per minute (0: no limit)")
	fs.Int64Var(&r.Concurrent, "max-concurrent", 0, "requests in flight at once (0: no limit)")
	var daily, monthly, lifetime usdFlag
	fs.Var(&daily, "budget-daily", "hard USD budget per UTC day")
	fs.Var(&monthly, "budget-monthly", "hard USD budget per UTC month")
	fs.Var(&lifetime, "budget-lifetime", "hard USD budget for the tenant's life")
	var plugins pluginFlags
	plugins.register(fs, "the tenant's")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	name := pos[0]
	if !tenantNameRE.MatchString(name) {
		return fmt.Errorf("tenant name %q: must be lowercase letters, digits, '.', '_' or '-'", name)
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"--rpm", r.RPM}, {"--tpm", r.TPM}, {"--max-concurrent", r.Concurrent}} {
		if f.v < 0 || f.v > 1e9 {
			return fmt.Errorf("%s %d: must be between 0 (no limit) and 1000000000", f.name, f.v)
		}
	}
	r.Budgets = governance.Budgets{Daily: daily.b, Monthly: monthly.b, Lifetime: lifetime.b}
	if err := g.open(ctx, *path); err != nil {
		return err
	}
	defer g.close()
	tenants, _, err := g.declared()
	if err != nil {
		return err
	}
	for _, t := range tenants {
		if t.Name == name {
			return fmt.Errorf("tenant %q is declared in %s; change it there", name, *path)
		}
	}
	if r.Plugins, err = plugins.policy(g.cfg.Plugins.Offered()); err != nil {
		return err
	}
	t := governance.Tenant{Name: name, Rules: r, Created: g.now().UTC(), Source: governance.CreatedInStore}
	if err := g.store.CreateTenant(ctx, t); err != nil {
		return err
	}
	fmt.Fprintf(g.out, "created tenant %s: %s\n", name, describeRules(r))
	return nil
}

func describeRules(r governance.Rules) string {
	var parts []string
	add := func(label string, v int64) {
		if v > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", label, v))
		}
	}
	add("rpm", r.RPM)
	add("tpm", r.TPM)
	add("max concurrent", r.Concurrent)
	for _, pk := range governance.PeriodKinds {
		if b := r.Budgets.Of(pk); b.Set() {
			soft := ""
			if b.Soft {
				soft = " (soft)"
			}
			parts = append(parts, fmt.Sprintf("%s budget %s%s", pk, b.USD, soft))
		}
	}
	for _, l := range []struct {
		label string
		ids   []string
	}{{"plugins allow", r.Plugins.Allow}, {"plugins deny", r.Plugins.Deny}, {"plugins force", forcedIDs(r.Plugins)}} {
		if len(l.ids) > 0 {
			parts = append(parts, l.label+" "+strings.Join(l.ids, "+"))
		}
	}
	if len(parts) == 0 {
		return "no limits"
	}
	return strings.Join(parts, ", ")
}

func (g *govCLI) tenantsList(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tenants list", flag.ContinueOnError)
	path := fs.String("config", "", "config file")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := g.open(ctx, *path); err != nil {
		return err
	}
	defer g.close()
	stored, err := g.store.Tenants(ctx)
	if err != nil {
		return err
	}
	declared, _, err := g.declared()
	if err != nil {
		return err
	}
	now := g.now()
	today, month := governance.PeriodOf(governance.Day, now), governance.PeriodOf(governance.Month, now)
	rows, err := g.store.Spend(ctx, []governance.Period{today, month})
	if err != nil {
		return err
	}
	type at struct {
		scope  governance.Scope
		period governance.Period
	}
	spent := map[at]governance.NanoUSD{}
	for _, r := range rows {
		spent[at{r.Scope, r.Period}] = r.Spent
	}
	w := tabwriter.NewWriter(g.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tSOURCE\tSTATUS\tLIMITS\tSPENT TODAY\tSPENT THIS MONTH")
	for _, t := range append(declared, stored...) {
		status := "active"
		if t.Disabled {
			status = "disabled"
		}
		scope := governance.TenantScope(t.Name)
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Source, status, describeRules(t.Rules),
			spent[at{scope, today}], spent[at{scope, month}])
	}
	return w.Flush()
}

// findTenant finds a tenant in the config or the store.
func (g *govCLI) findTenant(ctx context.Context, name string) (governance.Tenant, error) {
	declared, _, err := g.declared()
	if err != nil {
		return governance.Tenant{}, err
	}
	for _, t := range declared {
		if t.Name == name {
			return t, nil
		}
	}
	t, err := g.store.Tenant(ctx, name)
	if errors.Is(err, governance.ErrNotFound) {
		return governance.Tenant{}, fmt.Errorf("tenant %q does not exist (create it with `switchboard tenants create %s`)", name, name)
	}
	return t, err
}

func (g *govCLI) keysCreate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
	path := fs.String("config", "", "config file")
	tenant := fs.String("tenant", "", "the tenant the key spends for (required)")
	label := fs.String("label", "", "free text shown in listings")
	expiresIn := fs.Duration("expires-in", 0, "the key stops working after this long (e.g. 720h; default never)")
	var plugins pluginFlags
	plugins.register(fs, "the key's (within its tenant's)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if *tenant == "" {
		return errors.New("keys create: --tenant NAME is required")
	}
	if *expiresIn < 0 {
		return fmt.Errorf("--expires-in %s: must be positive", *expiresIn)
	}
	if err := g.open(ctx, *path); err != nil {
		return err
	}
	defer g.close()
	t, err := g.findTenant(ctx, *tenant)
	if err != nil {
		return err
	}
	pol, err := plugins.policy(g.cfg.Plugins.Offered())
	if err != nil {
		return err
	}
	if err := t.Rules.Plugins.ValidateKey(pol); err != nil {
		return fmt.Errorf("tenant %s: %w", t.Name, err)
	}
	secret, k, err := governance.NewSecret(g.now())
	if err != nil {
		return err
	}
	k.Tenant, k.Label, k.Rules.Plugins = *tenant, *label, pol
	if *expiresIn > 0 {
		k.ExpiresAt = k.Created.Add(*expiresIn)
	}
	if err := g.store.CreateKey(ctx, k); err != nil {
		return err
	}
	g.printNewKey(k, secret)
	return nil
}

// printNewKey ends with the secret alone on the last line, so scripts can
// take it with `tail -n1`.
func (g *govCLI) printNewKey(k governance.Key, secret string) {
	fmt.Fprintf(g.out, "created key %s for tenant %s\n", k.ID, k.Tenant)
	fmt.Fprintf(g.out, "hash: %s (to declare it in a config instead)\n", governance.FormatHash(k.Hash))
	if !k.ExpiresAt.IsZero() {
		fmt.Fprintf(g.out, "expires: %s\n", k.ExpiresAt.Format(time.RFC3339))
	}
	fmt.Fprintln(g.out, "the key is shown once, now; the store keeps only its hash:")
	fmt.Fprintln(g.out, secret)
}

// allKeys is the config's keys then the store's.
func (g *govCLI) allKeys(ctx context.Context) ([]governance.Key, error) {
	_, declared, err := g.declared()
	if err != nil {
		return nil, err
	}
	stored, err := g.store.Keys(ctx)
	if err != nil {
		return nil, err
	}
	return append(declared, stored...), nil
}

func (g *govCLI) keysList(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("keys list", flag.ContinueOnError)
	path := fs.String("config", "", "config file")
	tenant := fs.String("tenant", "", "only this tenant's keys")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := g.open(ctx, *path); err != nil {
		return err
	}
	defer g.close()
	keys, err := g.allKeys(ctx)
	if err != nil {
		return err
	}
	now := g.now()
	w := tabwriter.NewWriter(g.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tPREFIX\tTENANT\tLABEL\tSTATUS\tSOURCE\tCREATED\tEXPIRES")
	for _, k := range keys {
		if *tenant != "" && k.Tenant != *tenant {
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, orDash(k.Prefix), k.Tenant, orDash(k.Label), k.Status(now), k.Source, day(k.Created), day(k.ExpiresAt))
	}
	return w.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// findKey finds a key by id in the config or the store.
func (g *govCLI) findKey(ctx context.Context, id string) (governance.Key, error) {
	_, declared, err := g.declared()
	if err != nil {
		return governance.Key{}, err
	}
	for _, k := range declared {
		if k.ID == id {
			return k, nil
		}
	}
	return g.store.Key(ctx, id)
}

func (g *govCLI) keysShow(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("keys show", flag.ContinueOnError)
	path := fs.String("config", "", "config file")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if err := g.open(ctx, *path); err != nil {
		return err
	}
	defer g.close()
	k, err := g.findKey(ctx, pos[0])
	if err != nil {
		return err
	}
	now := g.now()
	w := tabwriter.NewWriter(g.out, 0, 0, 1, ' ', 0)
	for _, f := range [][2]string{
		{"id", k.ID}, {"prefix", orDash(k.Prefix)}, {"tenant", k.Tenant}, {"label", orDash(k.Label)},
		{"status", k.Status(now)}, {"source", string(k.Source)}, {"hash", governance.FormatHash(k.Hash)},
		{"created", day(k.Created)}, {"expires", day(k.ExpiresAt)}, {"revoked", day(k.RevokedAt)},
		{"rotated to", orDash(k.RotatedTo)}, {"overlap until", day(k.OverlapUntil)}, {"limits", describeRules(k.Rules)},
	} {
		fmt.Fprintf(w, "%s:\t%s\n", f[0], f[1])
	}
	return w.Flush()
}

// storedKey refuses keys declared in the config: the file is their truth.
func (g *govCLI) storedKey(ctx context.Context, id, path string) error {
	k, err := g.findKey(ctx, id)
	if err != nil {
		return err
	}
	if k.Source == governance.DeclaredInConfig {
		return fmt.Errorf("key %s is declared in %s; change it there", id, path)
	}
	return nil
}

func (g *govCLI) keysRevoke(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("keys revoke", flag.ContinueOnError)
	path := fs.String("config", "", "config file")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if err := g.open(ctx, *path); err != nil {
		return err
	}
	defer g.close()
	id := pos[0]
	if err := g.storedKey(ctx, id, *path); err != nil {
		return err
	}
	now := g.now().UTC()
	err = g.store.UpdateKey(ctx, id, func(k *governance.Key) error {
		if !k.RevokedAt.IsZero() {
			return fmt.Errorf("already revoked at %s", k.RevokedAt.Format(time.RFC3339))
		}
		k.RevokedAt = now
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(g.out, "revoked key %s; requests with it get 401 within a second\n", id)
	return nil
}

func (g *govCLI) keysRotate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	path := fs.String("config", "", "config file")
	overlap := fs.Duration("overlap", 24*time.Hour, "how long the old key keeps working")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *overlap < 0 {
		return fmt.Errorf("--overlap %s: must not be negative", *overlap)
	}
	if err := g.open(ctx, *path); err != nil {
		return err
	}
	defer g.close()
	id := pos[0]
	if err := g.storedKey(ctx, id, *path); err != nil {
		return err
	}
	old, err := g.store.Key(ctx, id)
	if err != nil {
		return err
	}
	secret, next, err := governance.NewSecret(g.now())
	if err != nil {
		return err
	}
	next.Tenant, next.Label, next.Rules, next.ExpiresAt = old.Tenant, old.Label, old.Rules, old.ExpiresAt
	until := next.Created.Add(*overlap)
	if err := g.store.RotateKey(ctx, id, next, until); err != nil {
		return err
	}
	fmt.Fprintf(g.out, "rotated key %s: it keeps working until %s\n", id, until.Format(time.RFC3339))
	g.printNewKey(next, secret)
	return nil
}

// pluginFlags are the plugin policy flags of tenants and keys create.
type pluginFlags struct {
	allow, deny idsFlag
	force       forceFlag
}

func (f *pluginFlags) register(fs *flag.FlagSet, whose string) {
	fs.Var(&f.allow, "plugins-allow", "plugins "+whose+" requests may enable, comma-separated (default: all)")
	fs.Var(&f.deny, "plugins-deny", "plugins "+whose+" requests may not enable, comma-separated")
	fs.Var(&f.force, "plugins-force", `a plugin always on for `+whose+` requests: ID, or ID={"option": ...}; repeat for more`)
}

// policy is the flags' policy, checked against the plugins the config
// offers.
func (f *pluginFlags) policy(offered []string) (middleware.Policy, error) {
	p := middleware.Policy{Allow: f.allow, Deny: f.deny, Force: f.force}
	if err := p.Validate(offered); err != nil {
		return middleware.Policy{}, err
	}
	return p, nil
}

// idsFlag is a comma-separated list of plugin ids; it may repeat.
type idsFlag []string

func (l *idsFlag) String() string { return strings.Join(*l, ",") }
func (l *idsFlag) Set(s string) error {
	for _, id := range strings.Split(s, ",") {
		if id = strings.TrimSpace(id); id != "" {
			*l = append(*l, id)
		}
	}
	return nil
}

// forceFlag is a forced plugin per use: ID or ID=JSON-object.
type forceFlag []middleware.Forced

func (f *forceFlag) String() string {
	return strings.Join(forcedIDs(middleware.Policy{Force: *f}), ",")
}
func (f *forceFlag) Set(s string) error {
	id, block, hasBlock := strings.Cut(s, "=")
	if id = strings.TrimSpace(id); id == "" {
		return fmt.Errorf("%q: want a plugin id, or ID={...}", s)
	}
	if slices.ContainsFunc(*f, func(g middleware.Forced) bool { return g.ID == id }) {
		return fmt.Errorf("%q: the plugin is forced twice", s)
	}
	forced := middleware.Forced{ID: id}
	if hasBlock {
		var m map[string]any
		if err := json.Unmarshal([]byte(block), &m); err != nil || m == nil {
			return fmt.Errorf("%q: the block after = must be a JSON object", s)
		}
		if other, ok := m["id"]; ok && other != id {
			return fmt.Errorf("%q: the block names another id", s)
		}
		m["id"] = id
		forced.Options, _ = json.Marshal(m) // strings, numbers, lists and objects from JSON
	}
	*f = append(*f, forced)
	return nil
}

func forcedIDs(p middleware.Policy) []string {
	ids := make([]string, len(p.Force))
	for i, f := range p.Force {
		ids[i] = f.ID
	}
	return ids
}
