package simulations

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/webhook"
)

// Defaults of a simulator spec's zero fields, and the sampling limits.
const (
	// DefaultNoise is the relative standard deviation of one sample at full
	// traffic when the spec sets none: the target schema's default.
	DefaultNoise = target.DefaultSimulatorNoise
	// DefaultScrape is the interval between two samples when the spec sets
	// none: the target schema's default.
	DefaultScrape = time.Duration(target.DefaultSimulatorScrape)
	// MaxSamples is the most samples one query returns: a longer window is
	// sampled at a wider step, a multiple of the scrape interval.
	MaxSamples = 2000
	// MaxNoiseScale caps how much noisier a small cohort is than the whole
	// traffic: noise scales by 1/sqrt(share), at most by MaxNoiseScale
	// (reached at a 4% share).
	MaxNoiseScale = 5.0
)

// The types of the non-retryable application errors a Service returns,
// besides contract.ErrTypeInvalidChange for a change that can never be
// applied (an invalid configuration or percent, or an empty key).
const (
	// ErrTypeKeyReused marks a change whose idempotency key was already used
	// for a different change.
	ErrTypeKeyReused = "IdempotencyKeyReused"
	// ErrTypeInvalidQuery marks a telemetry query that can never succeed: an
	// unknown cohort or metric.
	ErrTypeInvalidQuery = "InvalidQuery"
)

// The types of the retryable application errors a Service returns when a
// scenario injects actuator faults (see ScenarioFaults).
const (
	// ErrTypeActuatorUnavailable marks a change the actuator did not
	// receive: nothing was applied, and a retry may succeed.
	ErrTypeActuatorUnavailable = "ActuatorUnavailable"
	// ErrTypeActuatorTimeout marks a change whose answer was lost: it was
	// applied (late), and a retry with the same key is a no-op.
	ErrTypeActuatorTimeout = "ActuatorTimeout"
)

// Options configure simulated services.
type Options struct {
	// StateDir, when set, keeps each service's event log in
	// <StateDir>/<target name>.events.jsonl (each event fsync'd), reloaded when
	// the service starts. Empty keeps the log in memory only.
	StateDir string
	// Now is the only clock the simulator reads; nil means time.Now.
	Now func() time.Time
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// EventKind is the kind of a change applied to a simulated service.
type EventKind string

// The kinds of change.
const (
	// EventCanary routes Percent of the traffic to a canary running Config
	// (Percent 0 removes the canary).
	EventCanary EventKind = "canary"
	// EventPromote makes Config the baseline and removes the canary.
	EventPromote EventKind = "promote"
)

// Event is one change applied to a simulated service, at Time.
type Event struct {
	Time    time.Time     `json:"time"`
	Key     string        `json:"key"`
	Kind    EventKind     `json:"kind"`
	Config  models.Config `json:"config,omitempty"`
	Percent float64       `json:"percent,omitempty"`
}

func (e Event) clone() Event {
	if e.Config != nil {
		e.Config = e.Config.Clone()
	}
	return e
}

// sameChange reports whether e and f ask for the same change, whatever their time.
func (e Event) sameChange(f Event) bool {
	return e.Key == f.Key && e.Kind == f.Kind && e.Percent == f.Percent && e.Config.Equal(f.Config)
}

// State is what a simulated service runs at one instant.
type State struct {
	// Baseline is the configuration of the traffic outside the canary.
	Baseline models.Config
	// Canary is the canary's configuration, nil when there is none.
	Canary models.Config
	// Percent is the canary's share of the traffic, 0–100.
	Percent float64
}

// share returns the cohort's share of the traffic in [0, 1] and its configuration.
func (st State) share(cohort string) (float64, models.Config) {
	p := st.Percent / 100
	if st.Canary == nil {
		p = 0
	}
	if cohort == activities.CohortCanary {
		return p, st.Canary
	}
	return 1 - p, st.Baseline
}

// apply returns st after e.
func (st State) apply(e Event) State {
	switch e.Kind {
	case EventCanary:
		if e.Percent == 0 {
			return State{Baseline: st.Baseline}
		}
		return State{Baseline: st.Baseline, Canary: e.Config, Percent: e.Percent}
	case EventPromote:
		return State{Baseline: e.Config}
	}
	return st
}

// Service is one simulated service: true metric values with noise, sampled
// for two cohorts that run configurations changing over a timeline of
// events. The truth comes from a built-in response surface (NewService) or
// from a scenario (Scenario.NewService), which may also vary it over time
// and inject faults. It implements activities.TelemetrySource and
// activities.Actuator and is safe for concurrent use.
type Service struct {
	name    string
	space   models.Space
	model   *Model // nil for a scenario's service
	src     truthSource
	metrics []serviceMetric
	index   map[string]int
	seed    uint64
	scrape  time.Duration
	faults  serviceFaults
	initial models.Config
	now     func() time.Time
	log     *eventLog // nil without a state directory

	mu       sync.Mutex
	events   []Event        // in time order
	byKey    map[string]int // index in events
	bound    map[string]truthAt
	attempts map[string]int // actuator calls per key
}

var (
	_ activities.TelemetrySource = (*Service)(nil)
	_ activities.Actuator        = (*Service)(nil)
)

// truthSource is the truth a Service samples.
type truthSource interface {
	// bind returns the true values of the valid configuration cfg. The
	// function it returns is called with the service's lock held, never
	// concurrently.
	bind(cfg models.Config) (truthAt, error)
}

// truthAt returns metric mi's true (noise-free) value at ts.
type truthAt func(mi int, ts time.Time) (float64, error)

// serviceMetric is how a Service samples one metric.
type serviceMetric struct {
	name string
	// noise is the relative standard deviation of one sample at full
	// traffic; autocorr the AR(1) coefficient of consecutive samples'
	// noise (0: independent).
	noise, autocorr float64
	// rate metrics are fractions: samples are capped at 1.
	rate bool
	// canaryFactor multiplies the canary cohort's values: the simulator
	// spec's injected regression; 1 for none.
	canaryFactor float64
}

// serviceFaults are the measurement and actuator faults a Service injects.
// The zero value injects none.
type serviceFaults struct {
	// gapProbability is the probability that a gapLength slot of a
	// cohort's telemetry is missing; gapNaN returns its samples as NaN
	// instead of leaving them out.
	gapProbability float64
	gapLength      time.Duration
	gapNaN         bool
	// neighbourProbability is the probability that, in a given hour, a
	// noisy neighbour multiplies a cohort's neighbourMetrics by
	// neighbourFactor.
	neighbourProbability float64
	neighbourFactor      float64
	neighbourMetrics     map[int]bool
	// errorProbability is the probability that an actuator call fails
	// before it is applied; timeoutProbability that it is applied
	// timeoutDelay late and its answer is lost.
	errorProbability   float64
	timeoutProbability float64
	timeoutDelay       time.Duration
}

// serviceConfig is what a Service is built from.
type serviceConfig struct {
	name    string
	space   models.Space
	model   *Model
	src     truthSource
	metrics []serviceMetric
	seed    uint64
	scrape  time.Duration
	faults  serviceFaults
	initial models.Config
}

// NewService returns the simulated service of spec, whose
// Telemetry.Simulator block sets the model, seed, noise, scrape interval and
// injected regression. Its baseline starts as spec.Params.Current(); with
// opts.StateDir set it continues the timeline recorded there.
func NewService(spec target.Spec, opts Options) (*Service, error) {
	return newService(spec, opts, nil)
}

// newService is NewService, starting an in-memory log from prior.
func newService(spec target.Spec, opts Options, prior []Event) (*Service, error) {
	op := "simulations: start " + spec.Name
	sim := spec.Telemetry.Simulator
	switch {
	case spec.Name == "":
		return nil, errors.New("simulations: start: target has no name")
	case sim == nil:
		return nil, fmt.Errorf("simulations: target %s does not use the simulator", spec.Name)
	case sim.Noise < 0 || math.IsNaN(sim.Noise) || math.IsInf(sim.Noise, 0):
		return nil, fmt.Errorf("%s: telemetry.simulator.noise: expected >= 0, got %v", op, sim.Noise)
	case sim.Scrape < 0:
		return nil, fmt.Errorf("%s: telemetry.simulator.scrape: expected >= 0, got %v", op, sim.Scrape)
	case sim.Regression < -1 || math.IsNaN(sim.Regression) || math.IsInf(sim.Regression, 0):
		return nil, fmt.Errorf("%s: telemetry.simulator.regression: expected >= -1, got %v", op, sim.Regression)
	}
	model, err := NewModel(sim.Model, spec.Params, sim.Seed)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	noise := sim.Noise
	if noise == 0 {
		noise = DefaultNoise
	}
	scrape := time.Duration(sim.Scrape)
	if scrape == 0 {
		scrape = DefaultScrape
	}
	metrics := make([]serviceMetric, len(model.metrics))
	for i, mi := range model.metrics {
		metrics[i] = serviceMetric{name: mi.name, noise: noise, rate: mi.rate, canaryFactor: 1}
		if mi.faultable {
			metrics[i].canaryFactor += sim.Regression
		}
	}
	return startService(serviceConfig{
		name:    spec.Name,
		space:   spec.Params,
		model:   model,
		src:     modelSource{model},
		metrics: metrics,
		seed:    sim.Seed,
		scrape:  scrape,
		initial: spec.Params.Current(),
	}, opts, prior)
}

// modelSource is the truth of a built-in response surface: the same at
// every instant.
type modelSource struct{ m *Model }

func (s modelSource) bind(cfg models.Config) (truthAt, error) {
	t, err := s.m.truth(cfg)
	if err != nil {
		return nil, err
	}
	return func(mi int, _ time.Time) (float64, error) { return t[mi], nil }, nil
}

// startService returns the service c describes, its timeline continued
// from prior, or from the log in opts.StateDir.
func startService(c serviceConfig, opts Options, prior []Event) (*Service, error) {
	op := "simulations: start " + c.name
	if err := c.space.CheckConfig(c.initial); err != nil {
		return nil, fmt.Errorf("%s: current configuration: %w", op, err)
	}
	s := &Service{
		name:     c.name,
		space:    c.space,
		model:    c.model,
		src:      c.src,
		metrics:  c.metrics,
		index:    make(map[string]int, len(c.metrics)),
		seed:     c.seed,
		scrape:   c.scrape,
		faults:   c.faults,
		initial:  c.initial,
		now:      opts.now,
		byKey:    map[string]int{},
		bound:    map[string]truthAt{},
		attempts: map[string]int{},
	}
	for i, m := range c.metrics {
		s.index[m.name] = i
	}
	if opts.StateDir != "" {
		var err error
		s.log, prior, err = openEventLog(opts.StateDir, c.name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	for _, e := range prior {
		s.add(e)
	}
	return s, nil
}

// Name returns the name of the target the service simulates.
func (s *Service) Name() string { return s.name }

// Model returns the service's response surface, to read true values from;
// nil for a scenario's service (see Scenario.Values).
func (s *Service) Model() *Model { return s.model }

// Metrics returns the names of the metrics the service measures.
func (s *Service) Metrics() []string {
	out := make([]string, len(s.metrics))
	for i, m := range s.metrics {
		out[i] = m.name
	}
	return out
}

// Applied returns a copy of the event log, oldest first: every change the
// service applied, each once.
func (s *Service) Applied() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.refreshLocked() // what this process knows stands if the log cannot be read
	out := make([]Event, len(s.events))
	for i, e := range s.events {
		out[i] = e.clone()
	}
	return out
}

// State returns what the service ran at time at, after every event recorded
// at or before it.
func (s *Service) State(at time.Time) State {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.refreshLocked() // what this process knows stands if the log cannot be read
	st := State{Baseline: s.initial}
	for _, e := range s.events {
		if e.Time.After(at) {
			break
		}
		st = st.apply(e)
	}
	st.Baseline = st.Baseline.Clone()
	if st.Canary != nil {
		st.Canary = st.Canary.Clone()
	}
	return st
}

// SetCanary routes percent (0–100) of the traffic to a canary running
// config, from now on; percent 0 removes the canary (config may then be nil).
// A repeated key is a no-op; an invalid config or percent, or a key already
// used for a different change, is a non-retryable error.
func (s *Service) SetCanary(ctx context.Context, key string, config models.Config, percent float64) error {
	op := "simulations: set canary of " + s.name
	if math.IsNaN(percent) || percent < 0 || percent > 100 {
		return invalidChange(op, fmt.Errorf("percent: expected a value in [0, 100], got %v", percent))
	}
	if percent > 0 || config != nil {
		if err := s.space.CheckConfig(config); err != nil {
			return invalidChange(op, err)
		}
	}
	var cfg models.Config
	if percent > 0 {
		cfg = config.Clone()
	}
	return s.record(ctx, op, Event{Key: key, Kind: EventCanary, Config: cfg, Percent: percent})
}

// Promote makes config the baseline for all traffic, from now on, and
// removes the canary. A repeated key is a no-op; an invalid config, or a key
// already used for a different change, is a non-retryable error.
func (s *Service) Promote(ctx context.Context, key string, config models.Config) error {
	op := "simulations: promote on " + s.name
	if err := s.space.CheckConfig(config); err != nil {
		return invalidChange(op, err)
	}
	return s.record(ctx, op, Event{Key: key, Kind: EventPromote, Config: config.Clone()})
}

// Change makes ch (activities.Actuator): apply and revert set the canary,
// promote the baseline. It returns what the changed cohort ran before the
// change, the first time and on a repeat of its key alike.
func (s *Service) Change(ctx context.Context, ch activities.Change) (activities.Replaced, error) {
	before, err := s.stateBefore(ctx, ch.Key)
	if err != nil {
		return activities.Replaced{}, err
	}
	switch ch.Action {
	case webhook.ActionApply, webhook.ActionRevert:
		replaced := activities.Replaced{Config: before.Canary}
		if before.Canary != nil {
			replaced.Percent = before.Percent
		}
		return replaced, s.SetCanary(ctx, ch.Key, ch.Config, ch.Percent)
	case webhook.ActionPromote:
		return activities.Replaced{Config: before.Baseline}, s.Promote(ctx, ch.Key, ch.Config)
	}
	return activities.Replaced{}, invalidChange("simulations: change "+s.name, fmt.Errorf("action: expected apply, revert or promote, got %q", ch.Action))
}

// stateBefore is the service's state just before the change keyed key, or
// now when no change has that key.
func (s *Service) stateBefore(ctx context.Context, key string) (State, error) {
	if err := ctx.Err(); err != nil {
		return State{}, fmt.Errorf("simulations: state of %s: %w", s.name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refreshLocked(); err != nil {
		return State{}, fmt.Errorf("simulations: state of %s: %w", s.name, err)
	}
	st := State{Baseline: s.initial}
	for _, e := range s.events {
		if e.Key == key {
			break
		}
		st = st.apply(e)
	}
	st.Baseline = st.Baseline.Clone()
	if st.Canary != nil {
		st.Canary = st.Canary.Clone()
	}
	return st, nil
}

// Baseline returns the configuration the service runs outside any canary,
// after every change recorded so far.
func (s *Service) Baseline(ctx context.Context) (models.Config, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("simulations: baseline of %s: %w", s.name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refreshLocked(); err != nil {
		return nil, fmt.Errorf("simulations: baseline of %s: %w", s.name, err)
	}
	st := State{Baseline: s.initial}
	for _, e := range s.events {
		st = st.apply(e)
	}
	return st.Baseline.Clone(), nil
}

// record appends e, stamped now, to the event log unless its key is known.
func (s *Service) record(ctx context.Context, op string, e Event) error {
	if e.Key == "" {
		return invalidChange(op, errors.New("empty idempotency key"))
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refreshLocked(); err != nil { // another worker may have made this change
		return fmt.Errorf("%s: %w", op, err)
	}
	// Injected faults are drawn per key and attempt: a retry draws afresh.
	s.attempts[e.Key]++
	attempt := s.attempts[e.Key]
	if p := s.faults.errorProbability; p > 0 && s.draw("actuator-error", e.Key, attempt) < p {
		return temporal.NewApplicationError(
			fmt.Sprintf("%s: the actuator is unavailable (injected fault, attempt %d of key %q); nothing was applied", op, attempt, e.Key),
			ErrTypeActuatorUnavailable)
	}
	if i, ok := s.byKey[e.Key]; ok {
		if prev := s.events[i]; !prev.sameChange(e) {
			return temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("%s: key %q was already used at %s for a different change (%s %v%% %s)",
					op, e.Key, prev.Time.Format(time.RFC3339), prev.Kind, prev.Percent, prev.Config),
				ErrTypeKeyReused, nil)
		}
		return nil
	}
	// Round(0) drops the monotonic reading; the timeline never goes back.
	e.Time = s.now().Round(0).UTC()
	var lost error
	if p := s.faults.timeoutProbability; p > 0 && s.draw("actuator-timeout", e.Key, attempt) < p {
		e.Time = e.Time.Add(s.faults.timeoutDelay)
		lost = temporal.NewApplicationError(
			fmt.Sprintf("%s: no answer within %s (injected fault, attempt %d of key %q); the change lands %s late",
				op, s.faults.timeoutDelay, attempt, e.Key, s.faults.timeoutDelay),
			ErrTypeActuatorTimeout)
	}
	if n := len(s.events); n > 0 && e.Time.Before(s.events[n-1].Time) {
		e.Time = s.events[n-1].Time
	}
	if s.log == nil {
		s.add(e)
		return lost
	}
	if err := s.log.append(e); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := s.refreshLocked(); err != nil { // reads e back, after any other process's events
		return fmt.Errorf("%s: %w", op, err)
	}
	return lost
}

// draw returns a uniform number in [0, 1) that is a pure function of the
// service's seed, a label, a key and an attempt.
func (s *Service) draw(label, key string, attempt int) float64 {
	r := newStream(s.seed, label, key, strconv.Itoa(attempt))
	return r.float()
}

// add appends e to the timeline unless its key is known; time never goes
// back.
func (s *Service) add(e Event) {
	if _, dup := s.byKey[e.Key]; dup {
		return
	}
	if n := len(s.events); n > 0 && e.Time.Before(s.events[n-1].Time) {
		e.Time = s.events[n-1].Time
	}
	s.byKey[e.Key] = len(s.events)
	s.events = append(s.events, e.clone())
}

// refreshLocked adds the events other processes sharing the state directory
// appended to the log. s.mu is held.
func (s *Service) refreshLocked() error {
	if s.log == nil {
		return nil
	}
	events, err := s.log.readNew()
	if err != nil {
		return err
	}
	for _, e := range events {
		s.add(e)
	}
	return nil
}

// invalidChange returns err as a non-retryable InvalidChange error of op.
func invalidChange(op string, err error) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v", op, err), contract.ErrTypeInvalidChange, nil)
}

// Samples returns the metric of the cohort at every sample time in
// [q.From, q.To) up to now: one per scrape interval on a grid aligned to the
// Unix epoch (a wider multiple when the window [q.From, q.To) would yield
// more than MaxSamples), each following the configuration the cohort ran at that
// time, times lognormal noise that is a pure function of (seed, cohort,
// metric, sample time). Times when the cohort has no traffic yield no sample.
// A scenario's service also follows the truth's changes over time (load,
// drift, a regression) and its telemetry faults: a missing slot yields no
// sample (or NaN), never a zero.
func (s *Service) Samples(ctx context.Context, q activities.Query) ([]float64, error) {
	op := fmt.Sprintf("simulations: samples of %s %s %s", s.name, q.Cohort, q.Metric)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if q.Cohort != activities.CohortBaseline && q.Cohort != activities.CohortCanary {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: unknown cohort %q: expected %s or %s", op, q.Cohort, activities.CohortBaseline, activities.CohortCanary),
			ErrTypeInvalidQuery, nil)
	}
	mi, ok := s.index[q.Metric]
	if !ok {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: unknown metric: expected one of %v", op, s.Metrics()),
			ErrTypeInvalidQuery, nil)
	}
	info := s.metrics[mi]
	out := []float64{}
	if !q.From.Before(q.To) {
		return out, nil
	}
	// The step depends on the query alone, so what a query returns now is a
	// prefix of what it returns once its window has passed.
	step := s.scrape
	if n := ceilDiv(int64(q.To.Sub(q.From)), int64(s.scrape)); n > MaxSamples {
		step *= time.Duration(ceilDiv(n, MaxSamples))
	}
	to := q.To
	if now := s.now(); to.After(now) {
		to = now.Add(1) // sample times up to and including now
	}
	noise := newNoise(noisePrefix(s.seed, q.Cohort, q.Metric), info.autocorr, s.scrape)
	factor := 1.0
	if q.Cohort == activities.CohortCanary {
		factor = info.canaryFactor
	}
	f := s.faults
	gapPrefix := noisePrefix(s.seed, q.Cohort, "\x00gap")
	neighbourPrefix := noisePrefix(s.seed, q.Cohort, "\x00neighbour")
	neighbour := f.neighbourProbability > 0 && f.neighbourMetrics[mi]

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refreshLocked(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	st, next := State{Baseline: s.initial}, 0
	var truth truthAt // the cohort's configuration's truth, bound once per change
	for ts := alignUp(q.From, step); ts.Before(to); ts = ts.Add(step) {
		for ; next < len(s.events) && !s.events[next].Time.After(ts); next++ {
			st, truth = st.apply(s.events[next]), nil
		}
		share, cfg := st.share(q.Cohort)
		if share <= 0 {
			continue
		}
		z := noise.at(ts)
		if f.gapProbability > 0 && uniformAt(gapPrefix, floorDiv(ts.UnixNano(), int64(f.gapLength))) < f.gapProbability {
			if f.gapNaN {
				out = append(out, math.NaN())
			}
			continue
		}
		if truth == nil {
			var err error
			if truth, err = s.truthLocked(cfg); err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
		}
		tv, err := truth(mi, ts)
		if err != nil {
			return nil, fmt.Errorf("%s: at %s: %w", op, ts.UTC().Format(time.RFC3339), err)
		}
		k := factor
		if neighbour && uniformAt(neighbourPrefix, floorDiv(ts.Unix(), 3600)) < f.neighbourProbability {
			k *= f.neighbourFactor
		}
		sd := info.noise * math.Min(1/math.Sqrt(share), MaxNoiseScale)
		ls := math.Sqrt(math.Log1p(sd * sd)) // lognormal with relative sd sd and the true mean
		v := tv * k * math.Exp(ls*z-ls*ls/2)
		if info.rate {
			v = math.Min(1, v)
		}
		out = append(out, v)
	}
	return out, nil
}

// truthLocked returns the true values of cfg, bound once; s.mu must be held.
func (s *Service) truthLocked(cfg models.Config) (truthAt, error) {
	k := cfg.String()
	if t, ok := s.bound[k]; ok {
		return t, nil
	}
	t, err := s.src.bind(cfg)
	if err != nil {
		return nil, err
	}
	s.bound[k] = t
	return t, nil
}

// arBlock is how many scrape intervals an AR(1) noise chain runs before it
// restarts from a fresh stationary draw: long enough for any correlation
// below 0.97 to have died out, short enough that a query starts its chain
// cheaply.
const arBlock = 256

// noise draws the standard normal noise of one (seed, cohort, metric): each
// sample's own draw, or, with autocorrelation phi, an AR(1) chain over the
// scrape grid, z_k = phi·z_{k−1} + √(1−phi²)·ε_k, restarted every arBlock
// ticks so that it stays a pure function of the sample time.
type noise struct {
	prefix uint64
	phi    float64
	scrape int64
	tick   int64 // tick of z; valid when started
	z      float64
	start  bool
}

func newNoise(prefix uint64, phi float64, scrape time.Duration) *noise {
	return &noise{prefix: prefix, phi: phi, scrape: int64(scrape)}
}

// at returns the noise at ts, a time on the scrape grid; calls must come in
// increasing time for the chain to be cheap.
func (n *noise) at(ts time.Time) float64 {
	if n.phi == 0 {
		return noiseAt(n.prefix, ts)
	}
	k := floorDiv(ts.UnixNano(), n.scrape)
	block := floorDiv(k, arBlock) * arBlock
	if !n.start || n.tick < block || n.tick > k {
		n.tick, n.z, n.start = block, noiseAt(n.prefix, time.Unix(0, block*n.scrape)), true
	}
	c := math.Sqrt(1 - n.phi*n.phi)
	for n.tick < k {
		n.tick++
		n.z = n.phi*n.z + c*noiseAt(n.prefix, time.Unix(0, n.tick*n.scrape))
	}
	return n.z
}

// uniformAt returns a uniform number in [0, 1) that is a pure function of
// prefix and i.
func uniformAt(prefix uint64, i int64) float64 {
	return float64(splitmix(prefix^splitmix(uint64(i)))>>11) / (1 << 53)
}

// floorDiv returns ⌊a/b⌋ for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// ceilDiv returns ⌈a/b⌉ for a >= 0 and b > 0.
func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// alignUp returns the first multiple of step since the Unix epoch at or after t.
func alignUp(t time.Time, step time.Duration) time.Time {
	ns := t.UnixNano()
	r := ns % int64(step)
	if r < 0 {
		r += int64(step)
	}
	if r != 0 {
		ns += int64(step) - r
	}
	return time.Unix(0, ns)
}

// noisePrefix hashes the parts of a sample's identity that a query fixes.
func noisePrefix(seed uint64, cohort, metric string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	h.Write([]byte(cohort))
	h.Write([]byte{0})
	h.Write([]byte(metric))
	return h.Sum64()
}

// noiseAt returns the standard normal noise of the sample at ts.
func noiseAt(prefix uint64, ts time.Time) float64 {
	k := splitmix(prefix ^ splitmix(uint64(ts.UnixNano())))
	return (&stream{pcg: newPCG(k)}).normal()
}
