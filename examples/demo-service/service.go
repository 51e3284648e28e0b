package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/passflow/passflow/webhook"
)

// The cohorts, as passflow's queries name them.
const (
	cohortBaseline = "baseline"
	cohortCanary   = "canary"
)

// What a request does, holding a worker throughout: it reads its key from
// the cohort's cache and, on a miss, calls the backend (backendMin to
// backendMax of waiting plus hashing a backendRow); then it does its own
// work (workMin to workMax of waiting, as on a database) and renders the
// answer (gc.go). A request that waits longer than queueTimeout for a
// worker fails with 503; backendErrorRate of backend calls fail with 502.
//
// At 50 requests/s and the default TTL a request holds a worker for about
// 70 ms, so about 3.5 workers are busy on average: 4 threads queue hard, 6
// barely, 32 never.
const (
	workMin          = 40 * time.Millisecond
	workMax          = 80 * time.Millisecond
	backendMin       = 20 * time.Millisecond
	backendMax       = 60 * time.Millisecond
	backendRow       = 8 << 10
	backendErrorRate = 0.002
	queueTimeout     = time.Second
)

// The traffic's keys: numKeys of them, drawn from a Zipf law of exponent
// zipfS, so that a few keys are hot and most are rarely asked for. At 50
// requests/s the steady miss ratio is about 0.68 at a 1 s TTL, 0.31 at 60 s
// and 0.06 at 3600 s (steady once the cache is a TTL old: after 5 minutes
// at 3600 s it is still about 0.15).
const (
	numKeys = 20000
	zipfS   = 1.1
)

// Cost units, which demo_cost_units_total accrues.
const (
	costPerThreadSecond = 1.0   // a reserved worker thread, times the cohort's traffic share
	costPerBackendCall  = 0.5   // a cache miss
	costPerCPUSecond    = 100.0 // measured compute
)

// accrueEvery is how often reserved capacity is charged; a change charges
// the old configuration up to its own time first.
const accrueEvery = 250 * time.Millisecond

// Options configure a Service.
type Options struct {
	// Baseline is the configuration all traffic runs before any change.
	Baseline Config
	// Regression stretches every wait of the canary cohort by 1+Regression:
	// a fault to inject, which passflow should catch.
	Regression float64
	// Seed fixes the routing, the waits and the backend's update schedule.
	Seed uint64
	// Registerer gets the service's metrics.
	Registerer prometheus.Registerer
}

// Service is the demo service: two cohorts, each with its own
// configuration, worker pool, cache and heap, and a router that sends each
// request to the canary with probability percent/100.
//
// A cohort's pool has its configuration's whole worker_threads whatever
// its share of the traffic (while its reserved capacity is charged by its
// share), and its cache sees only its share of the requests. So a small
// canary queues less than the same configuration would at 100% (too few
// threads show at the 100% stage), and hits its cache a little less than
// the baseline does with the same TTL (a canary starts cold, and warms
// slower).
type Service struct {
	m       *metrics
	cohorts map[string]*cohort

	mu          sync.Mutex // guards what follows
	base        Config
	canary      *Config // nil: no canary
	percent     float64 // the canary's share; 0 when canary is nil
	lastAccrual time.Time

	rngMu sync.Mutex
	rng   *rand.Rand
}

// NewService returns a service running opts.Baseline for all traffic.
func NewService(opts Options) (*Service, error) {
	if err := opts.Baseline.Validate(); err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	if opts.Regression <= -1 {
		return nil, fmt.Errorf("regression: expected more than -1, got %g", opts.Regression)
	}
	s := &Service{
		m:           newMetrics(opts.Registerer),
		base:        opts.Baseline,
		lastAccrual: time.Now(),
		rng:         rand.New(rand.NewPCG(opts.Seed, 0x5eed)),
	}
	b := backend{seed: opts.Seed}
	s.cohorts = map[string]*cohort{
		cohortBaseline: newCohort(cohortBaseline, opts.Baseline.WorkerThreads, 1, b, s.m),
		cohortCanary:   newCohort(cohortCanary, opts.Baseline.WorkerThreads, 1+opts.Regression, b, s.m),
	}
	s.m.setConfig(cohortBaseline, &s.base)
	s.m.setConfig(cohortCanary, nil)
	return s, nil
}

// newRand returns a generator for one request, seeded from the service's.
func (s *Service) newRand() *rand.Rand {
	s.rngMu.Lock()
	a, b := s.rng.Uint64(), s.rng.Uint64()
	s.rngMu.Unlock()
	return rand.New(rand.NewPCG(a, b))
}

// Outcome is one request's answer.
type Outcome struct {
	Code     int    `json:"-"`
	Cohort   string `json:"cohort"`
	Key      int    `json:"key"`
	Cache    string `json:"cache,omitempty"` // hit, stale or miss
	Version  int64  `json:"version,omitempty"`
	Checksum string `json:"checksum,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Handle serves one request for key (0 ≤ key < numKeys) and records it.
func (s *Service) Handle(ctx context.Context, key int) Outcome {
	start := time.Now()
	r := s.newRand()
	s.mu.Lock()
	c, cfg := s.cohorts[cohortBaseline], s.base
	if s.canary != nil && r.Float64()*100 < s.percent {
		c, cfg = s.cohorts[cohortCanary], *s.canary
	}
	s.mu.Unlock()
	out := c.serve(ctx, r, key, cfg)
	c.requests.WithLabelValues(strconv.Itoa(out.Code)).Inc()
	c.duration.Observe(time.Since(start).Seconds())
	return out
}

// Run charges reserved capacity every accrueEvery until ctx is done.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(accrueEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.mu.Lock()
			s.accrueLocked(now)
			s.mu.Unlock()
		}
	}
}

// accrueLocked charges each cohort's reserved threads, scaled by its
// traffic share, from the last accrual to now; s.mu is held.
func (s *Service) accrueLocked(now time.Time) {
	dt := now.Sub(s.lastAccrual).Seconds()
	if dt <= 0 {
		return
	}
	s.lastAccrual = now
	share := s.percent / 100
	s.cohorts[cohortBaseline].cost.Add(float64(s.base.WorkerThreads) * (1 - share) * dt * costPerThreadSecond)
	if s.canary != nil {
		s.cohorts[cohortCanary].cost.Add(float64(s.canary.WorkerThreads) * share * dt * costPerThreadSecond)
	}
}

// errNoCanary is a revert to a share above 0 with no canary to put back
// and no configuration to run it.
var errNoCanary = errors.New("no canary to put back: send the configuration it should run")

// Apply puts percent of the traffic on a canary running the baseline's
// configuration with knobs set; percent 0 removes the canary. It returns
// what the canary ran before and its share of the traffic then: nil and 0
// when there was no canary.
func (s *Service) Apply(knobs map[string]any, percent float64) (replaced *Config, replacedPercent float64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg, err := s.base.With(knobs)
	if err != nil {
		return nil, 0, err
	}
	replaced, replacedPercent = s.canary, s.percent
	s.setCanaryLocked(&cfg, percent)
	return replaced, replacedPercent, nil
}

// Revert puts the canary back to percent of the traffic, running the
// baseline's configuration with knobs set, or what it runs when knobs is
// empty; 0 removes it. It returns what the canary ran before and its share
// of the traffic then: nil and 0 when there was no canary.
func (s *Service) Revert(knobs map[string]any, percent float64) (replaced *Config, replacedPercent float64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	replaced, replacedPercent = s.canary, s.percent
	cfg := s.canary
	if len(knobs) > 0 && percent > 0 {
		c, err := s.base.With(knobs)
		if err != nil {
			return nil, 0, err
		}
		cfg = &c
	}
	if cfg == nil && percent > 0 {
		return nil, 0, errNoCanary
	}
	s.setCanaryLocked(cfg, percent)
	return replaced, replacedPercent, nil
}

// Promote makes the baseline's configuration with knobs set the baseline
// for all traffic, and removes the canary. It returns the baseline's
// previous configuration.
func (s *Service) Promote(knobs map[string]any) (replaced *Config, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg, err := s.base.With(knobs)
	if err != nil {
		return nil, err
	}
	s.accrueLocked(time.Now())
	old := s.base
	s.base = cfg
	s.cohorts[cohortBaseline].pool.resize(cfg.WorkerThreads)
	s.m.setConfig(cohortBaseline, &s.base)
	s.setCanaryLocked(nil, 0)
	return &old, nil
}

// State returns what each cohort runs and the canary's share.
func (s *Service) State() webhook.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := webhook.State{Baseline: s.base.Map(), Percent: s.percent}
	if s.canary != nil {
		st.Canary = s.canary.Map()
	}
	return st
}

// setCanaryLocked routes percent of the traffic to a canary running cfg;
// a nil cfg or percent 0 removes the canary and empties its cache. s.mu is
// held.
func (s *Service) setCanaryLocked(cfg *Config, percent float64) {
	s.accrueLocked(time.Now())
	c := s.cohorts[cohortCanary]
	if cfg == nil || percent == 0 {
		if s.canary != nil {
			c.cache.clear()
		}
		s.canary, s.percent = nil, 0
	} else {
		cp := *cfg
		s.canary, s.percent = &cp, percent
		c.pool.resize(cp.WorkerThreads)
	}
	s.m.setConfig(cohortCanary, s.canary)
	s.m.canaryPercent.Set(s.percent)
}

// cohort is one cohort's resources and its metrics.
type cohort struct {
	name    string
	slow    float64 // every wait is stretched by this factor
	pool    *pool
	cache   *cache
	heap    *heap
	backend backend

	requests     *prometheus.CounterVec // curried with the cohort: code
	duration     prometheus.Observer
	cost         prometheus.Counter
	hits         prometheus.Counter
	stale        prometheus.Counter
	backendCalls prometheus.Counter
	compute      prometheus.Counter
	pauses       prometheus.Counter
}

func newCohort(name string, threads int, slow float64, b backend, m *metrics) *cohort {
	busy, waiting := m.busy.WithLabelValues(name), m.waiting.WithLabelValues(name)
	return &cohort{
		name: name, slow: slow, backend: b,
		pool: newPool(threads, func(b, w int) {
			busy.Set(float64(b))
			waiting.Set(float64(w))
		}),
		cache:        newCache(),
		heap:         newHeap(),
		requests:     m.requests.MustCurryWith(prometheus.Labels{"cohort": name}),
		duration:     m.duration.WithLabelValues(name),
		cost:         m.cost.WithLabelValues(name),
		hits:         m.hits.WithLabelValues(name),
		stale:        m.stale.WithLabelValues(name),
		backendCalls: m.backendCalls.WithLabelValues(name),
		compute:      m.compute.WithLabelValues(name),
		pauses:       m.pauses.WithLabelValues(name),
	}
}

// errBackend is a backend call that failed.
var errBackend = errors.New("backend call failed")

// serve handles one request under cfg (see the constants above).
func (c *cohort) serve(ctx context.Context, r *rand.Rand, key int, cfg Config) Outcome {
	out := Outcome{Cohort: c.name, Key: key}
	if err := c.pool.acquire(ctx, queueTimeout); err != nil {
		out.Code, out.Error = codeOf(err), err.Error()
		return out
	}
	defer c.pool.release()

	now := time.Now()
	ttl := time.Duration(cfg.CacheTTL * float64(time.Second))
	if e, ok := c.cache.get(key, now, ttl); ok {
		c.hits.Inc()
		out.Cache, out.Version = "hit", e.version
		if e.version != c.backend.version(key, now) {
			c.stale.Inc()
			out.Cache = "stale"
		}
	} else {
		out.Cache = "miss"
		v, err := c.fetch(ctx, r, key)
		if err != nil {
			out.Code, out.Error = codeOf(err), err.Error()
			return out
		}
		out.Version = v
	}
	if err := sleep(ctx, c.stretch(uniform(r, workMin, workMax))); err != nil {
		out.Code, out.Error = codeOf(err), err.Error()
		return out
	}
	sum, cpu, paused := c.heap.render(cfg.GCMode, r.Uint64(), c.slow)
	c.charge(cpu)
	if paused {
		c.pauses.Inc()
	}
	out.Code, out.Checksum = 200, fmt.Sprintf("%08x", sum)
	return out
}

// fetch calls the backend for key's current value and caches it.
func (c *cohort) fetch(ctx context.Context, r *rand.Rand, key int) (int64, error) {
	c.backendCalls.Inc()
	c.cost.Add(costPerBackendCall)
	asked := time.Now()
	v := c.backend.version(key, asked)
	row := make([]byte, backendRow)
	fill(row, uint64(key)<<32^uint64(v))
	_ = mark(row)
	c.charge(time.Since(asked))
	if err := sleep(ctx, c.stretch(uniform(r, backendMin, backendMax))); err != nil {
		return 0, err
	}
	if r.Float64() < backendErrorRate {
		return 0, errBackend
	}
	c.cache.put(key, entry{fetched: asked, version: v})
	return v, nil
}

// charge accounts measured compute.
func (c *cohort) charge(d time.Duration) {
	c.compute.Add(d.Seconds())
	c.cost.Add(d.Seconds() * costPerCPUSecond)
}

func (c *cohort) stretch(d time.Duration) time.Duration {
	return time.Duration(float64(d) * c.slow)
}

// codeOf is the HTTP status code of a request that failed with err.
func codeOf(err error) int {
	switch {
	case errors.Is(err, errQueueTimeout):
		return 503
	case errors.Is(err, errBackend):
		return 502
	default: // the caller went away
		return 499
	}
}

func uniform(r *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

// sleep waits d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
