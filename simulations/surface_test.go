package simulations

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/passflow/passflow/models"
)

func TestTruthShape(t *testing.T) {
	m, err := NewModel("", testSpace(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Name(); got != DefaultModel {
		t.Errorf("Name() = %q, want %q", got, DefaultModel)
	}
	threads := func(n float64) models.Config {
		c := testSpace().Current()
		c["worker_threads"] = models.Num(n)
		c["cache_ttl_s"] = models.Num(60)
		return c
	}
	// Along one knob the values stay finite and positive, p99 > p95, error
	// rate in (0, 1].
	for _, n := range []float64{4, 6, 8, 12, 16, 32, 64, 128, 256} {
		v, err := m.Truth(threads(n))
		if err != nil {
			t.Fatal(err)
		}
		for k, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) || x <= 0 {
				t.Errorf("threads %v: %s = %v", n, k, x)
			}
		}
		if v[MetricLatencyP99] <= v[MetricLatencyP95] || v[MetricErrorRate] > 1 {
			t.Errorf("threads %v: %v", n, v)
		}
	}
	// Starving the service drives it to overload: latency and errors soar.
	lo, _ := m.Truth(threads(4))
	mid, _ := m.Truth(threads(32))
	if lo[MetricErrorRate] < 10*mid[MetricErrorRate] || lo[MetricLatencyP95] < 2*mid[MetricLatencyP95] {
		t.Errorf("overload not visible: at 4 threads %v, at 32 %v", lo, mid)
	}
	if _, err := m.Truth(models.Config{"worker_threads": models.Num(8)}); err == nil {
		t.Error("Truth of an incomplete config succeeded")
	}
}

func TestTruthCategoricalShiftsLevels(t *testing.T) {
	m, err := NewModel("web", testSpace(), 4)
	if err != nil {
		t.Fatal(err)
	}
	a := testSpace().Current()
	b := a.Clone()
	b["gc_mode"] = models.Str("low-latency")
	va, _ := m.Truth(a)
	vb, _ := m.Truth(b)
	if va[MetricLatencyP95] == vb[MetricLatencyP95] || va[MetricCost] == vb[MetricCost] {
		t.Errorf("gc_mode changes nothing: %v vs %v", va, vb)
	}
}

func TestOptimum(t *testing.T) {
	p95, errMax := 200.0, 0.001
	cons := []models.Constraint{{Metric: MetricLatencyP95, Max: &p95}, {Metric: MetricErrorRate, Max: &errMax}}
	for _, seed := range []uint64{0, 1, 2, 3} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			space := testSpace()
			m, err := NewModel("web", space, seed)
			if err != nil {
				t.Fatal(err)
			}
			o, err := m.Optimum(MetricCost, models.Minimize, cons)
			if err != nil {
				t.Fatal(err)
			}
			if !o.Feasible {
				t.Fatalf("optimum %v infeasible", o)
			}
			if err := space.CheckConfig(o.Config); err != nil {
				t.Fatalf("optimum config invalid: %v", err)
			}
			for _, c := range cons {
				if !c.Holds(o.Values[c.Metric]) {
					t.Errorf("optimum breaks %s: %v", c, o.Values[c.Metric])
				}
			}
			// The latency guardrail binds at the cost optimum.
			if o.Values[MetricLatencyP95] < 0.97*p95 {
				t.Errorf("latency guardrail not active: p95 %v", o.Values[MetricLatencyP95])
			}
			cur := truth(t, m, space.Current(), MetricCost)
			if o.Objective >= 0.95*cur {
				t.Errorf("optimum cost %v not clearly below the current %v", o.Objective, cur)
			}
			// No feasible random configuration beats it.
			rng := newStream(seed, "test")
			u := make([]float64, len(space))
			for range 5000 {
				for i := range u {
					u[i] = rng.float()
				}
				c := space.FromUnit(u)
				v, err := m.Truth(c)
				if err != nil {
					t.Fatal(err)
				}
				if v[MetricLatencyP95] <= p95 && v[MetricErrorRate] <= errMax && v[MetricCost] < o.Objective*(1-1e-3) {
					t.Fatalf("random %s costs %v < optimum %v (%s)", c, v[MetricCost], o.Objective, o.Config)
				}
			}
		})
	}
}

func TestOptimumDependsOnSeed(t *testing.T) {
	opt := func(seed uint64) models.Config {
		m, err := NewModel("", testSpace(), seed)
		if err != nil {
			t.Fatal(err)
		}
		o, err := m.Optimum(MetricCost, models.Minimize, []models.Constraint{{Metric: MetricLatencyP95, Max: ptr(200.0)}})
		if err != nil {
			t.Fatal(err)
		}
		return o.Config
	}
	a, b := opt(1), opt(2)
	if a.Equal(b) {
		t.Errorf("seeds 1 and 2 share the optimum %v", a)
	}
	if again := opt(1); !again.Equal(a) {
		t.Errorf("optimum not deterministic: %v then %v", a, again)
	}
}

func TestOptimumSpaces(t *testing.T) {
	tests := []struct {
		name  string
		space models.Space
	}{
		{"one float", models.Space{{Name: "x", Type: models.Float, Min: 0, Max: 1}}},
		{"only categorical", models.Space{
			{Name: "a", Type: models.Categorical, Choices: []string{"p", "q", "r"}},
			{Name: "b", Type: models.Categorical, Choices: []string{"s", "t"}},
		}},
		{"many categorical combos", func() models.Space {
			var s models.Space
			for i := range 9 {
				s = append(s, models.Param{Name: fmt.Sprint("c", i), Type: models.Categorical, Choices: []string{"a", "b"}})
			}
			return append(s, models.Param{Name: "n", Type: models.Int, Min: 1, Max: 64, Log: true})
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewModel("", tt.space, 1)
			if err != nil {
				t.Fatal(err)
			}
			o, err := m.Optimum(MetricThroughput, models.Maximize, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.space.CheckConfig(o.Config); err != nil || !o.Feasible {
				t.Errorf("optimum %+v: %v", o, err)
			}
		})
	}
}

func TestModelErrors(t *testing.T) {
	m, err := NewModel("", testSpace(), 1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"unknown model", func() error { _, err := NewModel("db", testSpace(), 1); return err }, `unknown model "db"`},
		{"empty space", func() error { _, err := NewModel("", nil, 1); return err }, "invalid space"},
		{"unknown objective", func() error { _, err := m.Optimum("p50", models.Minimize, nil); return err }, `unknown objective metric "p50"`},
		{"unknown constraint", func() error {
			_, err := m.Optimum(MetricCost, models.Minimize, []models.Constraint{{Metric: "cpu", Max: ptr(1.0)}})
			return err
		}, `unknown constraint metric "cpu"`},
		{"unknown goal", func() error { _, err := m.Optimum(MetricCost, "shrink", nil); return err }, "unknown goal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "simulations: ") {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func ExampleModel_Truth() {
	space := models.Space{
		{Name: "worker_threads", Type: models.Int, Min: 4, Max: 256, Log: true},
		{Name: "gc_mode", Type: models.Categorical, Choices: []string{"throughput", "low-latency"}},
	}
	m, err := NewModel("web", space, 42)
	if err != nil {
		panic(err)
	}
	for _, threads := range []float64{8, 32, 128} {
		v, err := m.Truth(models.Config{"worker_threads": models.Num(threads), "gc_mode": models.Str("throughput")})
		if err != nil {
			panic(err)
		}
		fmt.Printf("threads=%v: p95 %.0f ms, cost %.2f\n", threads, v[MetricLatencyP95], v[MetricCost])
	}
	// Output:
	// threads=8: p95 1342 ms, cost 0.70
	// threads=32: p95 70 ms, cost 1.06
	// threads=128: p95 66 ms, cost 1.67
}
