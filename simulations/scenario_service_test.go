package simulations

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
)

// flat is a scenario whose truth does not move during a day (no daily
// cycle, no drift), for statistical checks of its service.
const flat = `name: flat
target:
  params:
    - {name: threads, type: int, min: 4, max: 64, current: 16}
  objective: {metric: cost, goal: minimize}
  constraints:
    - {metric: latency_ms, max: 200}
  risk: {approvers: [alice]}
  telemetry: {simulator: {scrape: 10s}}
metrics:
  latency_ms: {expr: "50 / (1 - min(4 / threads, 0.95))", noise: 0.1, autocorr: %AUTOCORR%}
  cost: {expr: threads, noise: 0.05}
faults: %FAULTS%
schedule: {start: "2026-03-01T02:00:00Z"}
`

// flatScenario parses flat with the autocorrelation and faults given.
func flatScenario(t *testing.T, autocorr, faults string) *Scenario {
	t.Helper()
	data := replaceOnce(t, replaceOnce(t, flat, "%AUTOCORR%", autocorr), "%FAULTS%", faults)
	s, err := ParseScenario("flat.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// scenarioService starts s's service with seed, on a fake clock at t0.
func scenarioService(t *testing.T, s *Scenario, seed uint64) (*Service, *fakeClock) {
	t.Helper()
	clock := newClock()
	svc, err := s.NewService(seed, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	return svc.(*Service), clock
}

func lag1(xs []float64) float64 {
	ls := make([]float64, len(xs))
	for i, x := range xs {
		ls[i] = math.Log(x)
	}
	m := mean(ls)
	var num, den float64
	for i := range ls {
		den += (ls[i] - m) * (ls[i] - m)
		if i > 0 {
			num += (ls[i] - m) * (ls[i-1] - m)
		}
	}
	return num / den
}

// TestScenarioServiceDeterministic checks that the same seed gives the
// same samples, that another seed gives others, and that no sample lies
// after now.
func TestScenarioServiceDeterministic(t *testing.T) {
	ctx := context.Background()
	s := mustScenario(t, "web-api")
	run := func(seed uint64) [][]float64 {
		svc, clock := scenarioService(t, s, seed)
		clock.Advance(10 * time.Minute)
		cand := s.Target().Params.Current()
		cand["heap_mb"] = models.Num(1024)
		if err := svc.SetCanary(ctx, "k1", cand, 5); err != nil {
			t.Fatal(err)
		}
		to := clock.Advance(30 * time.Minute)
		var out [][]float64
		for _, m := range s.Metrics() {
			for _, c := range []string{base, canary} {
				// The window runs an hour past now: nothing after now.
				xs := samples(t, svc, m, c, t0, to.Add(time.Hour))
				out = append(out, xs)
			}
		}
		return out
	}
	a, b, c := run(1), run(1), run(2)
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			t.Errorf("series %d differs between two services with one seed", i)
		}
		if slices.Equal(a[i], c[i]) {
			t.Errorf("series %d is the same with another seed", i)
		}
	}
	// 40 minutes of baseline at a 15 s scrape, up to now included; the
	// canary from its start, 10 minutes in.
	if n := len(a[0]); n != 40*4+1 {
		t.Errorf("%d baseline samples over 40 minutes, want %d (none after now)", n, 40*4+1)
	}
	if n := len(a[1]); n != 30*4+1 {
		t.Errorf("%d canary samples over its 30 minutes, want %d", n, 30*4+1)
	}
}

// TestScenarioServiceNoise checks the noise of a scenario's samples: the
// relative SD of the metric at full traffic, 1/√share more on a small
// cohort, around the true value, with the AR(1) correlation the file sets.
func TestScenarioServiceNoise(t *testing.T) {
	ctx := context.Background()
	for _, phi := range []float64{0, 0.6} {
		s := flatScenario(t, ftoa(phi), "{}")
		svc, clock := scenarioService(t, s, 5)
		cfg := s.Target().Params.Current()
		if err := svc.SetCanary(ctx, "k", cfg, 5); err != nil {
			t.Fatal(err)
		}
		to := clock.Advance(MaxSamples * 10 * time.Second)
		truth, err := s.Values(cfg, t0)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			cohort string
			share  float64
		}{{base, 0.95}, {canary, 0.05}} {
			xs := samples(t, svc, "latency_ms", c.cohort, t0, to)
			rel := 0.1 / math.Sqrt(c.share)
			want := math.Sqrt(math.Log1p(rel * rel))
			tol := 0.08
			if phi > 0 {
				tol = 0.2 // fewer independent samples
			}
			if got := logSD(xs); !near(got, want, tol) {
				t.Errorf("phi %v %s: log sd %v, want %v", phi, c.cohort, got, want)
			}
			se := rel / math.Sqrt(float64(len(xs))) * math.Sqrt((1+phi)/(1-phi))
			if got := mean(xs); !near(got, truth["latency_ms"], 4*se) {
				t.Errorf("phi %v %s: mean %v, want the truth %v", phi, c.cohort, got, truth["latency_ms"])
			}
			if got := lag1(xs); math.Abs(got-phi) > 0.06 {
				t.Errorf("phi %v %s: lag-1 correlation %v", phi, c.cohort, got)
			}
		}
	}
}

func ftoa(f float64) string {
	return map[float64]string{0: "0", 0.6: "0.6"}[f]
}

// TestScenarioServiceFollowsLoad checks that a scenario's samples follow
// its truth through the day: web-api's p99 at the peak and at night.
func TestScenarioServiceFollowsLoad(t *testing.T) {
	s := mustScenario(t, "web-api")
	clock := newClock()
	night := s.startDay.Add(2 * time.Hour)
	clock.t = night.Add(24 * time.Hour)
	svc, err := s.NewService(3, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.Target().Params.Current()
	for _, at := range []time.Time{night, night.Add(12 * time.Hour)} {
		xs := samples(t, svc.(*Service), "cost_per_request", base, at, at.Add(20*time.Minute))
		want, err := s.Values(cfg, at.Add(10*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if got := mean(xs); !near(got, want["cost_per_request"], 0.02) {
			t.Errorf("%s: mean cost %v, want about %v", at.Format("15:04"), got, want["cost_per_request"])
		}
	}
}

// TestScenarioRegressionFault checks that the regression makes the listed
// metrics worse for both cohorts from its day on, in the samples and in
// the truth.
func TestScenarioRegressionFault(t *testing.T) {
	ctx := context.Background()
	s := flatScenario(t, "0", "{regression: {day: 1, metrics: [latency_ms], factor: 1.5}}")
	svc, clock := scenarioService(t, s, 9)
	cfg := s.Target().Params.Current()
	if err := svc.SetCanary(ctx, "k", cfg, 50); err != nil {
		t.Fatal(err)
	}
	clock.Advance(48 * time.Hour)
	day0, day1 := t0, t0.Add(24*time.Hour)
	for _, c := range []string{base, canary} {
		for _, tt := range []struct {
			metric string
			factor float64
		}{{"latency_ms", 1.5}, {"cost", 1}} {
			before := mean(samples(t, svc, tt.metric, c, day0, day0.Add(2*time.Hour)))
			after := mean(samples(t, svc, tt.metric, c, day1, day1.Add(2*time.Hour)))
			if !near(after/before, tt.factor, 0.03) {
				t.Errorf("%s %s: after/before = %v, want %v", c, tt.metric, after/before, tt.factor)
			}
		}
	}
	t0Truth, _ := s.Truth(cfg, day0, 1)
	t1Truth, _ := s.Truth(cfg, day1, 1)
	if r := t1Truth.Guardrails["latency_ms"] / t0Truth.Guardrails["latency_ms"]; !near(r, 1.5, 1e-12) {
		t.Errorf("the truth's latency after/before = %v, want 1.5", r)
	}
}

// TestScenarioTelemetryGaps checks that gaps drop samples (or return NaN),
// never zeros, about as often as the file says, in slots of its length,
// for every metric of a cohort at once.
func TestScenarioTelemetryGaps(t *testing.T) {
	for _, nan := range []bool{false, true} {
		faults := "{telemetry_gaps: {probability: 0.3, length: 1m}}"
		if nan {
			faults = "{telemetry_gaps: {probability: 0.3, length: 1m, nan: true}}"
		}
		s := flatScenario(t, "0", faults)
		svc, clock := scenarioService(t, s, 4)
		to := clock.Advance(5 * time.Hour) // [t0, to): 1800 samples, 300 slots
		lat := samples(t, svc, "latency_ms", base, t0, to)
		cost := samples(t, svc, "cost", base, t0, to)
		if slices.Contains(lat, 0) || slices.Contains(cost, 0) {
			t.Fatalf("nan %v: a zero among the samples", nan)
		}
		const all = 5 * 360
		missing := func(xs []float64) int {
			if !nan {
				return all - len(xs)
			}
			n := 0
			for _, x := range xs {
				if math.IsNaN(x) {
					n++
				}
			}
			if len(xs) != all {
				t.Errorf("nan: %d samples, want all %d", len(xs), all)
			}
			return n
		}
		ml, mc := missing(lat), missing(cost)
		if ml != mc || ml%6 != 0 { // whole one-minute slots, for both metrics
			t.Errorf("nan %v: %d latency and %d cost samples missing, want the same whole minutes", nan, ml, mc)
		}
		if share := float64(ml) / all; share < 0.22 || share > 0.38 {
			t.Errorf("nan %v: %.2f of the samples missing, want about 0.3", nan, share)
		}
		if nan {
			for i := range lat {
				if math.IsNaN(lat[i]) != math.IsNaN(cost[i]) {
					t.Fatalf("sample %d missing for one metric only", i)
				}
			}
		}
	}
}

// TestScenarioActuatorErrors checks that injected actuator errors are
// retryable, apply nothing, are drawn per key and attempt (a retry may
// succeed, and a service with the same seed fails the same calls), and
// that idempotent keys still hold.
func TestScenarioActuatorErrors(t *testing.T) {
	ctx := context.Background()
	s := flatScenario(t, "0", "{actuator_errors: {probability: 0.5}}")
	cand := models.Config{"threads": models.Num(32)}
	attempts := func(svc *Service, key string, cfg models.Config, pct float64) (fails int) {
		applied := len(svc.Applied())
		for range 50 {
			err := svc.SetCanary(ctx, key, cfg, pct)
			if err == nil {
				return fails
			}
			var ae *temporal.ApplicationError
			if !errors.As(err, &ae) || ae.NonRetryable() || ae.Type() != ErrTypeActuatorUnavailable {
				t.Fatalf("attempt %d: got %v, want a retryable %s error", fails+1, err, ErrTypeActuatorUnavailable)
			}
			if len(svc.Applied()) != applied {
				t.Fatal("a failed call applied its change")
			}
			fails++
		}
		t.Fatal("50 attempts failed at p = 0.5")
		return
	}
	a, _ := scenarioService(t, s, 11)
	b, _ := scenarioService(t, s, 11)
	var total int
	for i := range 20 {
		key := "canary/" + string(rune('a'+i))
		fa, fb := attempts(a, key, cand, 5), attempts(b, key, cand, 5)
		if fa != fb {
			t.Errorf("key %s: %d failures on one service, %d on another with the same seed", key, fa, fb)
		}
		total += fa
	}
	if total < 8 || total > 40 {
		t.Errorf("%d failures before 20 successes at p = 0.5, want about 20", total)
	}
	if n := len(a.Applied()); n != 20 {
		t.Errorf("%d events applied, want 20: one per key, however many attempts", n)
	}
	// A key reused for another change is still refused, once the
	// actuator answers.
	for range 50 {
		err := a.SetCanary(ctx, "canary/a", cand, 25)
		if appErrType(err) == ErrTypeKeyReused {
			return
		}
		if err == nil {
			t.Fatal("a key reused for another change was accepted")
		}
	}
	t.Error("the reused key never reached the idempotency check")
}

// TestScenarioActuatorTimeouts checks that a timed-out call returns a
// retryable error, its change lands the delay late, and a retry with the
// same key is a no-op.
func TestScenarioActuatorTimeouts(t *testing.T) {
	ctx := context.Background()
	s := flatScenario(t, "0", "{actuator_timeouts: {probability: 0.99, delay: 30s}}")
	svc, clock := scenarioService(t, s, 2)
	now := clock.Advance(time.Minute)
	cand := models.Config{"threads": models.Num(32)}
	err := svc.SetCanary(ctx, "k", cand, 5)
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.NonRetryable() || ae.Type() != ErrTypeActuatorTimeout {
		t.Fatalf("got %v, want a retryable %s error", err, ErrTypeActuatorTimeout)
	}
	if st := svc.State(now); st.Canary != nil {
		t.Errorf("the canary is applied at once: %+v", st)
	}
	if st := svc.State(now.Add(30 * time.Second)); st.Canary == nil || st.Percent != 5 {
		t.Errorf("the canary is not applied 30s late: %+v", st)
	}
	if err := svc.SetCanary(ctx, "k", cand, 5); err != nil {
		t.Errorf("retry: %v, want a no-op", err)
	}
	if n := len(svc.Applied()); n != 1 {
		t.Errorf("%d events, want 1", n)
	}
	// The canary has no samples before it lands.
	clock.Advance(time.Minute)
	if xs := samples(t, svc, "cost", canary, now, now.Add(30*time.Second)); len(xs) != 0 {
		t.Errorf("%d canary samples before the change landed", len(xs))
	}
}

// TestScenarioNoisyNeighbour checks that a noisy neighbour inflates the
// listed metrics of each cohort in some hours, independently per cohort,
// and that it is not part of the truth.
func TestScenarioNoisyNeighbour(t *testing.T) {
	ctx := context.Background()
	s := flatScenario(t, "0", "{noisy_neighbour: {probability: 0.4, factor: 2, metrics: [latency_ms]}}")
	svc, clock := scenarioService(t, s, 6)
	cfg := s.Target().Params.Current()
	if err := svc.SetCanary(ctx, "k", cfg, 50); err != nil {
		t.Fatal(err)
	}
	clock.Advance(48 * time.Hour)
	truth, _ := s.Values(cfg, t0)
	disturbed := map[string][]bool{}
	for h := range 48 {
		from := t0.Add(time.Duration(h) * time.Hour)
		for _, c := range []string{base, canary} {
			r := mean(samples(t, svc, "latency_ms", c, from, from.Add(time.Hour))) / truth["latency_ms"]
			switch {
			case near(r, 2, 0.05):
				disturbed[c] = append(disturbed[c], true)
			case near(r, 1, 0.05):
				disturbed[c] = append(disturbed[c], false)
			default:
				t.Fatalf("hour %d %s: latency %v of the truth, want 1 or 2", h, c, r)
			}
			if r := mean(samples(t, svc, "cost", c, from, from.Add(time.Hour))) / truth["cost"]; !near(r, 1, 0.05) {
				t.Errorf("hour %d %s: cost %v of the truth, want 1: not a listed metric", h, c, r)
			}
		}
	}
	for _, c := range []string{base, canary} {
		n := 0
		for _, d := range disturbed[c] {
			if d {
				n++
			}
		}
		if n < 8 || n > 32 {
			t.Errorf("%s: %d of 48 hours disturbed, want about 19", c, n)
		}
	}
	if slices.Equal(disturbed[base], disturbed[canary]) {
		t.Error("the cohorts are disturbed in the same hours")
	}
	tr, err := s.Truth(cfg, t0, 6)
	if err != nil || !near(tr.Guardrails["latency_ms"], truth["latency_ms"], 1e-12) {
		t.Errorf("the truth %v (%v) includes the neighbour; want %v", tr, err, truth["latency_ms"])
	}
}

// TestScenarioServiceInvalid checks the service's own errors: an unknown
// metric or cohort, an invalid change.
func TestScenarioServiceInvalid(t *testing.T) {
	ctx := context.Background()
	s := flatScenario(t, "0", "{}")
	svc, _ := scenarioService(t, s, 1)
	if _, err := svc.Samples(ctx, activities.Query{Metric: "nope", Cohort: base, From: t0, To: t0.Add(time.Minute)}); appErrType(err) != ErrTypeInvalidQuery {
		t.Errorf("unknown metric: %v", err)
	}
	if err := svc.SetCanary(ctx, "k", models.Config{"threads": models.Num(1000)}, 5); appErrType(err) != contract.ErrTypeInvalidChange {
		t.Errorf("invalid config: %v", err)
	}
	if got := svc.Metrics(); !slices.Equal(got, []string{"cost", "latency_ms"}) {
		t.Errorf("Metrics() = %v", got)
	}
	if svc.Model() != nil {
		t.Error("a scenario's service has a Model")
	}
}
