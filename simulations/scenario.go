package simulations

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
)

// Scenario is a simulated world described by a scenario file (see
// ParseScenario for the format): a target, a traffic pattern, the true value
// of each metric as an expression of the knobs and of the time, the faults
// to inject, the operator's behaviour and the pass schedule. It implements
// World; it is immutable once parsed, and safe for concurrent use.
//
// Time. Every variable of the expressions besides the knobs is a function
// of the instant: load (ScenarioLoad.At), ramp (its derivative, per hour),
// hour (UTC), day (whole days since the UTC day of schedule.start, 0 on
// that day) and drift (drift.per_day × day). The truth of a day is read at
// its 24 whole hours; Values reads it at any instant.
//
// Truth. Truth(cfg, at, seed) is cfg's noise-free value on the day that
// contains at: the objective's mean over the 24 hourly values (weighted by
// the load for a per_load metric), each guardrail at its worst hour (its highest value for a max limit, its
// lowest for a min, the one furthest past its limits for both). The drift
// and the regression fault apply; the measurement faults (noisy
// neighbour, telemetry gaps) and the actuator faults do not: a noisy
// neighbour disturbs what is measured, not what the configuration is. The
// truth does not depend on the seed, which only draws the noise and the
// faults of NewService.
//
// Optimum. Optimum(at, seed) evaluates Halton points over the numeric
// knobs for every categorical combination (at most 256, else a random
// 256), then refines the best six points (and each combination's best,
// when there are at most 16) by a pattern search (coordinate and diagonal
// directions, then random ones, before halving the step; int knobs kept on
// integers; a final ±1 search over the int knobs), ordering configurations
// by feasibility first (every guardrail's worst hour within its limits),
// then by the objective. It is computed once per day (about 0.1–0.2 s for
// a built-in scenario). TestScenarioOptimumAgainstGrid checks it, for each
// built-in scenario on two days, against a brute-force grid of about
// 100,000 configurations (every categorical choice, every integer of an
// int knob with at most 160, an even grid over the other numeric knobs):
// the optimum keeps every guardrail and is at least as good as the grid's
// best feasible point, within 0.1%.
type Scenario struct {
	name        string
	description string
	file        string
	spec        target.Spec
	load        ScenarioLoad
	drift       ScenarioDrift
	faults      ScenarioFaults
	operator    Operator
	schedule    ScenarioSchedule
	scrape      time.Duration

	env      *exprEnv
	vars     []scenarioVar
	metrics  []scenarioMetric
	index    map[string]int
	knobs    []knob // the target's params, in space order
	numeric  []int  // indices in knobs of the numeric knobs
	category []int  // indices in knobs of the categorical knobs
	startDay time.Time
	lets     int // let slots the expressions need

	mu     sync.Mutex
	optima map[int64]*dayOptimum
}

var _ World = (*Scenario)(nil)

// scenarioMetric is one compiled metric of a scenario.
type scenarioMetric struct {
	name string
	ScenarioMetric
	expr *expression
}

// scenarioVar is one compiled var of a scenario: a named intermediate
// quantity, evaluated at each instant before the metrics.
type scenarioVar struct {
	name string
	slot int
	expr *expression
}

// knob is one of a scenario's parameters and its slot in a frame.
type knob struct {
	param models.Param
	slot  int // in frame.num for numeric knobs, frame.str for categorical ones
}

// ScenarioLoad is a scenario's traffic: a multiplier of the traffic at
// each instant,
//
//	load(t) = base · (1 + diurnal · cos(2π (h − peak_hour) / 24)) · w
//
// where h is the hour of the day (UTC, with its fraction) and w is
// 1 − weekly on Saturdays and Sundays, 1 on weekdays.
type ScenarioLoad struct {
	// Base is the mean multiplier (> 0); 1 when absent.
	Base float64 `yaml:"base"`
	// Diurnal is the relative amplitude of the daily cycle, in [0, 1).
	Diurnal float64 `yaml:"diurnal"`
	// PeakHour is the hour of the daily peak (UTC), in [0, 24).
	PeakHour float64 `yaml:"peak_hour"`
	// Weekly is how much lower the load is at weekends, in [0, 1).
	Weekly float64 `yaml:"weekly"`
}

// At returns the load multiplier at t.
func (l ScenarioLoad) At(t time.Time) float64 {
	load, _ := l.at(t)
	return load
}

// at returns the load at t and its derivative, in load per hour.
func (l ScenarioLoad) at(t time.Time) (load, ramp float64) {
	t = t.UTC()
	h := float64(t.Hour()) + float64(t.Minute())/60 + float64(t.Second())/3600 + float64(t.Nanosecond())/3.6e12
	w := 1.0
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		w = 1 - l.Weekly
	}
	x := 2 * math.Pi * (h - l.PeakHour) / 24
	return l.Base * (1 + l.Diurnal*math.Cos(x)) * w, -l.Base * l.Diurnal * math.Sin(x) * 2 * math.Pi / 24 * w
}

// ScenarioDrift is how a scenario's optimum moves over the days.
type ScenarioDrift struct {
	// PerDay is added to the drift variable every day: drift = per_day × day.
	PerDay float64 `yaml:"per_day"`
}

// ScenarioMetric is one metric of a scenario as written.
type ScenarioMetric struct {
	// Expr is the metric's true value, an expr-lang expression of the
	// knobs (by parameter name; categorical knobs are strings) and of
	// load, hour, day, drift and ramp.
	Expr string `yaml:"expr"`
	// Noise is the relative standard deviation of one sample at full
	// traffic, in [0, 1); DefaultNoise when absent. A cohort with a share
	// s of the traffic is noisier by 1/√s (at most MaxNoiseScale).
	Noise float64 `yaml:"noise"`
	// Autocorr is the correlation of consecutive samples' noise (AR(1)),
	// in [0, 0.97]; 0 when absent.
	Autocorr float64 `yaml:"autocorr"`
	// Ratio marks a fraction: noisy samples are capped at 1, and so is the
	// truth under a regression.
	Ratio bool `yaml:"ratio"`
	// PerLoad marks a value per unit of traffic (per request, per
	// invocation): as the objective, its daily truth is the day's total
	// over the day's traffic, the load-weighted mean of its hourly values,
	// not their plain mean (the right daily figure of a rate per hour).
	PerLoad bool `yaml:"per_load"`
}

// ScenarioFaults are the faults a scenario injects; each is off unless
// given.
type ScenarioFaults struct {
	Regression       *RegressionFault      `yaml:"regression"`
	TelemetryGaps    *TelemetryGapFault    `yaml:"telemetry_gaps"`
	ActuatorErrors   *ActuatorErrorFault   `yaml:"actuator_errors"`
	ActuatorTimeouts *ActuatorTimeoutFault `yaml:"actuator_timeouts"`
	NoisyNeighbour   *NoisyNeighbourFault  `yaml:"noisy_neighbour"`
}

// RegressionFault is a deploy that makes some metrics worse for every
// cohort from the start of one day on: part of the truth.
type RegressionFault struct {
	// Day is the first day affected (day 0 is the day of schedule.start).
	Day int `yaml:"day"`
	// Metrics are multiplied by Factor (> 0).
	Metrics []string `yaml:"metrics"`
	Factor  float64  `yaml:"factor"`
}

// TelemetryGapFault makes telemetry go missing: each slot of Length (the
// scrape interval when absent) of a cohort's samples is missing with
// Probability, in [0, 1). A missing sample is left out, or returned as NaN
// when NaN is set; never as a zero.
type TelemetryGapFault struct {
	Probability float64       `yaml:"probability"`
	Length      time.Duration `yaml:"length"`
	NaN         bool          `yaml:"nan"`
}

// ActuatorErrorFault makes SetCanary and Promote fail with a retryable
// error (ErrTypeActuatorUnavailable) before anything is applied, with
// Probability in [0, 1), drawn per idempotency key and attempt: a retry may
// succeed.
type ActuatorErrorFault struct {
	Probability float64 `yaml:"probability"`
}

// ActuatorTimeoutFault makes SetCanary and Promote lose their answer with
// Probability in [0, 1), drawn per key and attempt: the change is applied
// Delay (> 0) late and the call returns a retryable error
// (ErrTypeActuatorTimeout); a retry with the same key is a no-op.
type ActuatorTimeoutFault struct {
	Probability float64       `yaml:"probability"`
	Delay       time.Duration `yaml:"delay"`
}

// NoisyNeighbourFault is a neighbour that, in some hours, inflates what a
// cohort measures: each hour of each cohort is disturbed with Probability
// in [0, 1], drawn independently per cohort (the canary's pods do not
// share the baseline's nodes), and its Metrics multiplied by Factor (>= 1).
// It is a measurement disturbance, not part of the truth.
type NoisyNeighbourFault struct {
	Probability float64  `yaml:"probability"`
	Factor      float64  `yaml:"factor"`
	Metrics     []string `yaml:"metrics"`
}

// ScenarioSchedule is when a campaign requests passes.
type ScenarioSchedule struct {
	// Start is when the first pass is requested: best at the hour the
	// guardrails are hardest to keep (validating off-peak only is a
	// mistake).
	Start time.Time `yaml:"start"`
	// Every is the time between two requests (> 0); 24h when absent.
	Every time.Duration `yaml:"every"`
}

// DefaultScenarioScrape is a scenario's scrape interval when its target's
// simulator block sets none.
const DefaultScenarioScrape = 15 * time.Second

// DefaultOperatorAfter is how long a scenario's operator takes to answer
// when the file does not say.
const DefaultOperatorAfter = 15 * time.Minute

//go:embed scenarios/*.yaml
var builtinFS embed.FS

// BuiltinScenarios returns the names of the built-in scenarios, sorted.
func BuiltinScenarios() []string {
	entries, err := fs.ReadDir(builtinFS, "scenarios")
	if err != nil {
		panic(fmt.Sprintf("simulations: built-in scenarios: %v", err))
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// builtinScenarios holds the built-in scenarios parsed so far, by name: a Scenario
// is immutable, so every caller shares one, and each day's optimum is
// computed once per process.
var builtinScenarios sync.Map // name → *Scenario

// BuiltinScenario returns the built-in scenario name (see
// BuiltinScenarios), parsed once per process and shared (a Scenario is
// immutable). Each call registers its simulator model again, in case a
// scenario file of the same name replaced it.
func BuiltinScenario(name string) (*Scenario, error) {
	if s, ok := builtinScenarios.Load(name); ok {
		s := s.(*Scenario)
		if err := target.RegisterSimulatorModel(s.name, s.Metrics()); err != nil {
			return nil, fmt.Errorf("simulations: scenario %s: %w", name, err)
		}
		return s, nil
	}
	if !slices.Contains(BuiltinScenarios(), name) {
		return nil, fmt.Errorf("simulations: unknown scenario %q: expected one of %s", name, strings.Join(BuiltinScenarios(), ", "))
	}
	data, err := builtinFS.ReadFile(path.Join("scenarios", name+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("simulations: scenario %s: %w", name, err)
	}
	s, err := ParseScenario(name+".yaml", data)
	if err != nil {
		return nil, err
	}
	actual, _ := builtinScenarios.LoadOrStore(name, s)
	return actual.(*Scenario), nil
}

// LoadScenario reads and parses the scenario file at path; see ParseScenario.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("simulations: %w", err)
	}
	return ParseScenario(path, data)
}

// Name returns the scenario's name, e.g. "web-api"; it is also the
// simulator model its target names.
func (s *Scenario) Name() string { return s.name }

// Description returns the scenario's description.
func (s *Scenario) Description() string { return s.description }

// File returns the name of the file the scenario was parsed from.
func (s *Scenario) File() string { return s.file }

// Target returns the scenario's target, validated (a copy the caller may
// change).
func (s *Scenario) Target() target.Spec {
	b, err := json.Marshal(s.spec)
	if err != nil {
		panic(fmt.Sprintf("simulations: scenario %s: copy target: %v", s.name, err))
	}
	var spec target.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		panic(fmt.Sprintf("simulations: scenario %s: copy target: %v", s.name, err))
	}
	return spec
}

// Metrics returns the names of the scenario's metrics, sorted.
func (s *Scenario) Metrics() []string {
	out := make([]string, len(s.metrics))
	for i, m := range s.metrics {
		out[i] = m.name
	}
	return out
}

// Load returns the scenario's traffic pattern.
func (s *Scenario) Load() ScenarioLoad { return s.load }

// Drift returns how the scenario's optimum moves.
func (s *Scenario) Drift() ScenarioDrift { return s.drift }

// Faults returns the faults the scenario injects.
func (s *Scenario) Faults() ScenarioFaults { return s.faults }

// Operator returns how the scenario's operator answers approvals.
func (s *Scenario) Operator() Operator { return s.operator }

// Start returns when a campaign's first pass is requested.
func (s *Scenario) Start() time.Time { return s.schedule.Start }

// PassEvery returns the time between two pass requests.
func (s *Scenario) PassEvery() time.Duration { return s.schedule.Every }

// Scrape returns the interval between two samples of the scenario's
// service.
func (s *Scenario) Scrape() time.Duration { return s.scrape }

// Day returns the scenario day that contains t: whole days since the UTC
// day of the schedule's start (negative before it).
func (s *Scenario) Day(t time.Time) int64 {
	return floorDiv(t.Sub(s.startDay).Nanoseconds(), int64(24*time.Hour))
}

// NewService returns the scenario's simulated service for one campaign:
// its noise, telemetry gaps, noisy neighbours and actuator faults drawn
// from seed, its clock now. Its baseline starts as the target's current
// configuration, its timeline in memory.
func (s *Scenario) NewService(seed uint64, now func() time.Time) (SimulatedService, error) {
	return s.newService(seed, Options{Now: now})
}

// newService returns the scenario's *Service.
func (s *Scenario) newService(seed uint64, opts Options) (*Service, error) {
	metrics := make([]serviceMetric, len(s.metrics))
	for i, m := range s.metrics {
		metrics[i] = serviceMetric{name: m.name, noise: m.Noise, autocorr: m.Autocorr, rate: m.Ratio, canaryFactor: 1}
	}
	var f serviceFaults
	if g := s.faults.TelemetryGaps; g != nil {
		f.gapProbability, f.gapLength, f.gapNaN = g.Probability, g.Length, g.NaN
		if f.gapLength <= 0 {
			f.gapLength = s.scrape
		}
	}
	if nb := s.faults.NoisyNeighbour; nb != nil {
		f.neighbourProbability, f.neighbourFactor = nb.Probability, nb.Factor
		f.neighbourMetrics = map[int]bool{}
		for _, m := range nb.Metrics {
			f.neighbourMetrics[s.index[m]] = true
		}
	}
	if e := s.faults.ActuatorErrors; e != nil {
		f.errorProbability = e.Probability
	}
	if t := s.faults.ActuatorTimeouts; t != nil {
		f.timeoutProbability, f.timeoutDelay = t.Probability, t.Delay
	}
	return startService(serviceConfig{
		name:    s.spec.Name,
		space:   s.spec.Params,
		src:     scenarioSource{s},
		metrics: metrics,
		seed:    seed,
		scrape:  s.scrape,
		faults:  f,
		initial: s.spec.Params.Current(),
	}, opts, nil)
}

// scenarioSource is the truth of a scenario as its service samples it.
type scenarioSource struct{ s *Scenario }

func (src scenarioSource) bind(cfg models.Config) (truthAt, error) {
	s := src.s
	f := s.env.newFrame(s.lets)
	if err := s.setConfig(f, cfg); err != nil {
		return nil, err
	}
	return func(mi int, ts time.Time) (float64, error) {
		if err := s.setTime(f, ts); err != nil {
			return math.NaN(), err
		}
		return s.value(f, mi, s.Day(ts))
	}, nil
}

// Values returns the true value of every metric of cfg at the instant t:
// load, drift and the regression fault apply, the measurement faults do
// not.
func (s *Scenario) Values(cfg models.Config, t time.Time) (map[string]float64, error) {
	f := s.env.newFrame(s.lets)
	if err := s.setConfig(f, cfg); err != nil {
		return nil, fmt.Errorf("simulations: values of %s: %w", s.name, err)
	}
	if err := s.setTime(f, t); err != nil {
		return nil, fmt.Errorf("simulations: values of %s at %s: %w", s.name, t.UTC().Format(time.RFC3339), err)
	}
	out := make(map[string]float64, len(s.metrics))
	for i, m := range s.metrics {
		v, err := s.value(f, i, s.Day(t))
		if err != nil {
			return nil, fmt.Errorf("simulations: values of %s at %s: %w", s.name, t.UTC().Format(time.RFC3339), err)
		}
		out[m.name] = v
	}
	return out, nil
}

// setConfig puts cfg's knobs into f.
func (s *Scenario) setConfig(f *frame, cfg models.Config) error {
	if err := s.spec.Params.CheckConfig(cfg); err != nil {
		return err
	}
	for _, k := range s.knobs {
		v := cfg[k.param.Name]
		if k.param.Type == models.Categorical {
			f.str[k.slot] = v.String()
		} else {
			f.num[k.slot] = v.Float()
		}
	}
	return nil
}

// instant holds the time variables of one instant.
type instant struct{ load, hour, day, drift, ramp float64 }

// instantAt returns the time variables at t.
func (s *Scenario) instantAt(t time.Time) instant {
	load, ramp := s.load.at(t)
	u := t.UTC()
	day := float64(s.Day(t))
	return instant{
		load:  load,
		hour:  float64(u.Hour()) + float64(u.Minute())/60 + float64(u.Second())/3600 + float64(u.Nanosecond())/3.6e12,
		day:   day,
		drift: s.drift.PerDay * day,
		ramp:  ramp,
	}
}

// setTime puts the time variables at t into f, and the vars computed from
// them and the knobs already there.
func (s *Scenario) setTime(f *frame, t time.Time) error { return s.setInstant(f, s.instantAt(t)) }

// setInstant puts the time variables in into f, and the vars computed
// from them and the knobs already there.
func (s *Scenario) setInstant(f *frame, in instant) error {
	n := len(s.numeric)
	f.num[n], f.num[n+1], f.num[n+2], f.num[n+3], f.num[n+4] = in.load, in.hour, in.day, in.drift, in.ramp
	for _, v := range s.vars {
		x, err := v.expr.eval(f)
		if err != nil {
			return fmt.Errorf("var %s: %w", v.name, err)
		}
		f.num[v.slot] = x
	}
	return nil
}

// value evaluates metric mi with f's variables, on day, with the
// regression fault.
func (s *Scenario) value(f *frame, mi int, day int64) (float64, error) {
	m := &s.metrics[mi]
	v, err := m.expr.eval(f)
	if err != nil {
		return math.NaN(), fmt.Errorf("metric %s: %w", m.name, err)
	}
	if r := s.faults.Regression; r != nil && day >= int64(r.Day) && slices.Contains(r.Metrics, m.name) {
		v *= r.Factor
	}
	if m.Ratio {
		v = math.Min(1, v)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return v, fmt.Errorf("metric %s: the expression gives %v", m.name, v)
	}
	return v, nil
}
