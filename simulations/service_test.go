package simulations

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/webhook"
)

const (
	base   = activities.CohortBaseline
	canary = activities.CohortCanary
)

func TestSamplesDeterministic(t *testing.T) {
	ctx := context.Background()
	s1, clock := newTestService(t, target.Simulator{Seed: 7}, Options{})
	s2, _ := newTestService(t, target.Simulator{Seed: 7}, Options{Now: clock.Now})
	s3, _ := newTestService(t, target.Simulator{Seed: 8}, Options{Now: clock.Now})
	clock.Advance(time.Hour)
	if err := s1.SetCanary(ctx, "p/1", candidate(), 25); err != nil {
		t.Fatal(err)
	}
	if err := s2.SetCanary(ctx, "p/1", candidate(), 25); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	from, to := t0.Add(60*time.Minute), t0.Add(80*time.Minute)
	for _, metric := range s1.Model().Metrics() {
		for _, cohort := range []string{base, canary} {
			t.Run(metric+"/"+cohort, func(t *testing.T) {
				a := samples(t, s1, metric, cohort, from, to)
				if len(a) == 0 {
					t.Fatal("no samples")
				}
				if b := samples(t, s1, metric, cohort, from, to); !slices.Equal(a, b) {
					t.Error("re-reading the window gave different samples")
				}
				if b := samples(t, s2, metric, cohort, from, to); !slices.Equal(a, b) {
					t.Error("a second service with the same seed and timeline gave different samples")
				}
				if b := samples(t, s3, metric, cohort, from, to); slices.Equal(a, b) {
					t.Error("another seed gave the same samples")
				}
				// An overlapping window, not aligned to the grid, shares the samples.
				b := samples(t, s1, metric, cohort, from.Add(-500*time.Millisecond), from.Add(10*time.Second))
				if len(b) != 10 || !slices.Equal(a[:10], b) {
					t.Errorf("overlapping window: got %v, want %v", b, a[:10])
				}
			})
		}
	}
}

func TestSamplesFollowTimeline(t *testing.T) {
	ctx := context.Background()
	s, clock := newTestService(t, target.Simulator{Seed: 3, Noise: 0.02}, Options{})
	cur, cand := testSpace().Current(), candidate()
	m := s.Model()

	t1 := clock.Advance(20 * time.Minute)
	if err := s.SetCanary(ctx, "pass-1/stage-0", cand, 50); err != nil {
		t.Fatal(err)
	}
	t2 := clock.Advance(20 * time.Minute)
	if err := s.Promote(ctx, "pass-1/promote", cand); err != nil {
		t.Fatal(err)
	}
	t3 := clock.Advance(20 * time.Minute)

	tests := []struct {
		name     string
		cohort   string
		from, to time.Time
		want     models.Config // nil: no samples
	}{
		{"baseline before canary", base, t0, t1, cur},
		{"canary before canary", canary, t0, t1, nil},
		{"baseline during canary", base, t1, t2, cur},
		{"canary during canary", canary, t1, t2, cand},
		{"baseline after promote", base, t2, t3, cand},
		{"canary after promote", canary, t2, t3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xs := samples(t, s, MetricLatencyP95, tt.cohort, tt.from, tt.to)
			if tt.want == nil {
				if len(xs) != 0 {
					t.Fatalf("got %d samples, want none", len(xs))
				}
				return
			}
			if len(xs) != 1200 {
				t.Fatalf("got %d samples, want 1200 (20m at 1s)", len(xs))
			}
			want := truth(t, m, tt.want, MetricLatencyP95)
			if got := mean(xs); !near(got, want, 0.01) {
				t.Errorf("mean %v, want %v (truth of %s)", got, want, tt.want)
			}
		})
	}

	// A window across the change holds the canary's samples from t1 on.
	xs := samples(t, s, MetricLatencyP95, canary, t1.Add(-5*time.Minute), t2.Add(5*time.Minute))
	if len(xs) != 1200 {
		t.Errorf("canary over the whole timeline: got %d samples, want 1200", len(xs))
	}
	if st := s.State(t1.Add(time.Minute)); st.Percent != 50 || !st.Canary.Equal(cand) || !st.Baseline.Equal(cur) {
		t.Errorf("State during canary = %+v", st)
	}
	if got, err := s.Baseline(ctx); err != nil || !got.Equal(cand) {
		t.Errorf("Baseline() = %v, %v; want %v", got, err, cand)
	}
}

func TestSamplesWindow(t *testing.T) {
	s, clock := newTestService(t, target.Simulator{}, Options{})
	now := clock.Advance(24 * time.Hour)
	tests := []struct {
		name     string
		from, to time.Time
		want     int
	}{
		{"past minute", now.Add(-time.Minute), now, 60},
		{"future is cut at now (now included)", now.Add(-time.Minute), now.Add(time.Minute), 61},
		{"future is cut, step of the whole window", now.Add(-time.Minute), now.Add(time.Hour), 31},
		{"only future", now.Add(time.Second), now.Add(time.Hour), 0},
		{"empty window", now.Add(-time.Minute), now.Add(-time.Minute), 0},
		{"reversed window", now, now.Add(-time.Minute), 0},
		{"unaligned from", now.Add(-time.Minute - 300*time.Millisecond), now, 60},
		{"a day widens the step to 44s", now.Add(-24 * time.Hour), now, 1963}, // ⌊86400/44⌋ or ⌈86400/44⌉, by alignment
		{"exactly MaxSamples", now.Add(-MaxSamples * time.Second), now, MaxSamples},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xs := samples(t, s, MetricCost, base, tt.from, tt.to)
			if len(xs) != tt.want {
				t.Errorf("got %d samples, want %d", len(xs), tt.want)
			}
			if xs == nil {
				t.Error("got a nil slice, want an empty one")
			}
			if len(xs) > MaxSamples {
				t.Errorf("got %d samples, more than MaxSamples", len(xs))
			}
		})
	}
}

func TestSamplesNoTraffic(t *testing.T) {
	ctx := context.Background()
	s, clock := newTestService(t, target.Simulator{}, Options{})
	steps := []struct {
		name              string
		percent           float64
		baseline, canary_ bool // whether each cohort has samples afterwards
	}{
		{"no canary yet", -1, true, false},
		{"canary at 5%", 5, true, true},
		{"canary at 100%", 100, false, true},
		{"canary removed", 0, true, false},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.percent >= 0 {
				var cfg models.Config
				if st.percent > 0 {
					cfg = candidate()
				}
				if err := s.SetCanary(ctx, "k"+string(rune('0'+i)), cfg, st.percent); err != nil {
					t.Fatal(err)
				}
			}
			from := clock.Now()
			to := clock.Advance(time.Minute)
			for _, c := range []struct {
				cohort string
				want   bool
			}{{base, st.baseline}, {canary, st.canary_}} {
				xs := samples(t, s, MetricErrorRate, c.cohort, from, to)
				if got := len(xs) > 0; got != c.want {
					t.Errorf("%s: got %d samples, want samples: %v", c.cohort, len(xs), c.want)
				}
				for _, x := range xs {
					if x <= 0 || x > 1 {
						t.Errorf("%s: error rate %v outside (0, 1]", c.cohort, x)
					}
				}
			}
		})
	}
}

func TestInvalidQuery(t *testing.T) {
	s, clock := newTestService(t, target.Simulator{}, Options{})
	now := clock.Now()
	tests := []struct{ name, metric, cohort string }{
		{"unknown metric", "latency_p50_ms", base},
		{"unknown cohort", MetricCost, "blue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Samples(context.Background(), activities.Query{Metric: tt.metric, Cohort: tt.cohort, From: now.Add(-time.Minute), To: now})
			if appErrType(err) != ErrTypeInvalidQuery {
				t.Errorf("got %v, want a non-retryable %s error", err, ErrTypeInvalidQuery)
			}
		})
	}
}

func TestInvalidChange(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService(t, target.Simulator{}, Options{})
	with := func(name string, v models.Value) models.Config {
		c := candidate()
		c[name] = v
		return c
	}
	missing := candidate()
	delete(missing, "gc_mode")
	tests := []struct {
		name    string
		apply   func() error
		wantMsg string
	}{
		{"out of range", func() error { return s.SetCanary(ctx, "a", with("worker_threads", models.Num(1000)), 5) }, "worker_threads"},
		{"not an integer", func() error { return s.SetCanary(ctx, "b", with("worker_threads", models.Num(8.5)), 5) }, "integer"},
		{"unknown choice", func() error { return s.SetCanary(ctx, "c", with("gc_mode", models.Str("zgc")), 5) }, "gc_mode"},
		{"unknown parameter", func() error { return s.SetCanary(ctx, "d", with("pool", models.Num(1)), 5) }, "unknown parameter pool"},
		{"missing parameter", func() error { return s.SetCanary(ctx, "e", missing, 5) }, "missing parameter gc_mode"},
		{"nil config", func() error { return s.SetCanary(ctx, "f", nil, 5) }, "missing parameter"},
		{"negative percent", func() error { return s.SetCanary(ctx, "g", candidate(), -1) }, "percent"},
		{"percent over 100", func() error { return s.SetCanary(ctx, "h", candidate(), 101) }, "percent"},
		{"NaN percent", func() error { return s.SetCanary(ctx, "i", candidate(), math.NaN()) }, "percent"},
		{"empty key", func() error { return s.SetCanary(ctx, "", candidate(), 5) }, "empty idempotency key"},
		{"promote invalid", func() error { return s.Promote(ctx, "j", with("cache_ttl_s", models.Num(0))) }, "cache_ttl_s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.apply()
			if appErrType(err) != contract.ErrTypeInvalidChange {
				t.Fatalf("got %v, want a non-retryable %s error", err, contract.ErrTypeInvalidChange)
			}
			if msg := err.Error(); !strings.Contains(msg, "checkout-api") || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("error %q: want it to name the target and %q", msg, tt.wantMsg)
			}
		})
	}
	if n := len(s.Applied()); n != 0 {
		t.Errorf("invalid changes recorded %d events", n)
	}
}

func TestIdempotentKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := newClock()
	opts := Options{StateDir: dir, Now: clock.Now}
	spec := testSpec("checkout-api", target.Simulator{Seed: 5})
	s, err := NewService(spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	cand := candidate()
	stages := []float64{5, 25, 100}
	apply := func(s *Service) {
		t.Helper()
		for i, pct := range stages {
			for range 3 { // retries
				if err := s.SetCanary(ctx, "pass-1/stage-"+string(rune('0'+i)), cand, pct); err != nil {
					t.Fatalf("stage %d: %v", i, err)
				}
			}
			clock.Advance(10 * time.Minute)
		}
	}
	apply(s)
	before := s.Applied()
	if len(before) != len(stages) {
		t.Fatalf("applied %d events, want %d: %+v", len(before), len(stages), before)
	}
	for i, e := range before {
		if e.Kind != EventCanary || e.Percent != stages[i] || !e.Config.Equal(cand) || !e.Time.Equal(t0.Add(time.Duration(i)*10*time.Minute)) {
			t.Errorf("event %d = %+v", i, e)
		}
	}
	end := clock.Now()
	window := func(s *Service) []float64 {
		return samples(t, s, MetricLatencyP95, canary, t0, end)
	}
	wantSamples := window(s)

	// A restarted process reloads the timeline and still de-duplicates.
	r, err := NewService(spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Applied(); !eventsEqual(got, before) {
		t.Fatalf("after reload: %+v, want %+v", got, before)
	}
	apply(r)
	if got := r.Applied(); !eventsEqual(got, before) {
		t.Errorf("replayed keys after reload added events: %+v", got)
	}
	if got := window(r); len(wantSamples) == 0 || !slices.Equal(got, wantSamples) {
		t.Error("samples differ after reload")
	}
	if err := r.Promote(ctx, "pass-1/promote", cand); err != nil {
		t.Fatal(err)
	}
	r2, err := NewService(spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := r2.Baseline(ctx); !b.Equal(cand) {
		t.Errorf("baseline after reload = %v, want %v", b, cand)
	}
	if n := len(r2.Applied()); n != 4 {
		t.Errorf("after promote and reload: %d events, want 4", n)
	}

	// A key reused for another change is refused.
	err = r2.SetCanary(ctx, "pass-1/stage-0", cand, 50)
	if appErrType(err) != ErrTypeKeyReused {
		t.Errorf("reused key: got %v, want a non-retryable %s error", err, ErrTypeKeyReused)
	}
}

func eventsEqual(a, b []Event) bool {
	return slices.EqualFunc(a, b, func(x, y Event) bool { return x.sameChange(y) && x.Time.Equal(y.Time) })
}

func TestEventLogTornLine(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := newClock()
	opts := Options{StateDir: dir, Now: clock.Now}
	spec := testSpec("checkout-api", target.Simulator{})
	s, err := NewService(spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetCanary(ctx, "a", candidate(), 5); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "checkout-api.events.jsonl")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"time":"2026-03-01T02:00:00Z","key":"b","ki`)
	f.Close()

	r, err := NewService(spec, opts)
	if err != nil {
		t.Fatalf("reload with a torn last line: %v", err)
	}
	if err := r.SetCanary(ctx, "b", candidate(), 25); err != nil {
		t.Fatal(err)
	}
	r2, err := NewService(spec, opts)
	if err != nil {
		t.Fatalf("reload after the torn line was dropped: %v", err)
	}
	if got := r2.Applied(); len(got) != 2 || got[1].Key != "b" || got[1].Percent != 25 {
		t.Errorf("events = %+v", got)
	}

	// A corrupt line in the middle is an error that names the file and line.
	os.WriteFile(path, []byte("{}\n"), 0o644)
	if _, err := NewService(spec, opts); err == nil || !strings.Contains(err.Error(), "events.jsonl:1") {
		t.Errorf("corrupt log: got %v", err)
	}
}

func TestRegression(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		metric string
		factor float64
	}{
		{MetricLatencyP95, 1.5},
		{MetricLatencyP99, 1.5},
		{MetricErrorRate, 1.5},
		{MetricCost, 1},
		{MetricThroughput, 1},
	}
	s, clock := newTestService(t, target.Simulator{Seed: 9, Noise: 0.02, Regression: 0.5}, Options{})
	// The canary runs the baseline's own configuration: any gap is the fault.
	if err := s.SetCanary(ctx, "k", testSpace().Current(), 50); err != nil {
		t.Fatal(err)
	}
	to := clock.Advance(30 * time.Minute)
	for _, tt := range tests {
		t.Run(tt.metric, func(t *testing.T) {
			b := mean(samples(t, s, tt.metric, base, t0, to))
			c := mean(samples(t, s, tt.metric, canary, t0, to))
			if !near(c/b, tt.factor, 0.02) {
				t.Errorf("canary/baseline = %v, want %v", c/b, tt.factor)
			}
		})
	}
}

func TestNoiseScalesWithShare(t *testing.T) {
	ctx := context.Background()
	const noise = 0.05
	tests := []struct {
		percent          float64
		baseSD, canarySD float64
	}{
		{50, noise * math.Sqrt2, noise * math.Sqrt2},
		{5, noise / math.Sqrt(0.95), noise / math.Sqrt(0.05)},
		{1, noise / math.Sqrt(0.99), noise * MaxNoiseScale}, // capped
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("canary %v%%", tt.percent), func(t *testing.T) {
			s, clock := newTestService(t, target.Simulator{Seed: 11, Noise: noise}, Options{})
			if err := s.SetCanary(ctx, "k", testSpace().Current(), tt.percent); err != nil {
				t.Fatal(err)
			}
			to := clock.Advance(MaxSamples * time.Second)
			for _, c := range []struct {
				cohort string
				rel    float64
			}{{base, tt.baseSD}, {canary, tt.canarySD}} {
				xs := samples(t, s, MetricCost, c.cohort, t0, to)
				want := math.Sqrt(math.Log1p(c.rel * c.rel)) // sd of the log of a lognormal
				if got := logSD(xs); !near(got, want, 0.08) {
					t.Errorf("%s: log sd %v, want %v", c.cohort, got, want)
				}
				tr := truth(t, s.Model(), testSpace().Current(), MetricCost)
				if got := mean(xs); !near(got, tr, 3*c.rel/math.Sqrt(float64(len(xs)))+0.005) {
					t.Errorf("%s: mean %v, want the truth %v (noise keeps the mean)", c.cohort, got, tr)
				}
			}
		})
	}
}

func TestTimelineNeverGoesBack(t *testing.T) {
	ctx := context.Background()
	s, clock := newTestService(t, target.Simulator{}, Options{})
	clock.Advance(time.Hour)
	if err := s.SetCanary(ctx, "a", candidate(), 5); err != nil {
		t.Fatal(err)
	}
	clock.Advance(-30 * time.Minute)
	if err := s.SetCanary(ctx, "b", candidate(), 25); err != nil {
		t.Fatal(err)
	}
	ev := s.Applied()
	if !ev[1].Time.Equal(ev[0].Time) {
		t.Errorf("event after the clock went back at %v, want %v", ev[1].Time, ev[0].Time)
	}
}

func TestConcurrentChanges(t *testing.T) {
	ctx := context.Background()
	s, clock := newTestService(t, target.Simulator{}, Options{StateDir: t.TempDir()})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(2)
		key := "k" + string(rune('a'+i))
		for range 2 {
			go func() {
				defer wg.Done()
				if err := s.SetCanary(ctx, key, candidate(), float64(i+1)); err != nil {
					t.Error(err)
				}
				samples(t, s, MetricCost, canary, t0, clock.Now())
			}()
		}
	}
	wg.Wait()
	if n := len(s.Applied()); n != 16 {
		t.Errorf("got %d events, want 16", n)
	}
}

func TestContextCanceled(t *testing.T) {
	s, clock := newTestService(t, target.Simulator{}, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.SetCanary(ctx, "a", candidate(), 5); err == nil {
		t.Error("SetCanary with a canceled context succeeded")
	}
	if _, err := s.Samples(ctx, activities.Query{Metric: MetricCost, Cohort: base, From: t0, To: clock.Now()}); err == nil {
		t.Error("Samples with a canceled context succeeded")
	}
}

func TestNewServiceErrors(t *testing.T) {
	tests := []struct {
		name string
		spec func() target.Spec
		want string
	}{
		{"no simulator", func() target.Spec {
			s := testSpec("x", target.Simulator{})
			s.Telemetry.Simulator = nil
			return s
		}, "does not use the simulator"},
		{"unknown model", func() target.Spec { return testSpec("x", target.Simulator{Model: "db"}) }, `unknown model "db"`},
		{"negative noise", func() target.Spec { return testSpec("x", target.Simulator{Noise: -0.1}) }, "noise"},
		{"no name", func() target.Spec { return testSpec("", target.Simulator{}) }, "no name"},
		{"invalid space", func() target.Spec {
			s := testSpec("x", target.Simulator{})
			s.Params = append(s.Params, models.Param{Name: "bad", Type: models.Float, Min: 2, Max: 1})
			return s
		}, "params[3].max"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewService(tt.spec(), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestSharedStateDir runs two services on one state directory, as two
// worker processes sharing --state do: each sees the other's changes before
// it acts, and a change made by one is a no-op for the other.
func TestSharedStateDir(t *testing.T) {
	dir := t.TempDir()
	a, clock := newTestService(t, target.Simulator{Model: "web", Seed: 1}, Options{StateDir: dir})
	b, err := NewService(testSpec("checkout-api", target.Simulator{Model: "web", Seed: 1}), Options{StateDir: dir, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.SetCanary(ctx, "p/stage-1", candidate(), 25); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if st := b.State(clock.Now()); st.Percent != 25 || !st.Canary.Equal(candidate()) {
		t.Fatalf("the other service sees %+v, want the 25%% canary", st)
	}
	if err := b.SetCanary(ctx, "p/stage-1", candidate(), 25); err != nil {
		t.Fatal(err)
	}
	if err := b.Promote(ctx, "p/promote", candidate()); err != nil {
		t.Fatal(err)
	}
	base, err := a.Baseline(ctx)
	if err != nil || !base.Equal(candidate()) {
		t.Fatalf("baseline seen by the first %s (%v), want the promoted candidate", base, err)
	}
	if na, nb := len(a.Applied()), len(b.Applied()); na != 2 || nb != 2 {
		t.Errorf("applied %d and %d events, want the same 2 in both", na, nb)
	}
	canary := samples(t, a, "latency_p95_ms", "canary", t0, clock.Now())
	if len(canary) == 0 {
		t.Error("no canary samples from the first service while the canary ran")
	}
}

// TestChangeReportsWhatItReplaced: each change answers with what the
// changed cohort ran before, the canary's share included, the same on a
// repeated key; the undo of a change over an older canary brings it back.
func TestChangeReportsWhatItReplaced(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	s, err := NewService(testSpec("checkout-api", target.Simulator{Seed: 5}), Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	baseline, err := s.Baseline(ctx)
	if err != nil {
		t.Fatal(err)
	}
	older, cand := baseline.Clone(), candidate()
	older["worker_threads"] = models.Num(24)
	for _, step := range []struct {
		ch      activities.Change
		config  models.Config
		percent float64
		after   State
	}{
		{activities.Change{Key: "op/1", Action: webhook.ActionApply, Config: older, Percent: 10}, nil, 0, State{baseline, older, 10}},
		{activities.Change{Key: "p/stage-1", Action: webhook.ActionApply, Config: cand, Percent: 5}, older, 10, State{baseline, cand, 5}},
		{activities.Change{Key: "p/stage-1", Action: webhook.ActionApply, Config: cand, Percent: 5}, older, 10, State{baseline, cand, 5}},
		{activities.Change{Key: "p/undo-stage-1", Action: webhook.ActionRevert, Config: older, Percent: 10}, cand, 5, State{baseline, older, 10}},
		{activities.Change{Key: "q/promote", Action: webhook.ActionPromote, Config: cand}, baseline, 0, State{cand, nil, 0}},
	} {
		got, err := s.Change(ctx, step.ch)
		if err != nil {
			t.Fatalf("%s: %v", step.ch.Key, err)
		}
		if !got.Config.Equal(step.config) || got.Percent != step.percent {
			t.Errorf("%s replaced %s at %g%%, want %s at %g%%", step.ch.Key, got.Config, got.Percent, step.config, step.percent)
		}
		if now := s.State(clock.Now()); !now.Baseline.Equal(step.after.Baseline) || !now.Canary.Equal(step.after.Canary) || now.Percent != step.after.Percent {
			t.Errorf("after %s: %+v, want %+v", step.ch.Key, now, step.after)
		}
	}
}
