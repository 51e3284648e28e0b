package simulations

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
)

// TestBuiltinScenarios checks that every built-in scenario parses, that
// its target validates like any user target and reads metrics the
// scenario produces, and that it follows the realism rules: a canary of
// 30 minutes checked every minute, a 15–30 s scrape, per-sample noise of
// 5–20% on what the target reads, an operator who is one of the approvers.
func TestBuiltinScenarios(t *testing.T) {
	want := []string{"autoscaler", "cache", "k8s-rightsizing", "ml-batching", "serverless-memory", "web-api"}
	if got := BuiltinScenarios(); !slices.Equal(got, want) {
		t.Fatalf("BuiltinScenarios() = %v, want %v", got, want)
	}
	if _, err := BuiltinScenario("nope"); err == nil {
		t.Error(`BuiltinScenario("nope") succeeded`)
	}
	for _, name := range want {
		t.Run(name, func(t *testing.T) {
			s := mustScenario(t, name)
			spec := s.Target()
			if !reflect.DeepEqual(spec, s.spec) {
				t.Errorf("Target() is not a faithful copy:\n%+v\n%+v", spec, s.spec)
			}
			if problems := target.Validate(&spec); len(problems) > 0 {
				t.Errorf("target does not validate: %v", problems)
			}
			if s.Name() != name || spec.Name != name || spec.Telemetry.Simulator.Model != name || spec.Actuator.Simulator == nil {
				t.Errorf("names: scenario %q, target %q, model %q", s.Name(), spec.Name, spec.Telemetry.Simulator.Model)
			}
			if s.Description() == "" || s.File() != name+".yaml" {
				t.Errorf("description %q, file %q", s.Description(), s.File())
			}
			if spec.VerifyFor() != 30*time.Minute || spec.CheckEvery() != time.Minute {
				t.Errorf("canary verify_for %v check_every %v, want 30m and 1m", spec.VerifyFor(), spec.CheckEvery())
			}
			if s.Scrape() < 15*time.Second || s.Scrape() > 30*time.Second {
				t.Errorf("scrape %v, want 15s to 30s", s.Scrape())
			}
			for _, m := range spec.Metrics() {
				i, ok := s.index[m]
				if !ok {
					t.Fatalf("the target reads %s, which the scenario does not produce", m)
				}
				if n := s.metrics[i].Noise; n < 0.05 || n > 0.2 {
					t.Errorf("%s: noise %v, want 0.05 to 0.2", m, n)
				}
			}
			op := s.Operator()
			if !slices.Contains(spec.Risk.Approvers, op.Approver) || op.After < 10*time.Minute || op.After > 30*time.Minute {
				t.Errorf("operator %+v: want one of %v, answering after 10 to 30 minutes", op, spec.Risk.Approvers)
			}
			if s.PassEvery() != 24*time.Hour || s.Start().IsZero() {
				t.Errorf("schedule: start %v every %v", s.Start(), s.PassEvery())
			}
		})
	}
}

// TestBuiltinScenarioShapes checks each built-in scenario's landscape on
// its first day, against Truth and Values as oracles: the current
// configuration keeps every guardrail and the optimum is 10–40% better; a
// walk of 3 to 6 steps of max_step reaches the optimum; a guardrail binds
// at the optimum (within 1% of its limit), so the optimizer must spend the
// headroom; a cliff lies within one step of it (a guardrail broken by a
// quarter or more); and each binding guardrail is at its worst within the
// first two hours of a pass (passes are scheduled at the hardest hour).
func TestBuiltinScenarioShapes(t *testing.T) {
	for _, name := range BuiltinScenarios() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := mustScenario(t, name)
			spec := s.Target()
			at := s.Start()
			start := spec.Params.Current()
			st, err := s.Truth(start, at, 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range spec.Constraints {
				if !c.Holds(st.Guardrails[c.Metric]) {
					t.Errorf("the current configuration breaks %s: %v", c, st.Guardrails[c.Metric])
				}
			}
			opt, ot, err := s.Optimum(at, 1)
			if err != nil {
				t.Fatal(err)
			}
			gain := (st.Objective - ot.Objective) / st.Objective
			if spec.Objective.Goal == models.Maximize {
				gain = -gain
			}
			if gain < 0.10 || gain > 0.40 {
				t.Errorf("the optimum %s is %.1f%% better than the start %s, want 10–40%%", opt, 100*gain, start)
			}
			step, _, err := spec.Params.Step(start, opt)
			if err != nil {
				t.Fatal(err)
			}
			if steps := math.Ceil(step/spec.Risk.MaxStep - 1e-9); steps < 3 || steps > 6 {
				t.Errorf("the optimum is %.3f away (%v steps of max_step %v), want 3–6", step, steps, spec.Risk.MaxStep)
			}

			var binding []models.Constraint
			for _, c := range spec.Constraints {
				if v := ot.Guardrails[c.Metric]; c.Max != nil && v >= 0.99**c.Max || c.Min != nil && v <= 1.01**c.Min {
					binding = append(binding, c)
				}
			}
			if len(binding) == 0 {
				t.Errorf("no guardrail binds at the optimum %s: %v", opt, ot.Guardrails)
			}
			if worst, cfg := worstNeighbour(t, s, opt, at); worst < 1.25 {
				t.Errorf("no cliff within one step of the optimum: the worst neighbour %s reaches %.2f of a limit", cfg, worst)
			}
			startHour := s.Start().Hour()
			for _, c := range binding {
				peak, window := 0.0, 0.0
				for h := range 24 {
					v, err := s.Values(opt, s.startDay.Add(time.Duration(h)*time.Hour))
					if err != nil {
						t.Fatal(err)
					}
					peak = math.Max(peak, v[c.Metric])
					if h >= startHour && h <= startHour+2 {
						window = math.Max(window, v[c.Metric])
					}
				}
				if window < 0.98*peak {
					t.Errorf("%s peaks at %v, but only reaches %v in the pass's hours from %02d:00", c.Metric, peak, window, startHour)
				}
			}
		})
	}
}

// worstNeighbour returns the largest ratio of a guardrail's value to its
// limit among the configurations one max_step from cfg along one numeric
// knob (int knobs rounded), and that configuration.
func worstNeighbour(t *testing.T, s *Scenario, cfg models.Config, at time.Time) (float64, models.Config) {
	t.Helper()
	spec := s.Target()
	worst, worstCfg := 0.0, cfg
	for _, p := range spec.Params {
		if p.Type == models.Categorical {
			continue
		}
		u, err := p.ToUnit(cfg[p.Name])
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []float64{-1, 1} {
			n := cfg.Clone()
			n[p.Name] = p.FromUnit(u + d*spec.Risk.MaxStep)
			tr, err := s.Truth(n, at, 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range spec.Constraints {
				v := tr.Guardrails[c.Metric]
				r := 0.0
				if c.Max != nil {
					r = v / *c.Max
				}
				if c.Min != nil {
					r = math.Max(r, *c.Min/v)
				}
				if r > worst {
					worst, worstCfg = r, n
				}
			}
		}
	}
	return worst, worstCfg
}

// TestScenarioTruth checks Truth against Values, an hour at a time: the
// objective (web-api's cost per request, per_load) is the load-weighted mean
// of the day's 24 hourly values, each guardrail its worst; the seed does not
// matter, the day does.
func TestScenarioTruth(t *testing.T) {
	s := mustScenario(t, "web-api")
	spec := s.Target()
	cfg := spec.Params.Current()
	for _, day := range []int{0, 3, 15} {
		at := s.Start().Add(time.Duration(day)*24*time.Hour + 5*time.Hour)
		got, err := s.Truth(cfg, at, 7)
		if err != nil {
			t.Fatal(err)
		}
		var sum, plain, loads float64
		worst := map[string]float64{}
		for h := range 24 {
			hour := s.startDay.Add(time.Duration(24*day+h) * time.Hour)
			v, err := s.Values(cfg, hour)
			if err != nil {
				t.Fatal(err)
			}
			load := s.instantAt(hour).load
			sum, plain, loads = sum+load*v[spec.Objective.Metric], plain+v[spec.Objective.Metric], loads+load
			for _, c := range spec.Constraints {
				worst[c.Metric] = math.Max(worst[c.Metric], v[c.Metric])
			}
		}
		if !sameNumber(got.Objective, sum/loads) || sameNumber(got.Objective, plain/24) {
			t.Errorf("day %d: objective %v, want the load-weighted hourly mean %v, not the plain one %v", day, got.Objective, sum/loads, plain/24)
		}
		for m, w := range worst {
			if !sameNumber(got.Guardrails[m], w) {
				t.Errorf("day %d: %s %v, want the worst hour's %v", day, m, got.Guardrails[m], w)
			}
		}
		other, err := s.Truth(cfg, at, 8)
		if err != nil || !reflect.DeepEqual(other, got) {
			t.Errorf("day %d: the truth depends on the seed: %v vs %v (%v)", day, other, got, err)
		}
	}
	if _, err := s.Truth(models.Config{"worker_threads": models.Num(8)}, s.Start(), 1); err == nil {
		t.Error("Truth accepted an incomplete configuration")
	}
}

// TestScenarioTime checks the time variables: the load's daily and weekly
// cycle, the day count, the drift and the regression fault.
func TestScenarioTime(t *testing.T) {
	data := minimal[:len(minimal)-len(`schedule: {start: "2026-01-05T13:00:00Z"}`+"\n")] + `load: {base: 2, diurnal: 0.5, peak_hour: 14, weekly: 0.25}
drift: {per_day: 0.1}
faults:
  regression: {day: 3, metrics: [cost], factor: 1.5}
schedule: {start: "2026-01-05T13:00:00Z"}
`
	data = replaceOnce(t, data, "cost: {expr: threads}", "cost: {expr: threads * (1 + drift)}")
	s, err := ParseScenario("time.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	monday := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		at         time.Time
		load, cost float64
	}{
		{monday.Add(14 * time.Hour), 3, 16},                         // the peak
		{monday.Add(2 * time.Hour), 1, 16},                          // the trough
		{monday.Add(24*time.Hour + 8*time.Hour), 2, 16 * 1.1},       // day 1, the ramp: drift 0.1
		{monday.Add(2*24*time.Hour + 14*time.Hour), 3, 16 * 1.2},    // day 2
		{monday.Add(3*24*time.Hour + 14*time.Hour), 3, 16 * 1.95},   // day 3: drift 0.3, regression 1.5
		{monday.Add(5*24*time.Hour + 14*time.Hour), 2.25, 24 * 1.5}, // Saturday: 25% less load
		{monday.Add(-24*time.Hour + 14*time.Hour), 2.25, 16 * 0.9},  // the Sunday before: day −1
	}
	cfg := models.Config{"threads": models.Num(16)}
	for _, tt := range tests {
		if got := s.Load().At(tt.at); !sameNumberTol(got, tt.load, 1e-12) {
			t.Errorf("%s: load %v, want %v", tt.at, got, tt.load)
		}
		v, err := s.Values(cfg, tt.at)
		if err != nil {
			t.Fatal(err)
		}
		if !sameNumberTol(v["cost"], tt.cost, 1e-12) {
			t.Errorf("%s (day %d): cost %v, want %v", tt.at, s.Day(tt.at), v["cost"], tt.cost)
		}
	}
}

func sameNumberTol(a, b, rel float64) bool {
	return math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b))
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q not found", old)
	}
	return strings.Replace(s, old, new, 1)
}
