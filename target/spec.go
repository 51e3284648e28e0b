package target

import (
	"encoding/json"
	"net/url"
	"slices"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/models/judge"
)

// Duration is a span of time written as in Prometheus: "30s", "5m", "24h",
// "30d". Its JSON form is the same string.
type Duration = model.Duration

// Spec is one tuning target, as a user writes it in YAML. Every field is
// documented in README.md; Parse fills the defaults and validates.
type Spec struct {
	Name        string              `yaml:"name" json:"name"`
	Tier        models.Tier         `yaml:"tier,omitempty" json:"tier"`
	Params      models.Space        `yaml:"params" json:"params"`
	Objective   Objective           `yaml:"objective" json:"objective"`
	Constraints []models.Constraint `yaml:"constraints,omitempty" json:"constraints,omitempty"`
	Telemetry   Telemetry           `yaml:"telemetry" json:"telemetry"`
	ErrorBudget *ErrorBudget        `yaml:"error_budget,omitempty" json:"error_budget,omitempty"`
	Canary      Canary              `yaml:"canary,omitempty" json:"canary"`
	Risk        Risk                `yaml:"risk,omitempty" json:"risk"`
	Actuator    Actuator            `yaml:"actuator" json:"actuator"`
	Triggers    Triggers            `yaml:"triggers,omitempty" json:"triggers,omitempty"`
	// Notify are the receivers of the target's notifications.
	Notify []Notify `yaml:"notify,omitempty" json:"notify,omitempty"`
}

// Objective is the metric the optimizer improves.
type Objective struct {
	Metric string      `yaml:"metric" json:"metric"`
	Goal   models.Goal `yaml:"goal" json:"goal"`
}

// Telemetry says where the service's metrics come from: Prometheus with one
// templated PromQL query per metric, or a simulated service.
type Telemetry struct {
	Prometheus *Prometheus `yaml:"prometheus,omitempty" json:"prometheus,omitempty"`
	// Queries maps a metric name to PromQL; {{.Cohort}} and {{.Window}} are
	// filled in per query.
	Queries   map[string]string `yaml:"queries,omitempty" json:"queries,omitempty"`
	Simulator *Simulator        `yaml:"simulator,omitempty" json:"simulator,omitempty"`
}

// Prometheus is a Prometheus server's HTTP API (or one that speaks it).
type Prometheus struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:9090; it carries
	// no password.
	URL string `yaml:"url" json:"url"`
	// HTTPConfig says how to reach the server (authentication, TLS, proxy,
	// headers), in Prometheus's own format; nil is plain HTTP(S). The
	// target travels through Temporal's history as JSON, so it holds no
	// inline secret: each credential is read from a file on the worker
	// (password_file, credentials_file, client_secret_file, key_file, the
	// files of http_headers).
	HTTPConfig *config.HTTPClientConfig `yaml:"http_config,omitempty" json:"http_config,omitempty"`
	// ScrapeInterval is how often the server scrapes the service; default
	// 15s. A query's step is at least twice this, so that each sample is a
	// rate over scrapes of its own.
	ScrapeInterval Duration `yaml:"scrape_interval,omitempty" json:"scrape_interval,omitempty"`
	// Timeout bounds each query the server is sent; default 10s.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// UnmarshalJSON reads p from its JSON form, the one it has in Temporal's
// history, undoing two flaws of prometheus/common's JSON form of
// http_config so that p survives a round trip: it restores http_headers,
// which is written as a bare map of header names but not read back (Headers
// has no UnmarshalJSON), and it turns the empty proxy URLs that an absent
// proxy_url is read back as (URL reads null as "") into absent ones again.
func (p *Prometheus) UnmarshalJSON(data []byte) error {
	type plain Prometheus
	if err := json.Unmarshal(data, (*plain)(p)); err != nil {
		return err
	}
	c := p.HTTPConfig
	if c == nil {
		return nil
	}
	for _, u := range []*config.URL{&c.ProxyURL, oauth2ProxyURL(c)} {
		if u != nil && u.URL != nil && *u.URL == (url.URL{}) {
			u.URL = nil
		}
	}
	var raw struct {
		HTTPConfig struct {
			HTTPHeaders map[string]config.Header `json:"http_headers"`
		} `json:"http_config"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	if h := raw.HTTPConfig.HTTPHeaders; h != nil {
		c.HTTPHeaders = &config.Headers{Headers: h}
		return c.HTTPHeaders.Validate()
	}
	return nil
}

// oauth2ProxyURL returns the proxy URL of c's oauth2 block, nil without one.
func oauth2ProxyURL(c *config.HTTPClientConfig) *config.URL {
	if c.OAuth2 == nil {
		return nil
	}
	return &c.OAuth2.ProxyURL
}

// Simulator is a simulated service standing in for a real one (package
// simulations). The same block under telemetry and actuator names the same
// simulated service, which is keyed by the target's name.
type Simulator struct {
	// Model names a response surface of package simulations, e.g. "web".
	Model string `yaml:"model,omitempty" json:"model,omitempty"`
	// Seed fixes the surface's optimum and the noise.
	Seed uint64 `yaml:"seed,omitempty" json:"seed,omitempty"`
	// Noise is the relative standard deviation of one sample at full traffic.
	Noise float64 `yaml:"noise,omitempty" json:"noise,omitempty"`
	// Scrape is the interval between two samples of a metric.
	Scrape Duration `yaml:"scrape,omitempty" json:"scrape,omitempty"`
	// Regression, when set, multiplies the canary cohort's latency and error
	// rate by (1 + Regression): a fault to inject.
	Regression float64 `yaml:"regression,omitempty" json:"regression,omitempty"`
}

// ErrorBudget is the service's availability SLO and how fast its budget may burn
// before passes stop changing anything.
//
// The error ratio it burns comes from exactly one of: Metric, an error-ratio
// metric the target reads (the objective or a guardrail), averaged over each
// window; or Bad and Total, counting PromQL queries with {{.Window}} (e.g.
// sum(increase(http_requests_total{code=~"5.."}[{{.Window}}]))), whose ratio
// over each window is request-weighted.
type ErrorBudget struct {
	SLO         float64  `yaml:"slo" json:"slo"`
	Window      Duration `yaml:"window" json:"window"`
	MaxBurnRate float64  `yaml:"max_burn_rate,omitempty" json:"max_burn_rate,omitempty"`
	Metric      string   `yaml:"metric,omitempty" json:"metric,omitempty"`
	Bad         string   `yaml:"bad,omitempty" json:"bad,omitempty"`
	Total       string   `yaml:"total,omitempty" json:"total,omitempty"`
}

// Canary is how a candidate is rolled out and verified.
type Canary struct {
	// Stages are the canary's traffic percentages, increasing, the last 100.
	Stages []float64 `yaml:"stages,omitempty" json:"stages"`
	// VerifyFor is how long each stage runs before it is verified.
	VerifyFor Duration `yaml:"verify_for,omitempty" json:"verify_for"`
	// CheckEvery is how often the guardrails are checked during the wait.
	CheckEvery Duration `yaml:"check_every,omitempty" json:"check_every"`
	// Tolerance is how much worse than the baseline (relative) the objective
	// may be on the canary before the stage fails: the allowed effect of the
	// judge's default objective rule (see Spec.Judge). 0 by default.
	Tolerance float64 `yaml:"tolerance,omitempty" json:"tolerance"`
	// MaxVerifyFor caps how far a stage's wait may be extended to collect the
	// samples the judge needs (see judge.Config.SamplesNeeded); the
	// default is twice VerifyFor.
	MaxVerifyFor Duration `yaml:"max_verify_for,omitempty" json:"max_verify_for"`
	// BakeFor keeps the deciding stage (the last below 100%) running this
	// long after it passed, and judges it again over the whole bake, an
	// hour at a time: the objective's change over the load cycle must be a
	// gain shown (not only the change in the stage's one hour), and no
	// guardrail may be over its limit in any hour (the peak, the night's
	// batch jobs). 0, the default, bakes nothing. A stage sees one hour of
	// the day; a bake of most of a day sees the rest.
	BakeFor Duration `yaml:"bake_for,omitempty" json:"bake_for,omitempty"`
	// Judge holds the opt-in relative rules of the canary judge ("no worse
	// than the baseline by more than X", per metric), as in `passflow
	// judge`; the objective's default rule is added unless it names the
	// objective (see Spec.Judge).
	Judge *judge.Config `yaml:"judge,omitempty" json:"judge,omitempty"`
}

// Risk sets when a human must approve and how far one pass may move.
type Risk struct {
	// ApprovalFrom is the lowest band that needs an approval.
	ApprovalFrom models.Band `yaml:"approval_from,omitempty" json:"approval_from"`
	// Approvers are the identities whose answers count; empty lets every
	// identity the HTTP API gives the approver role answer.
	Approvers []string `yaml:"approvers,omitempty" json:"approvers,omitempty"`
	// Quorum is how many distinct approvers must approve (default 1); one
	// rejection rejects.
	Quorum int `yaml:"quorum,omitempty" json:"quorum,omitempty"`
	// ApprovalTimeout ends a pass with no quorum by then as rejected, with
	// nothing applied.
	ApprovalTimeout Duration `yaml:"approval_timeout,omitempty" json:"approval_timeout"`
	// MaxStep is the trust region: the largest move of any numeric knob as a
	// share of its (scaled) range.
	MaxStep float64 `yaml:"max_step,omitempty" json:"max_step"`
	// Delta is the largest accepted model probability of breaking a guardrail.
	Delta float64 `yaml:"delta,omitempty" json:"delta"`
}

// Actuator says how a configuration reaches the service. Exactly one is set.
type Actuator struct {
	Webhook   *Webhook   `yaml:"webhook,omitempty" json:"webhook,omitempty"`
	Command   *Command   `yaml:"command,omitempty" json:"command,omitempty"`
	File      *File      `yaml:"file,omitempty" json:"file,omitempty"`
	Simulator *Simulator `yaml:"simulator,omitempty" json:"simulator,omitempty"`
}

// Webhook posts each change, signed with HMAC-SHA256 using the secret read
// from the environment variable SecretEnv.
type Webhook struct {
	URL       string `yaml:"url" json:"url"`
	SecretEnv string `yaml:"secret_env,omitempty" json:"secret_env,omitempty"`
}

// Notify is a receiver of a target's notifications: a webhook that gets a
// JSON body (Format json) or a Slack-compatible one (Format slack) on each
// of Events, signed like the webhook actuator when SecretEnv names the
// worker's environment variable holding the secret.
type Notify struct {
	URL       string   `yaml:"url" json:"url"`
	Format    string   `yaml:"format,omitempty" json:"format,omitempty"`
	SecretEnv string   `yaml:"secret_env,omitempty" json:"secret_env,omitempty"`
	Events    []string `yaml:"events,omitempty" json:"events,omitempty"`
}

// The notification formats and events.
const (
	NotifyJSON  = "json"
	NotifySlack = "slack"

	EventApprovalRequested = "approval_requested"
	EventApprovalDecided   = "approval_decided"
	EventRolledBack        = "rolled_back"
	EventPromoted          = "promoted"
)

// NotifyEvents are every event a receiver can get, the default.
var NotifyEvents = []string{EventApprovalRequested, EventApprovalDecided, EventRolledBack, EventPromoted}

// Wants reports whether the receiver gets event.
func (n Notify) Wants(event string) bool { return slices.Contains(n.Events, event) }

// Command runs a program (no shell) with the change as JSON on standard input.
type Command struct {
	// Argv is the program, an absolute path run as is (no PATH lookup, no
	// shell), and its arguments.
	Argv []string `yaml:"argv" json:"argv"`
	// Timeout bounds each run of the program; default 30s. A run that
	// outlasts it is killed with its whole process group.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// File writes the configuration of each cohort to a file.
type File struct {
	// Path is the file, an absolute path.
	Path string `yaml:"path" json:"path"`
	// Format is the file's format: yaml (the default), json or env.
	Format string `yaml:"format,omitempty" json:"format,omitempty"`
	// Argv, when set, is a program run after each write (e.g. a reload),
	// as the command actuator's: an absolute path, no shell.
	Argv []string `yaml:"argv,omitempty" json:"argv,omitempty"`
	// Timeout bounds each run of Argv; default 30s.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// Triggers say when passes start on their own, and when no change may
// start at all.
type Triggers struct {
	// Schedule starts a pass at fixed times: a 5-field cron expression
	// ("0 2 * * *"), one of the macros @hourly, @daily, @midnight, @weekly,
	// @monthly, @yearly and @annually, or "@every D" (D a Go duration such
	// as 6h). Cron expressions and macros are read in Timezone; "@every D"
	// fires at the multiples of D since the Unix epoch.
	Schedule string `yaml:"schedule,omitempty" json:"schedule,omitempty"`
	// Timezone is the IANA time zone of Schedule and of every recurring
	// freeze window that names none, e.g. "Europe/Berlin". Empty means UTC
	// (Validate leaves it empty; Location resolves it).
	Timezone string `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	// Jitter delays each scheduled start by a random amount up to Jitter,
	// so that targets scheduled alike do not all start at once; >= 0.
	Jitter Duration `yaml:"jitter,omitempty" json:"jitter,omitempty"`
	// Alerts names the Prometheus alerts whose firing requests a pass.
	Alerts []string `yaml:"alerts,omitempty" json:"alerts,omitempty"`
	// Cooldown is the least time between two alert-triggered pass
	// requests: at most one is made per Cooldown; >= 0, default 1h.
	// Because zero means the default, write 1s for practically none.
	Cooldown Duration `yaml:"cooldown,omitempty" json:"cooldown,omitempty"`
	// Freeze, when set, holds the time ranges in which no change may start.
	Freeze *Freeze `yaml:"freeze,omitempty" json:"freeze,omitempty"`
}

// Freeze is the target's change freezes: time ranges in which no change may
// start. See Freeze.At for when the target is frozen.
type Freeze struct {
	// Windows are the freezes; the target is frozen while any is in force.
	Windows []FreezeWindow `yaml:"windows" json:"windows"`
	// OnRequest is what a pass requested inside a freeze does: FreezeWait
	// (the default; it starts when the freeze ends) or FreezeSkip.
	OnRequest FreezeRequestPolicy `yaml:"on_request,omitempty" json:"on_request"`
	// OnCanary is what a pass already in a canary does when a freeze
	// begins: it finishes its current stage, then FreezeHold (the default:
	// it waits for the end of the freeze with the stage applied, then goes
	// on) or FreezeRollback.
	OnCanary FreezeCanaryPolicy `yaml:"on_canary,omitempty" json:"on_canary"`
}

// FreezeRequestPolicy is what a pass requested inside a freeze does.
type FreezeRequestPolicy string

// The policies for a pass requested inside a freeze.
const (
	// FreezeWait starts the pass when the freeze ends.
	FreezeWait FreezeRequestPolicy = "wait"
	// FreezeSkip drops the request.
	FreezeSkip FreezeRequestPolicy = "skip"
)

// FreezeCanaryPolicy is what a pass in a canary does, once its current
// stage is finished, when a freeze begins.
type FreezeCanaryPolicy string

// The policies for a pass in a canary when a freeze begins.
const (
	// FreezeHold keeps the finished stage applied until the freeze ends,
	// then goes on with the pass.
	FreezeHold FreezeCanaryPolicy = "hold"
	// FreezeRollback undoes the stages applied so far.
	FreezeRollback FreezeCanaryPolicy = "rollback"
)

// FreezeWindow is one freeze: either recurring (Cron and Duration: it
// starts at each time the 5-field cron expression matches, in Timezone, and
// lasts Duration) or fixed (From and To, RFC 3339 timestamps). Each
// occurrence includes its start and excludes its end. Duration is elapsed
// time, so an occurrence that spans a daylight-saving change ends an hour
// earlier or later by the wall clock than the others.
type FreezeWindow struct {
	// Name is an optional label shown to operators, e.g. "weekend" or
	// "year-end release freeze".
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Cron is a 5-field cron expression (minute, hour, day of month,
	// month, day of week), e.g. "0 18 * * 5" for Fridays at 18:00.
	Cron string `yaml:"cron,omitempty" json:"cron,omitempty"`
	// Duration is how long each occurrence lasts: > 0 and at most 7d.
	Duration Duration `yaml:"duration,omitempty" json:"duration,omitempty"`
	// Timezone is the IANA time zone Cron is read in. Validate fills it
	// with Triggers.Timezone when empty; empty means UTC. Only for a
	// recurring window: From and To carry their own offset.
	Timezone string `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	// From is when a fixed freeze starts (included).
	From time.Time `yaml:"from,omitempty" json:"from,omitzero"`
	// To is when a fixed freeze ends (excluded).
	To time.Time `yaml:"to,omitempty" json:"to,omitzero"`
}

// Judge returns the canary judge's relative rules: the rules of the
// target's canary.judge block (opt-in, per metric), and, unless that block
// has a rule of its own for the objective, the one default: the objective
// must not be worse on the canary than on the baseline by more than
// canary.tolerance (0 by default), a critical rule, so a candidate shown to
// be worse is rolled back and watched for during the wait. Guardrails are
// not relative rules: they are judged against their limits
// (judge.SLOs, judge.CheckSequential).
func (s Spec) Judge() judge.Config {
	var cfg judge.Config
	if s.Canary.Judge != nil {
		cfg = *s.Canary.Judge
		cfg.Rules = slices.Clone(cfg.Rules)
	}
	if !slices.ContainsFunc(cfg.Rules, func(r judge.Rule) bool { return r.Metric == s.Objective.Metric }) {
		cfg.Rules = append(cfg.Rules, s.objectiveRule())
	}
	return cfg.WithDefaults()
}

// objectiveRule is the default relative rule of the objective: worse on the
// canary by more than canary.tolerance, with confidence, fails the stage.
func (s Spec) objectiveRule() judge.Rule {
	dir := judge.Increase
	if s.Objective.Goal == models.Maximize {
		dir = judge.Decrease
	}
	return judge.Rule{Metric: s.Objective.Metric, Direction: dir,
		AllowedEffect: models.Percent(s.Canary.Tolerance), Critical: true}
}

// JudgeAgainstReference returns the relative rules that apply when the
// baseline is the window read before the pass (the 100% stage, when no
// traffic is left on the baseline): only the rules the target opted into.
// The default objective rule does not apply: the load, the time of day and
// everything else differ between the two windows, so a difference proves
// nothing about the change. ok is false when no rule is left.
func (s Spec) JudgeAgainstReference() (cfg judge.Config, ok bool) {
	if s.Canary.Judge == nil || len(s.Canary.Judge.Rules) == 0 {
		return judge.Config{}, false
	}
	return s.Canary.Judge.WithDefaults(), true
}

// RepairJudge returns the relative rules of a repair pass, one whose
// baseline breaks a guardrail: only the rules the target opted into, as
// against the reference. The objective's default rule does not apply: a
// repair restores a guardrail, and may cost objective to do it. ok is false
// when no rule is left.
func (s Spec) RepairJudge() (cfg judge.Config, ok bool) { return s.JudgeAgainstReference() }

// DecidingStage returns the index (1-based) of the last canary stage that
// still leaves traffic on the baseline: the last stage whose objective is
// judged against a baseline measured beside it, so the stage that decides
// whether the candidate gains anything. 0 when every stage is 100%.
func (s Spec) DecidingStage() int {
	k := 0
	for i, pct := range s.Canary.Stages {
		if pct < 100 {
			k = i + 1
		}
	}
	return k
}

// BakeFor returns how long the deciding stage bakes after it passed (0:
// no bake).
func (s Spec) BakeFor() time.Duration { return time.Duration(s.Canary.BakeFor) }

// MaxVerifyFor returns the cap of a stage's extended wait.
func (s Spec) MaxVerifyFor() time.Duration { return time.Duration(s.Canary.MaxVerifyFor) }

// Problem is the optimization problem the spec describes.
func (s Spec) Problem() models.Problem {
	return models.Problem{Space: s.Params, Goal: s.Objective.Goal, Constraints: s.Constraints, Objective: s.Objective.Metric}
}

// VerifyFor returns the canary wait per stage.
func (s Spec) VerifyFor() time.Duration { return time.Duration(s.Canary.VerifyFor) }

// CheckEvery returns the interval of the guardrail checks during a wait.
func (s Spec) CheckEvery() time.Duration { return time.Duration(s.Canary.CheckEvery) }

// Metrics returns every metric the pass reads: the objective, then each
// guardrail, without repeats.
func (s Spec) Metrics() []string {
	out := []string{s.Objective.Metric}
	for _, c := range s.Constraints {
		dup := false
		for _, m := range out {
			dup = dup || m == c.Metric
		}
		if !dup {
			out = append(out, c.Metric)
		}
	}
	return out
}
