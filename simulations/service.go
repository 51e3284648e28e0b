package simulations

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
)

// Defaults of a simulator spec's zero fields, and the sampling limits.
const (
	// DefaultNoise is the relative standard deviation of one sample at full
	// traffic when the spec sets none.
	DefaultNoise = 0.05
	// DefaultScrape is the interval between two samples when the spec sets none.
	DefaultScrape = time.Second
	// MaxSamples is the most samples one query returns: a longer window is
	// sampled at a wider step, a multiple of the scrape interval.
	MaxSamples = 2000
	// MaxNoiseScale caps how much noisier a small cohort is than the whole
	// traffic: noise scales by 1/sqrt(share), at most by MaxNoiseScale
	// (reached at a 4% share).
	MaxNoiseScale = 5.0
)

// The types of the non-retryable application errors a Service returns.
const (
	// ErrTypeInvalidChange marks a change that can never be applied: an
	// invalid configuration or percent, or an empty key.
	ErrTypeInvalidChange = "InvalidChange"
	// ErrTypeKeyReused marks a change whose idempotency key was already used
	// for a different change.
	ErrTypeKeyReused = "IdempotencyKeyReused"
	// ErrTypeInvalidQuery marks a telemetry query that can never succeed: an
	// unknown cohort or metric.
	ErrTypeInvalidQuery = "InvalidQuery"
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

// Service is one simulated service: a response surface with noise whose two
// cohorts run configurations that change over a timeline of events. It
// implements activities.TelemetrySource and activities.Actuator and is safe
// for concurrent use.
type Service struct {
	name       string
	model      *Model
	seed       uint64
	noise      float64
	scrape     time.Duration
	regression float64
	initial    models.Config
	now        func() time.Time
	log        *eventLog // nil without a state directory

	mu     sync.Mutex
	events []Event        // in time order
	byKey  map[string]int // index in events
	truths map[string][]float64
}

var (
	_ activities.TelemetrySource = (*Service)(nil)
	_ activities.Actuator        = (*Service)(nil)
)

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
	initial := spec.Params.Current()
	if err := spec.Params.CheckConfig(initial); err != nil {
		return nil, fmt.Errorf("%s: current configuration: %w", op, err)
	}
	s := &Service{
		name:       spec.Name,
		model:      model,
		seed:       sim.Seed,
		noise:      sim.Noise,
		scrape:     time.Duration(sim.Scrape),
		regression: sim.Regression,
		initial:    initial,
		now:        opts.now,
		byKey:      map[string]int{},
		truths:     map[string][]float64{},
	}
	if s.noise == 0 {
		s.noise = DefaultNoise
	}
	if s.scrape == 0 {
		s.scrape = DefaultScrape
	}
	if opts.StateDir != "" {
		s.log, prior, err = openEventLog(opts.StateDir, spec.Name)
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

// Model returns the service's response surface, to read true values from.
func (s *Service) Model() *Model { return s.model }

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
		if err := s.model.space.CheckConfig(config); err != nil {
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
	if err := s.model.space.CheckConfig(config); err != nil {
		return invalidChange(op, err)
	}
	return s.record(ctx, op, Event{Key: key, Kind: EventPromote, Config: config.Clone()})
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
	if n := len(s.events); n > 0 && e.Time.Before(s.events[n-1].Time) {
		e.Time = s.events[n-1].Time
	}
	if s.log == nil {
		s.add(e)
		return nil
	}
	if err := s.log.append(e); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := s.refreshLocked(); err != nil { // reads e back, after any other process's events
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
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
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v", op, err), ErrTypeInvalidChange, nil)
}

// Samples returns the metric of the cohort at every sample time in
// [q.From, q.To) up to now: one per scrape interval on a grid aligned to the
// Unix epoch (a wider multiple when the window [q.From, q.To) would yield
// more than MaxSamples), each following the configuration the cohort ran at that
// time, times lognormal noise that is a pure function of (seed, cohort,
// metric, sample time). Times when the cohort has no traffic yield no sample.
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
	mi, ok := s.model.index[q.Metric]
	if !ok {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: unknown metric: expected one of %v", op, s.model.Metrics()),
			ErrTypeInvalidQuery, nil)
	}
	info := s.model.metrics[mi]
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
	prefix := noisePrefix(s.seed, q.Cohort, q.Metric)
	factor := 1.0
	if q.Cohort == activities.CohortCanary && info.faultable {
		factor += s.regression
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refreshLocked(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	st, next := State{Baseline: s.initial}, 0
	for ts := alignUp(q.From, step); ts.Before(to); ts = ts.Add(step) {
		for ; next < len(s.events) && !s.events[next].Time.After(ts); next++ {
			st = st.apply(s.events[next])
		}
		share, cfg := st.share(q.Cohort)
		if share <= 0 {
			continue
		}
		truth, err := s.truthLocked(cfg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		sd := s.noise * math.Min(1/math.Sqrt(share), MaxNoiseScale)
		ls := math.Sqrt(math.Log1p(sd * sd)) // lognormal with relative sd sd and the true mean
		v := truth[mi] * factor * math.Exp(ls*noiseAt(prefix, ts)-ls*ls/2)
		if info.rate {
			v = math.Min(1, v)
		}
		out = append(out, v)
	}
	return out, nil
}

// truthLocked returns the true metrics of cfg, cached; s.mu must be held.
func (s *Service) truthLocked(cfg models.Config) ([]float64, error) {
	k := cfg.String()
	if t, ok := s.truths[k]; ok {
		return t, nil
	}
	t, err := s.model.truth(cfg)
	if err != nil {
		return nil, err
	}
	s.truths[k] = t
	return t, nil
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
