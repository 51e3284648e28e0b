package simulations

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
)

func ptr[T any](v T) *T { return &v }

// t0 is the fake clock's start, on a whole second.
var t0 = time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func testSpace() models.Space {
	return models.Space{
		{Name: "worker_threads", Type: models.Int, Min: 4, Max: 256, Log: true, Current: ptr(models.Num(32))},
		{Name: "cache_ttl_s", Type: models.Float, Min: 1, Max: 3600, Log: true, Current: ptr(models.Num(60))},
		{Name: "gc_mode", Type: models.Categorical, Choices: []string{"throughput", "low-latency"}, Current: ptr(models.Str("throughput"))},
	}
}

// candidate is a valid configuration of testSpace that differs from the
// current one, with less capacity (higher latency).
func candidate() models.Config {
	return models.Config{"worker_threads": models.Num(8), "cache_ttl_s": models.Num(5), "gc_mode": models.Str("low-latency")}
}

func testSpec(name string, sim target.Simulator) target.Spec {
	return target.Spec{
		Name:      name,
		Params:    testSpace(),
		Objective: target.Objective{Metric: MetricCost, Goal: models.Minimize},
		Telemetry: target.Telemetry{Simulator: &sim},
		Actuator:  target.Actuator{Simulator: &target.Simulator{}},
	}
}

func newTestService(t *testing.T, sim target.Simulator, opts Options) (*Service, *fakeClock) {
	t.Helper()
	clock := newClock()
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	s, err := NewService(testSpec("checkout-api", sim), opts)
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	return s, clock
}

func samples(t *testing.T, s *Service, metric, cohort string, from, to time.Time) []float64 {
	t.Helper()
	xs, err := s.Samples(context.Background(), activities.Query{Metric: metric, Cohort: cohort, From: from, To: to})
	if err != nil {
		t.Fatalf("Samples(%s, %s, %s, %s): %v", metric, cohort, from, to, err)
	}
	return xs
}

func truth(t *testing.T, m *Model, c models.Config, metric string) float64 {
	t.Helper()
	v, err := m.Truth(c)
	if err != nil {
		t.Fatalf("Truth(%s): %v", c, err)
	}
	return v[metric]
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// logSD is the standard deviation of the logarithms of xs.
func logSD(xs []float64) float64 {
	var s, ss float64
	for _, x := range xs {
		l := math.Log(x)
		s += l
		ss += l * l
	}
	n := float64(len(xs))
	return math.Sqrt((ss - s*s/n) / (n - 1))
}

// near reports whether got is within rel (relative) of want.
func near(got, want, rel float64) bool { return math.Abs(got-want) <= rel*math.Abs(want) }

// appErrType returns the type of a non-retryable application error, or "".
func appErrType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.NonRetryable() {
		return ae.Type()
	}
	return ""
}
