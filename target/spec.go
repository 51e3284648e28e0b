package target

import (
	"time"

	"github.com/prometheus/common/model"

	"github.com/passflow/passflow/models"
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

// Prometheus is a Prometheus server's HTTP API.
type Prometheus struct {
	URL string `yaml:"url" json:"url"`
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
type ErrorBudget struct {
	SLO         float64  `yaml:"slo" json:"slo"`
	Window      Duration `yaml:"window" json:"window"`
	MaxBurnRate float64  `yaml:"max_burn_rate,omitempty" json:"max_burn_rate,omitempty"`
}

// Canary is how a candidate is rolled out and verified.
type Canary struct {
	// Stages are the canary's traffic percentages, increasing, the last 100.
	Stages []float64 `yaml:"stages,omitempty" json:"stages"`
	// VerifyFor is how long each stage runs before it is verified.
	VerifyFor Duration `yaml:"verify_for,omitempty" json:"verify_for"`
	// CheckEvery is how often the guardrails are checked during the wait.
	CheckEvery Duration `yaml:"check_every,omitempty" json:"check_every"`
	// Tolerance is how much worse than the baseline (relative) a guardrail
	// metric or the objective may be on the canary: the allowed effect of the
	// judge's default rules.
	Tolerance float64 `yaml:"tolerance,omitempty" json:"tolerance"`
	// MaxVerifyFor caps how far a stage's wait may be extended to collect the
	// samples the judge needs (see models.JudgeConfig.SamplesNeeded); the
	// default is twice VerifyFor.
	MaxVerifyFor Duration `yaml:"max_verify_for,omitempty" json:"max_verify_for"`
	// Judge configures the canary judge; without it every guardrail is a
	// critical metric and the objective an ordinary one (see Spec.Judge).
	Judge *models.JudgeConfig `yaml:"judge,omitempty" json:"judge,omitempty"`
}

// Risk sets when a human must approve and how far one pass may move.
type Risk struct {
	// ApprovalFrom is the lowest band that needs an approval.
	ApprovalFrom    models.Band `yaml:"approval_from,omitempty" json:"approval_from"`
	Approvers       []string    `yaml:"approvers,omitempty" json:"approvers,omitempty"`
	ApprovalTimeout Duration    `yaml:"approval_timeout,omitempty" json:"approval_timeout"`
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

// Command runs a program (no shell) with the change as JSON on standard input.
type Command struct {
	Argv []string `yaml:"argv" json:"argv"`
}

// File writes the configuration of each cohort to a file.
type File struct {
	Path string `yaml:"path" json:"path"`
}

// Triggers say when passes start on their own.
type Triggers struct {
	Schedule string   `yaml:"schedule,omitempty" json:"schedule,omitempty"`
	Alerts   []string `yaml:"alerts,omitempty" json:"alerts,omitempty"`
}

// Judge returns the canary judge's configuration: the target's canary.judge
// block, or else one rule per metric the pass reads: each guardrail critical,
// bad in the direction that breaks it, and the objective bad in the direction
// that worsens it; every allowed effect is canary.tolerance.
func (s Spec) Judge() models.JudgeConfig {
	if s.Canary.Judge != nil {
		return s.Canary.Judge.WithDefaults()
	}
	var cfg models.JudgeConfig
	tol := models.Percent(s.Canary.Tolerance)
	for _, c := range s.Constraints {
		dir := models.Both
		switch {
		case c.Max != nil && c.Min == nil:
			dir = models.Increase
		case c.Min != nil && c.Max == nil:
			dir = models.Decrease
		}
		cfg.Rules = append(cfg.Rules, models.MetricRule{Metric: c.Metric, Direction: dir, AllowedEffect: tol, Critical: true})
	}
	dir := models.Increase
	if s.Objective.Goal == models.Maximize {
		dir = models.Decrease
	}
	dup := false
	for _, r := range cfg.Rules {
		dup = dup || r.Metric == s.Objective.Metric
	}
	if !dup {
		cfg.Rules = append(cfg.Rules, models.MetricRule{Metric: s.Objective.Metric, Direction: dir, AllowedEffect: tol})
	}
	return cfg.WithDefaults()
}

// MaxVerifyFor returns the cap of a stage's extended wait.
func (s Spec) MaxVerifyFor() time.Duration { return time.Duration(s.Canary.MaxVerifyFor) }

// Problem is the optimization problem the spec describes.
func (s Spec) Problem() models.Problem {
	return models.Problem{Space: s.Params, Goal: s.Objective.Goal, Constraints: s.Constraints}
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
