package target

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/prometheus/common/config"

	"github.com/passflow/passflow/models"
)

// MinBakeFor is the shortest bake (canary.bake_for): one of the hours it
// is judged in.
const MinBakeFor = time.Hour

// The defaults Validate fills in.
const (
	DefaultTier            = models.TierStandard
	DefaultVerifyFor       = Duration(30 * time.Minute)
	DefaultCheckEvery      = Duration(time.Minute)
	DefaultTolerance       = 0.0
	DefaultApprovalFrom    = models.BandHigh
	DefaultApprovalTimeout = Duration(24 * time.Hour)
	DefaultMaxStep         = 0.25
	DefaultDelta           = 0.05
	DefaultSimulatorModel  = "web"
	DefaultSimulatorNoise  = 0.05
	DefaultSimulatorScrape = Duration(time.Second)
	DefaultMaxBurnRate     = 1.0
	DefaultCooldown        = Duration(time.Hour)
	DefaultFreezeRequest   = FreezeWait
	DefaultFreezeCanary    = FreezeHold
	DefaultQuorum          = 1

	DefaultPrometheusScrapeInterval = Duration(15 * time.Second)
	DefaultPrometheusTimeout        = Duration(10 * time.Second)

	DefaultActuatorTimeout = Duration(30 * time.Second) // command.timeout and file.timeout
	// MaxActuatorTimeout leaves room, in the minute a write activity's
	// attempt has (workflows' writeCtx), for the call's own retries' setup.
	MaxActuatorTimeout = Duration(50 * time.Second)
	DefaultFileFormat  = "yaml"
)

// MaxIdentity bounds an approver's or a caller's name, which passes keep in
// their history.
const MaxIdentity = 256

// DefaultStages returns the default canary stages, in percent of traffic.
func DefaultStages() []float64 { return []float64{5, 25, 100} }

// simulatorModel is a response surface of package simulations and the
// metrics it produces.
type simulatorModel struct {
	Name    string
	Metrics []string
}

// knownSimulatorModels are the simulator models a target may name, sorted
// by name, as registered with RegisterSimulatorModel: package simulations
// registers its built-in surfaces (DefaultSimulatorModel among them) when
// it is linked, and each scenario it parses. Guarded by simulatorModelsMu.
var (
	simulatorModelsMu    sync.RWMutex
	knownSimulatorModels []simulatorModel
)

// RegisterSimulatorModel makes the simulator model name, producing metrics,
// known to Validate, so that a target whose telemetry names it
// (telemetry: {simulator: {model: name}}) validates like any other. Package
// simulations registers its built-in surfaces when it is linked, and each
// scenario it parses under the scenario's name. Registering a name again
// replaces its metrics, except DefaultSimulatorModel's: once registered, it
// cannot be replaced. It is safe for concurrent use.
func RegisterSimulatorModel(name string, metrics []string) error {
	switch {
	case name == "":
		return errors.New("target: register simulator model: expected a name")
	case len(metrics) == 0:
		return fmt.Errorf("target: register simulator model %s: expected at least one metric", name)
	}
	m := simulatorModel{Name: name, Metrics: slices.Clone(metrics)}
	simulatorModelsMu.Lock()
	defer simulatorModelsMu.Unlock()
	i, found := slices.BinarySearchFunc(knownSimulatorModels, name, func(m simulatorModel, name string) int {
		return strings.Compare(m.Name, name)
	})
	switch {
	case found && name == DefaultSimulatorModel:
		return fmt.Errorf("target: register simulator model: %q is built in and cannot be replaced", name)
	case found:
		knownSimulatorModels[i] = m
	default:
		knownSimulatorModels = slices.Insert(knownSimulatorModels, i, m)
	}
	return nil
}

// lookupSimulatorModel returns the known simulator model name, and the
// names of every known model.
func lookupSimulatorModel(name string) (*simulatorModel, []string) {
	simulatorModelsMu.RLock()
	defer simulatorModelsMu.RUnlock()
	var model *simulatorModel
	names := make([]string, len(knownSimulatorModels))
	for i, m := range knownSimulatorModels {
		names[i] = m.Name
		if m.Name == name {
			model = &simulatorModel{Name: m.Name, Metrics: slices.Clone(m.Metrics)}
		}
	}
	return model, names
}

// QueryVars are the values a telemetry query template is rendered with.
type QueryVars struct {
	// Cohort names the cohort measured, e.g. "baseline" or "canary".
	Cohort string
	// Window is the PromQL range the query covers, e.g. "5m".
	Window string
}

// RenderQuery renders the PromQL template query of metric with vars. Only
// {{.Cohort}} and {{.Window}} may be used; any other field is an error.
func RenderQuery(metric, query string, vars QueryVars) (string, error) {
	t, err := template.New(metric).Option("missingkey=error").Parse(query)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, vars); err != nil {
		return "", err
	}
	return b.String(), nil
}

var (
	nameRE   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	envVarRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	fieldRE  = regexp.MustCompile(`can't evaluate field (\w+)`)
)

// Validate fills the defaults of s and checks every rule, returning all the
// problems found (nil when s is valid); the problems carry no line. Parse
// calls it: it is the one place where the rules live.
//
// Defaults, each filled when the field is absent or zero:
//
//	tier                       standard
//	canary.stages              [5, 25, 100]   (absent only; an explicit [] is an error)
//	canary.verify_for          30m
//	canary.check_every         1m
//	canary.tolerance           0.05
//	risk.approval_from         high
//	risk.approval_timeout      24h
//	risk.max_step              0.25
//	risk.delta                 0.05
//	error_budget.max_burn_rate 1.0
//	prometheus.scrape_interval 15s
//	prometheus.timeout         10s
//	simulator.model            web            (telemetry and actuator)
//	simulator.noise            0.05
//	simulator.scrape           1s
//	triggers.cooldown          1h
//	triggers.freeze.on_request wait
//	triggers.freeze.on_canary  hold
//
// A recurring freeze window without a timezone takes triggers.timezone.
// triggers.timezone itself has no default filled in: empty means UTC
// (Triggers.Location), for the schedule and for the windows that take it.
//
// Because zero means "default", canary.tolerance and simulator.noise cannot
// be exactly 0; write a tiny value such as 1e-9 instead; likewise write a
// triggers.cooldown of 1s for practically none. An actuator
// simulator block left empty ({}) takes the telemetry simulator's settings;
// one that is not empty must match them, since both name the same simulated
// service.
//
// The rules, by field:
//
//   - name: required; lowercase letters, digits and '-', starting and ending
//     with a letter or digit, at most 63 characters (it is part of workflow IDs).
//   - tier: critical, standard or best-effort.
//   - params: see models.Space.Validate.
//   - objective: a metric, and a goal of minimize or maximize.
//   - constraints: each a metric, not repeated, with max, min or both,
//     finite, min < max.
//   - telemetry: exactly one of prometheus or simulator. Prometheus needs an
//     absolute http(s) URL without a password and, for every metric read
//     (Spec.Metrics), a query that renders (RenderQuery); scrape_interval
//     and timeout > 0; an http_config that passes its own Validate and
//     holds no inline secret (password, credentials, bearer_token,
//     client_secret, a TLS key, secrets of http_headers, proxy connect
//     headers, a password in a proxy URL) and no secret manager reference
//     (*_ref): the target travels through Temporal's history, which must
//     hold no secret, so each credential comes from its _file variant,
//     read by the worker. A simulator takes no queries; its
//     model must be known and produce every metric read; noise in [0, 1),
//     scrape > 0, regression >= 0.
//   - error_budget: slo in (0, 1), window > 0, max_burn_rate > 0.
//   - canary: stages in (0, 100], strictly increasing, the last 100;
//     verify_for > 0; 0 < check_every <= verify_for; tolerance in [0, 1];
//     bake_for 0 or at least MinBakeFor, with a stage below 100 to bake.
//   - risk: approval_from low, medium, high or forbidden (never ask);
//     approvers non-empty and not repeated; approval_timeout > 0; max_step
//     in (0, 1]; delta in (0, 0.5].
//   - actuator: exactly one of webhook, command, file or simulator; the
//     simulator actuator if and only if simulator telemetry. A webhook needs
//     an absolute http(s) URL and, if set, a valid environment variable name
//     in secret_env; a command an argv whose program is an absolute path;
//     a file an absolute path, a format (yaml, json or env) and, if set, an
//     argv like a command's; timeouts in (0, 50s].
//   - triggers: schedule, if set, a 5-field cron expression or @hourly,
//     @daily, @weekly, @monthly, @yearly or @every DURATION; timezone, if
//     set, an IANA time zone (not "Local"); jitter >= 0; alerts non-empty;
//     cooldown >= 0.
//   - triggers.freeze: at least one window; on_request wait or skip;
//     on_canary hold or rollback. Each window is either recurring, with cron
//     (exactly five fields, no CRON_TZ= prefix, matching some date),
//     duration in (0, 7d] and an optional timezone, or fixed, with from
//     before to and no timezone; never both.
func Validate(s *Spec) []Problem {
	v := &validator{}
	fillDefaults(s)

	switch {
	case s.Name == "":
		v.add("name", "expected a name")
	case len(s.Name) > 63 || !nameRE.MatchString(s.Name):
		v.add("name", "expected lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters, got %q", s.Name)
	}
	switch s.Tier {
	case models.TierCritical, models.TierStandard, models.TierBestEffort:
	default:
		v.add("tier", "expected critical, standard or best-effort, got %q", s.Tier)
	}
	for _, e := range s.Params.Validate("params") {
		v.add(e.Field, "%s", e.Msg)
	}
	v.objective(s.Objective)
	v.constraints(s.Constraints)
	v.telemetry(s)
	v.errorBudget(s)
	v.canary(s.Canary)
	v.judge(s)
	v.risk(s.Risk)
	v.actuator(s)
	v.notify(s.Notify)
	v.triggers(s.Triggers)
	return v.probs
}

// fillDefaults sets every absent field that has a default.
func fillDefaults(s *Spec) {
	if s.Tier == "" {
		s.Tier = DefaultTier
	}
	c := &s.Canary
	if c.Stages == nil {
		c.Stages = DefaultStages()
	}
	setDefault(&c.VerifyFor, DefaultVerifyFor)
	setDefault(&c.CheckEvery, DefaultCheckEvery)
	setDefault(&c.Tolerance, DefaultTolerance)
	if c.MaxVerifyFor == 0 {
		c.MaxVerifyFor = 2 * c.VerifyFor
	}
	r := &s.Risk
	setDefault(&r.ApprovalFrom, DefaultApprovalFrom)
	setDefault(&r.ApprovalTimeout, DefaultApprovalTimeout)
	setDefault(&r.Quorum, DefaultQuorum)
	setDefault(&r.MaxStep, DefaultMaxStep)
	setDefault(&r.Delta, DefaultDelta)
	for i := range s.Notify {
		n := &s.Notify[i]
		setDefault(&n.Format, NotifyJSON)
		if n.Events == nil {
			n.Events = slices.Clone(NotifyEvents)
		}
	}
	tr := &s.Triggers
	setDefault(&tr.Cooldown, DefaultCooldown)
	if f := tr.Freeze; f != nil {
		setDefault(&f.OnRequest, DefaultFreezeRequest)
		setDefault(&f.OnCanary, DefaultFreezeCanary)
		for i := range f.Windows {
			if w := &f.Windows[i]; w.recurring() {
				setDefault(&w.Timezone, tr.Timezone)
			}
		}
	}
	if b := s.ErrorBudget; b != nil {
		setDefault(&b.MaxBurnRate, DefaultMaxBurnRate)
	}
	if p := s.Telemetry.Prometheus; p != nil {
		setDefault(&p.ScrapeInterval, DefaultPrometheusScrapeInterval)
		setDefault(&p.Timeout, DefaultPrometheusTimeout)
	}
	if c := s.Actuator.Command; c != nil {
		setDefault(&c.Timeout, DefaultActuatorTimeout)
	}
	if f := s.Actuator.File; f != nil {
		setDefault(&f.Format, DefaultFileFormat)
		setDefault(&f.Timeout, DefaultActuatorTimeout)
	}
	if sim := s.Actuator.Simulator; sim != nil && *sim == (Simulator{}) && s.Telemetry.Simulator != nil {
		*sim = *s.Telemetry.Simulator
	}
	for _, sim := range []*Simulator{s.Telemetry.Simulator, s.Actuator.Simulator} {
		if sim != nil {
			setDefault(&sim.Model, DefaultSimulatorModel)
			setDefault(&sim.Noise, DefaultSimulatorNoise)
			setDefault(&sim.Scrape, DefaultSimulatorScrape)
		}
	}
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

type validator struct{ probs []Problem }

func (v *validator) add(field, format string, args ...any) {
	v.probs = append(v.probs, Problem{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// between reports whether x is in the interval from lo to hi, each end
// open or closed; NaN never is.
func between(x, lo, hi float64, loOpen, hiOpen bool) bool {
	okLo := x > lo || (!loOpen && x == lo)
	okHi := x < hi || (!hiOpen && x == hi)
	return okLo && okHi
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func (v *validator) objective(o Objective) {
	if strings.TrimSpace(o.Metric) == "" {
		v.add("objective.metric", "expected a metric name")
	}
	switch o.Goal {
	case models.Minimize, models.Maximize:
	case "":
		v.add("objective.goal", "expected minimize or maximize")
	default:
		v.add("objective.goal", "expected minimize or maximize, got %q", o.Goal)
	}
}

func (v *validator) constraints(cs []models.Constraint) {
	for _, e := range models.ValidateConstraints("constraints", cs) {
		v.add(e.Field, "%s", e.Msg)
	}
}

// readers names, for each metric the pass reads, the first field that reads it.
func readers(s *Spec) map[string]string {
	r := map[string]string{s.Objective.Metric: "objective.metric"}
	for i, c := range s.Constraints {
		if _, ok := r[c.Metric]; !ok {
			r[c.Metric] = fmt.Sprintf("constraints[%d].metric", i)
		}
	}
	return r
}

func (v *validator) telemetry(s *Spec) {
	t := s.Telemetry
	switch {
	case t.Prometheus == nil && t.Simulator == nil:
		v.add("telemetry", "expected exactly one of prometheus or simulator, got neither")
	case t.Prometheus != nil && t.Simulator != nil:
		v.add("telemetry", "expected exactly one of prometheus or simulator, got both")
	}
	read := readers(s)
	if p := t.Prometheus; p != nil {
		v.httpURL("telemetry.prometheus.url", p.URL)
		v.prometheus("telemetry.prometheus", p)
		for _, m := range s.Metrics() {
			if _, ok := t.Queries[m]; !ok && m != "" {
				v.add("telemetry.queries."+m, "expected a PromQL query for metric %q, which %s reads", m, read[m])
			}
		}
		for _, m := range slices.Sorted(maps.Keys(t.Queries)) {
			v.query("telemetry.queries."+m, m, t.Queries[m])
		}
	}
	if sim := t.Simulator; sim != nil {
		if len(t.Queries) > 0 && t.Prometheus == nil {
			v.add("telemetry.queries", "queries are only for prometheus; the simulator produces its metrics itself")
		}
		model := v.simulator("telemetry.simulator", sim)
		if model != nil {
			for _, m := range s.Metrics() {
				if m != "" && !slices.Contains(model.Metrics, m) {
					v.add(read[m], "the %s simulator has no metric %q; expected one of %s", model.Name, m, strings.Join(model.Metrics, ", "))
				}
			}
		}
	}
}

// historyNote says why a target holds no secret, for the messages.
const historyNote = "the target travels through Temporal's history, which must hold no secret"

// prometheus checks a prometheus block beyond its URL: its durations, and
// its http_config, which must hold no secret.
func (v *validator) prometheus(at string, p *Prometheus) {
	if u, err := url.Parse(p.URL); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			v.add(at+".url", "expected no password in the URL: %s; set http_config.basic_auth with username and password_file instead", historyNote)
		}
	}
	if p.ScrapeInterval <= 0 {
		v.add(at+".scrape_interval", "expected a duration > 0 such as 15s, got %s", formatDuration(time.Duration(p.ScrapeInterval)))
	}
	if p.Timeout <= 0 {
		v.add(at+".timeout", "expected a duration > 0 such as 10s, got %s", formatDuration(time.Duration(p.Timeout)))
	}
	c := p.HTTPConfig
	if c == nil {
		return
	}
	at += ".http_config"
	// The secrets first: Validate moves bearer_token into authorization.
	v.httpSecrets(at, c)
	if err := c.Validate(); err != nil {
		v.add(at, "%v", err)
	}
	if err := c.TLSConfig.Validate(); err != nil {
		v.add(at+".tls_config", "%v", err)
	}
	if o := c.OAuth2; o != nil {
		if err := o.TLSConfig.Validate(); err != nil {
			v.add(at+".oauth2.tls_config", "%v", err)
		}
	}
}

// httpSecrets reports every secret written inline in the http_config c at
// field path at, and every reference to a secret manager (passflow has none
// to resolve it).
func (v *validator) httpSecrets(at string, c *config.HTTPClientConfig) {
	inline := func(field string, set bool, file string) {
		if set {
			v.add(at+"."+field, "expected %s instead of an inline secret: %s (an inline one would reach the worker as \"<secret>\")", file, historyNote)
		}
	}
	ref := func(field, ref, file string) {
		if ref != "" {
			v.add(at+"."+field, "expected %s instead of a secret manager reference, which passflow cannot resolve, got %q", file, ref)
		}
	}
	tls := func(field string, t config.TLSConfig) {
		inline(field+".key", t.Key != "", "key_file")
		ref(field+".ca_ref", t.CARef, "ca or ca_file")
		ref(field+".cert_ref", t.CertRef, "cert or cert_file")
		ref(field+".key_ref", t.KeyRef, "key_file")
	}
	// A proxy's secrets have no _file variant.
	proxy := func(prefix string, p config.ProxyConfig) {
		if u := p.ProxyURL.URL; u != nil && u.User != nil {
			if _, ok := u.User.Password(); ok {
				v.add(at+"."+prefix+"proxy_url", "expected no password in the proxy URL: %s, and a proxy's credentials have no _file variant", historyNote)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(p.ProxyConnectHeader)) {
			v.add(at+"."+prefix+"proxy_connect_header."+name, "expected no proxy_connect_header: its values are secrets, %s, and they have no _file variant", historyNote)
		}
	}

	if a := c.BasicAuth; a != nil {
		inline("basic_auth.password", a.Password != "", "password_file")
		ref("basic_auth.username_ref", a.UsernameRef, "username or username_file")
		ref("basic_auth.password_ref", a.PasswordRef, "password_file")
	}
	if a := c.Authorization; a != nil {
		// http_config reads a bearer_token as authorization.credentials.
		inline("authorization.credentials", a.Credentials != "", "credentials_file (or bearer_token_file, for a bearer_token)")
		ref("authorization.credentials_ref", a.CredentialsRef, "credentials_file")
	}
	inline("bearer_token", c.BearerToken != "", "bearer_token_file (or authorization.credentials_file)")
	if o := c.OAuth2; o != nil {
		inline("oauth2.client_secret", o.ClientSecret != "", "client_secret_file")
		ref("oauth2.client_secret_ref", o.ClientSecretRef, "client_secret_file")
		tls("oauth2.tls_config", o.TLSConfig)
		proxy("oauth2.", o.ProxyConfig)
	}
	tls("tls_config", c.TLSConfig)
	proxy("", c.ProxyConfig)
	if h := c.HTTPHeaders; h != nil {
		for _, name := range slices.Sorted(maps.Keys(h.Headers)) {
			inline("http_headers."+name+".secrets", len(h.Headers[name].Secrets) > 0, "files (or values, for what is no secret)")
		}
	}
}

func (v *validator) query(field, metric, q string) {
	if strings.TrimSpace(q) == "" {
		v.add(field, "expected a PromQL query")
		return
	}
	_, err := RenderQuery(metric, q, QueryVars{Cohort: "canary", Window: "5m"})
	if err == nil {
		return
	}
	if m := fieldRE.FindStringSubmatch(err.Error()); m != nil {
		v.add(field, "unknown template field .%s; expected only {{.Cohort}} and {{.Window}}", m[1])
		return
	}
	v.add(field, "expected a Go template using only {{.Cohort}} and {{.Window}}: %v", err)
}

// simulator checks a simulator block and returns its model, nil if unknown.
func (v *validator) simulator(at string, sim *Simulator) *simulatorModel {
	model, names := lookupSimulatorModel(sim.Model)
	if model == nil {
		v.add(at+".model", "unknown model %q; expected one of %s", sim.Model, strings.Join(names, ", "))
	}
	if !between(sim.Noise, 0, 1, false, true) {
		v.add(at+".noise", "expected noise in [0, 1), got %v", sim.Noise)
	}
	if sim.Scrape <= 0 {
		v.add(at+".scrape", "expected a scrape interval > 0, got %v", sim.Scrape)
	}
	if !(sim.Regression >= 0) || math.IsInf(sim.Regression, 0) {
		v.add(at+".regression", "expected a finite regression >= 0, got %v", sim.Regression)
	}
	return model
}

func (v *validator) errorBudget(s *Spec) {
	b := s.ErrorBudget
	if b == nil {
		return
	}
	if !between(b.SLO, 0, 1, true, true) {
		v.add("error_budget.slo", "expected slo in (0, 1), e.g. 0.999, got %v", b.SLO)
	}
	if b.Window <= 0 {
		v.add("error_budget.window", "expected a window > 0, e.g. 30d")
	}
	if !(b.MaxBurnRate > 0) || math.IsInf(b.MaxBurnRate, 0) {
		v.add("error_budget.max_burn_rate", "expected a finite max_burn_rate > 0, got %v", b.MaxBurnRate)
	}
	counts := b.Bad != "" || b.Total != ""
	switch {
	case b.Metric == "" && !counts:
		v.add("error_budget", "expected metric (an error-ratio metric the target reads) or bad and total (counting PromQL queries with {{.Window}})")
	case b.Metric != "" && counts:
		v.add("error_budget", "expected metric or bad and total, not both")
	case b.Metric != "" && !slices.Contains(s.Metrics(), b.Metric):
		v.add("error_budget.metric", "expected the objective or a guardrail metric (%s), got %q", strings.Join(s.Metrics(), ", "), b.Metric)
	case counts && s.Telemetry.Prometheus == nil:
		v.add("error_budget", "bad and total are PromQL queries: they need prometheus telemetry; with a simulator, name an error-ratio metric instead")
	case counts:
		v.query("error_budget.bad", "error_budget.bad", b.Bad)
		v.query("error_budget.total", "error_budget.total", b.Total)
	}
}

func (v *validator) canary(c Canary) {
	if len(c.Stages) == 0 {
		v.add("canary.stages", "expected at least one stage, the last 100")
	}
	for i, st := range c.Stages {
		at := fmt.Sprintf("canary.stages[%d]", i)
		switch {
		case !between(st, 0, 100, true, false):
			v.add(at, "expected a percentage of traffic in (0, 100], got %v", st)
		case i > 0 && st <= c.Stages[i-1]:
			v.add(at, "expected stages to increase, got %v after %v", st, c.Stages[i-1])
		case i == len(c.Stages)-1 && st != 100:
			v.add(at, "expected the last stage to be 100, got %v", st)
		}
	}
	if c.VerifyFor <= 0 {
		v.add("canary.verify_for", "expected a duration > 0, got %v", c.VerifyFor)
	}
	switch {
	case c.CheckEvery <= 0:
		v.add("canary.check_every", "expected a duration > 0, got %v", c.CheckEvery)
	case c.VerifyFor > 0 && c.CheckEvery > c.VerifyFor:
		v.add("canary.check_every", "expected check_every <= verify_for (%v), got %v", c.VerifyFor, c.CheckEvery)
	}
	if !between(c.Tolerance, 0, 1, false, false) {
		v.add("canary.tolerance", "expected tolerance in [0, 1], got %v", c.Tolerance)
	}
	if c.MaxVerifyFor < c.VerifyFor {
		v.add("canary.max_verify_for", "expected max_verify_for >= verify_for (%v), got %v", c.VerifyFor, c.MaxVerifyFor)
	}
	switch {
	case c.BakeFor < 0 || (c.BakeFor > 0 && time.Duration(c.BakeFor) < MinBakeFor):
		v.add("canary.bake_for", "expected 0 (no bake) or a duration >= %v (a bake is judged an hour at a time), got %v", Duration(MinBakeFor), c.BakeFor)
	case c.BakeFor > 0 && len(c.Stages) > 0 && c.Stages[0] >= 100:
		v.add("canary.bake_for", "expected a stage below 100%% to bake, got stages %v", c.Stages)
	}
}

// judge checks the canary.judge block: valid on its own, and judging only
// metrics the pass reads.
func (v *validator) judge(s *Spec) {
	j := s.Canary.Judge
	if j == nil {
		return
	}
	if len(j.Rules) == 0 {
		v.add("canary.judge.metrics", "expected at least one metric rule")
		return
	}
	if err := j.Validate(); err != nil {
		v.add("canary.judge", "%v", err)
	}
	read := s.Metrics()
	for i, r := range j.Rules {
		if !slices.Contains(read, r.Metric) {
			v.add(fmt.Sprintf("canary.judge.metrics[%d].metric", i),
				"expected the objective or a guardrail metric (%s), got %q", strings.Join(read, ", "), r.Metric)
		}
	}
}

func (v *validator) risk(r Risk) {
	if !r.ApprovalFrom.Valid() {
		v.add("risk.approval_from", "expected low, medium, high or forbidden (never ask), got %q", r.ApprovalFrom)
	}
	seen := map[string]bool{}
	for i, a := range r.Approvers {
		at := fmt.Sprintf("risk.approvers[%d]", i)
		switch {
		case strings.TrimSpace(a) == "":
			v.add(at, "expected an approver's name")
		case len(a) > MaxIdentity:
			v.add(at, "expected a name of at most %d bytes, got %d", MaxIdentity, len(a))
		case seen[a]:
			v.add(at, "duplicate approver %q", a)
		}
		seen[a] = true
	}
	switch {
	case r.Quorum < 1:
		v.add("risk.quorum", "expected at least 1 approval, got %d", r.Quorum)
	case len(r.Approvers) > 0 && r.Quorum > len(r.Approvers):
		v.add("risk.quorum", "expected at most the %d approvers listed, got %d", len(r.Approvers), r.Quorum)
	}
	if r.ApprovalTimeout <= 0 {
		v.add("risk.approval_timeout", "expected a duration > 0, got %v", r.ApprovalTimeout)
	}
	for _, e := range (models.TrustRegion{MaxStep: r.MaxStep, Delta: r.Delta}).Validate() {
		v.add("risk."+e.Field, "%s", e.Msg)
	}
}

func (v *validator) actuator(s *Spec) {
	a := s.Actuator
	var set []string
	if a.Webhook != nil {
		set = append(set, "webhook")
	}
	if a.Command != nil {
		set = append(set, "command")
	}
	if a.File != nil {
		set = append(set, "file")
	}
	if a.Simulator != nil {
		set = append(set, "simulator")
	}
	switch len(set) {
	case 0:
		v.add("actuator", "expected exactly one of webhook, command, file or simulator, got none")
	case 1:
	default:
		v.add("actuator", "expected exactly one of webhook, command, file or simulator, got %s", strings.Join(set, " and "))
	}
	simTelemetry := s.Telemetry.Simulator != nil
	switch {
	case simTelemetry && s.Telemetry.Prometheus != nil:
		// Ambiguous telemetry is reported under telemetry.
	case simTelemetry && a.Simulator == nil && len(set) > 0:
		v.add("actuator", "simulator telemetry needs the simulator actuator (actuator: {simulator: {}}), got %s", strings.Join(set, " and "))
	case !simTelemetry && a.Simulator != nil:
		v.add("actuator.simulator", "the simulator actuator needs simulator telemetry (telemetry: {simulator: {...}})")
	case simTelemetry && a.Simulator != nil && *a.Simulator != *s.Telemetry.Simulator:
		v.add("actuator.simulator", "expected {} or the same settings as telemetry.simulator: both name one simulated service")
	}
	if w := a.Webhook; w != nil {
		v.httpURL("actuator.webhook.url", w.URL)
		if w.SecretEnv != "" && !envVarRE.MatchString(w.SecretEnv) {
			v.add("actuator.webhook.secret_env", "expected an environment variable name such as CHECKOUT_WEBHOOK_SECRET, got %q", w.SecretEnv)
		}
	}
	// A program is run as is: passflow looks nothing up in PATH and runs
	// no shell.
	program := func(field, prog string) {
		switch {
		case strings.TrimSpace(prog) == "":
			v.add(field, "expected a program")
		case !filepath.IsAbs(prog):
			v.add(field, "expected an absolute path such as /usr/local/bin/apply-config (passflow looks nothing up in PATH and runs no shell), got %q", prog)
		}
	}
	timeout := func(field string, d Duration) {
		switch {
		case d <= 0:
			v.add(field, "expected a duration > 0 such as 30s, got %s", formatDuration(time.Duration(d)))
		case d > MaxActuatorTimeout:
			v.add(field, "expected at most %s (each call runs within an activity attempt of a minute), got %s",
				formatDuration(time.Duration(MaxActuatorTimeout)), formatDuration(time.Duration(d)))
		}
	}
	if c := a.Command; c != nil {
		if len(c.Argv) == 0 {
			v.add("actuator.command.argv", "expected a program and its arguments, e.g. [/usr/local/bin/apply-config, --service, checkout]")
		} else {
			program("actuator.command.argv[0]", c.Argv[0])
		}
		timeout("actuator.command.timeout", c.Timeout)
	}
	if f := a.File; f != nil {
		switch {
		case strings.TrimSpace(f.Path) == "":
			v.add("actuator.file.path", "expected a file path")
		case !filepath.IsAbs(f.Path):
			v.add("actuator.file.path", "expected an absolute path such as /etc/checkout/passflow.yaml, got %q", f.Path)
		}
		switch f.Format {
		case "yaml", "json", "env":
		default:
			v.add("actuator.file.format", "expected yaml, json or env, got %q", f.Format)
		}
		if f.Argv != nil {
			if len(f.Argv) == 0 {
				v.add("actuator.file.argv", "expected a program and its arguments, e.g. [/usr/bin/systemctl, reload, checkout], or the field left out")
			} else {
				program("actuator.file.argv[0]", f.Argv[0])
			}
		}
		timeout("actuator.file.timeout", f.Timeout)
	}
}

// maxNotify bounds a target's receivers: each event starts one delivery
// per receiver.
const maxNotify = 10

func (v *validator) notify(ns []Notify) {
	if len(ns) > maxNotify {
		v.add("notify", "expected at most %d receivers, got %d", maxNotify, len(ns))
	}
	for i, n := range ns {
		at := fmt.Sprintf("notify[%d]", i)
		v.httpURL(at+".url", n.URL)
		if n.Format != NotifyJSON && n.Format != NotifySlack {
			v.add(at+".format", "expected json or slack, got %q", n.Format)
		}
		if n.SecretEnv != "" && !envVarRE.MatchString(n.SecretEnv) {
			v.add(at+".secret_env", "expected an environment variable name such as CHECKOUT_NOTIFY_SECRET, got %q", n.SecretEnv)
		}
		if len(n.Events) == 0 {
			v.add(at+".events", "expected one or more of %s, or the field left out for all", strings.Join(NotifyEvents, ", "))
		}
		for j, e := range n.Events {
			if !slices.Contains(NotifyEvents, e) {
				v.add(fmt.Sprintf("%s.events[%d]", at, j), "expected one of %s, got %q", strings.Join(NotifyEvents, ", "), e)
			}
		}
	}
}

func (v *validator) httpURL(field, raw string) {
	if raw == "" {
		v.add(field, "expected an absolute http(s) URL")
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(field, "expected an absolute http(s) URL such as http://127.0.0.1:9090, got %q", raw)
	}
}

func (v *validator) triggers(t Triggers) {
	if t.Schedule != "" {
		if msg := checkSchedule(t.Schedule); msg != "" {
			v.add("triggers.schedule", "%s", msg)
		}
	}
	zoneOK := v.timezone("triggers.timezone", t.Timezone)
	if t.Jitter < 0 {
		v.add("triggers.jitter", "expected a duration >= 0, got %s", formatDuration(time.Duration(t.Jitter)))
	}
	for i, a := range t.Alerts {
		if strings.TrimSpace(a) == "" {
			v.add(fmt.Sprintf("triggers.alerts[%d]", i), "expected an alert name")
		}
	}
	if t.Cooldown < 0 {
		v.add("triggers.cooldown", "expected a duration >= 0, got %s", formatDuration(time.Duration(t.Cooldown)))
	}
	if f := t.Freeze; f != nil {
		v.freeze(f, t.Timezone, zoneOK)
	}
}

// timezone checks an IANA time zone name; "" is UTC. It reports whether the
// name is valid.
func (v *validator) timezone(field, name string) bool {
	if _, err := loadLocation(name); err != nil {
		v.add(field, "expected an IANA time zone such as UTC or Europe/Berlin, got %q", name)
		return false
	}
	return true
}

// freeze checks the freeze block; zone is triggers.timezone, which the
// recurring windows that name no zone took, and zoneOK whether it is valid
// (an invalid one is reported once, under triggers.timezone).
func (v *validator) freeze(f *Freeze, zone string, zoneOK bool) {
	if len(f.Windows) == 0 {
		v.add("triggers.freeze.windows", "expected at least one freeze window: cron and duration, or from and to")
	}
	switch f.OnRequest {
	case FreezeWait, FreezeSkip:
	default:
		v.add("triggers.freeze.on_request", "expected wait or skip, got %q", f.OnRequest)
	}
	switch f.OnCanary {
	case FreezeHold, FreezeRollback:
	default:
		v.add("triggers.freeze.on_canary", "expected hold or rollback, got %q", f.OnCanary)
	}
	for i, w := range f.Windows {
		v.freezeWindow(fmt.Sprintf("triggers.freeze.windows[%d]", i), w, zone, zoneOK)
	}
}

// cronReference is the time from which a freeze window's cron expression
// must match within five years (robfig's limit): a fixed time keeps
// Validate free of the wall clock.
var cronReference = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

func (v *validator) freezeWindow(at string, w FreezeWindow, zone string, zoneOK bool) {
	const either = "expected either cron and duration (a recurring freeze) or from and to (a fixed one), got "
	switch {
	case w.recurring() && w.fixed():
		v.add(at, either+"both")
	case !w.recurring() && !w.fixed():
		v.add(at, either+"neither")
	case w.recurring():
		const want = `expected a 5-field cron expression such as "0 18 * * 5" (minute, hour, day of month, month, day of week)`
		sched, err := parseWindowCron(w.Cron)
		switch {
		case w.Cron == "":
			v.add(at+".cron", "%s: when the freeze starts (it lasts duration)", want)
		case errors.Is(err, errCronTZ):
			v.add(at+".cron", "expected no CRON_TZ= or TZ= prefix, got %q; set the window's timezone field instead", w.Cron)
		case errors.Is(err, errCronFields):
			v.add(at+".cron", "%s, got %q", want, w.Cron)
		case err != nil:
			v.add(at+".cron", "%s, got %q: %v", want, w.Cron, err)
		case sched.Next(cronReference).IsZero():
			v.add(at+".cron", "expected a cron expression that matches some date, got %q, which never does", w.Cron)
		}
		switch {
		case w.Duration <= 0:
			v.add(at+".duration", "expected a duration > 0 such as 62h: how long each freeze lasts")
		case w.Duration > MaxFreezeDuration:
			v.add(at+".duration", "expected at most %s, got %s: a recurring freeze longer than a week is a mistake (a weekly one would never end); write a long one-off freeze with from and to",
				formatDuration(time.Duration(MaxFreezeDuration)), formatDuration(time.Duration(w.Duration)))
		}
		if w.Timezone != zone || zoneOK {
			v.timezone(at+".timezone", w.Timezone)
		}
	default:
		const want = "expected an RFC 3339 time such as 2026-12-20T00:00:00Z"
		if w.From.IsZero() {
			v.add(at+".from", "%s: when the freeze starts", want)
		}
		if w.To.IsZero() {
			v.add(at+".to", "%s: when the freeze ends", want)
		}
		if !w.From.IsZero() && !w.To.IsZero() && !w.From.Before(w.To) {
			v.add(at+".to", "expected a time after from (%s), got %s", w.From.Format(time.RFC3339), w.To.Format(time.RFC3339))
		}
		if w.Timezone != "" {
			v.add(at+".timezone", "expected no timezone on a fixed window: from and to carry their own offset, got %q", w.Timezone)
		}
	}
}

var cronFields = []struct {
	name   string
	lo, hi int
}{{"minute", 0, 59}, {"hour", 0, 23}, {"day of month", 1, 31}, {"month", 1, 12}, {"day of week", 0, 7}}

var cronFieldRE = regexp.MustCompile(`^[0-9*/,-]+$`)

// checkSchedule returns what is wrong with a cron schedule, "" if nothing.
// It accepts five fields of numbers, '*', ranges, lists and steps, the
// macros @hourly, @daily, @midnight, @weekly, @monthly, @yearly and
// @annually, and "@every DURATION" (a Go duration such as 6h or 90m).
func checkSchedule(spec string) string {
	const want = `expected a 5-field cron expression such as "0 2 * * *", @hourly, @daily or @every 6h`
	if strings.HasPrefix(spec, "@") {
		macro, arg, _ := strings.Cut(spec, " ")
		switch macro {
		case "@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually":
			if arg == "" {
				return ""
			}
		case "@every":
			d, err := time.ParseDuration(strings.TrimSpace(arg))
			if err == nil && d > 0 {
				return ""
			}
			return fmt.Sprintf("expected @every and a duration > 0 such as 6h, got %q", spec)
		}
		return fmt.Sprintf("%s, got %q", want, spec)
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return fmt.Sprintf("%s, got %d fields in %q", want, len(fields), spec)
	}
	for i, f := range fields {
		cf := cronFields[i]
		if !cronFieldRE.MatchString(f) {
			return fmt.Sprintf("%s, got %q in the %s field", want, f, cf.name)
		}
		for part := range strings.SplitSeq(f, ",") {
			rng, step, hasStep := strings.Cut(part, "/")
			if hasStep {
				if n, err := strconv.Atoi(step); err != nil || n <= 0 {
					return fmt.Sprintf("%s, got step %q in the %s field", want, step, cf.name)
				}
			}
			if rng == "*" {
				continue
			}
			lo, hi, isRange := strings.Cut(rng, "-")
			if !isRange {
				hi = lo
			}
			a, errLo := strconv.Atoi(lo)
			b, errHi := strconv.Atoi(hi)
			if errLo != nil || errHi != nil || a < cf.lo || b > cf.hi || a > b {
				return fmt.Sprintf("%s, got %q in the %s field (expected %d-%d)", want, part, cf.name, cf.lo, cf.hi)
			}
		}
	}
	return ""
}
