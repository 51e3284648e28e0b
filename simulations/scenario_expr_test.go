package simulations

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// testEnv is an environment with two numeric knobs and a categorical one.
func testEnv() *exprEnv {
	return newExprEnv([]string{"threads", "heap_mb"}, []string{"gc"}, []string{"rho"})
}

// randomFrame fills f with random knobs and time variables of env.
func randomFrame(rng *rand.Rand, env *exprEnv, f *frame, choices []string) {
	for i := range f.num {
		f.num[i] = 0.1 + 100*rng.Float64()
	}
	for i := range f.str {
		f.str[i] = choices[rng.IntN(len(choices))]
	}
}

// vmValue evaluates e on expr's VM, the reference the closures must match.
func vmValue(e *expression, f *frame) (float64, error) {
	vmOnly := *e
	vmOnly.fast = nil
	return vmOnly.eval(f)
}

// sameNumber reports whether a and b are equal, both NaN, or within a
// relative 1e-12 (the closures may order a sum the same way as the VM,
// but fold constants differently).
func sameNumber(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if math.IsInf(a, 0) || math.IsInf(b, 0) {
		return a == b
	}
	return math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b))
}

// TestFastEvaluator checks that the closures compute what expr's VM
// computes, on expressions covering every construct they translate, and
// that an expression they do not cover still runs, on the VM.
func TestFastEvaluator(t *testing.T) {
	tests := []struct {
		src  string
		fast bool
	}{
		{"threads + heap_mb * 2 - load / 3", true},
		{"-threads + +heap_mb", true},
		{"threads ** 2 + heap_mb ^ 0.5 + int(threads) % 7", true},
		{`gc == "zgc" ? threads : gc != "g1" ? heap_mb : 1`, true},
		{`gc in ["zgc", "shenandoah"] ? 2 : 3`, true},
		{`gc not in ["zgc"] ? 2 : 3`, true},
		{"threads in [1, 2, 3] ? 1 : 0", true},
		{"threads > 50 && heap_mb < 50 || !(load >= 2) ? 1 : 0", true},
		{"threads > 50 and not (heap_mb <= 50) or hour == 3 ? 1 : 0", true},
		{"let a = threads * 2; let b = a > 100; b ? a : -a", true},
		{`let a = threads; let b = gc == "zgc"; b ? a : 2 * a`, true},
		{"abs(threads - heap_mb) + ceil(load) + floor(hour) + round(day) + float(drift)", true},
		{"min(threads, heap_mb, 30) + max(ramp, 2)", true},
		{"exp(-threads / 50) + log(heap_mb) + log2(threads) + log10(heap_mb) + sqrt(load)", true},
		{"tanh(rho) + sigmoid(threads - 50) + softplus(heap_mb - 50) + softplus(40) + pow(threads, 0.3) + clamp(heap_mb, 10, 20)", true},
		{"1 / (1 - min(threads / 101, 0.99))", true},
		{"7 / 2 + 2 ** 10 + 10 % 4", true},
		{"threads / (heap_mb - heap_mb)", true}, // +Inf both ways
		{"(threads > 10 ? 1 : 2) * 3", true},
		{"len([threads, heap_mb]) * threads", false},
		{"first([threads, heap_mb]) + 1", false},
	}
	env := testEnv()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := compileExpression(tt.src, env)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if got := e.fast != nil; got != tt.fast {
				t.Errorf("fast evaluator used: %v, want %v", got, tt.fast)
			}
			f := env.newFrame(e.lets)
			for range 200 {
				randomFrame(rng, env, f, []string{"g1", "zgc", "parallel"})
				want, err := vmValue(e, f)
				if err != nil {
					t.Fatalf("VM: %v", err)
				}
				got, err := e.eval(f)
				if err != nil {
					t.Fatalf("eval: %v", err)
				}
				if !sameNumber(got, want) {
					t.Fatalf("at %v %v: got %v, the VM %v", f.num, f.str, got, want)
				}
			}
		})
	}
}

// TestFastEvaluatorBuiltins checks the closures against the VM on every
// expression of every built-in scenario, at random knobs and times.
func TestFastEvaluatorBuiltins(t *testing.T) {
	for _, name := range BuiltinScenarios() {
		t.Run(name, func(t *testing.T) {
			s := mustScenario(t, name)
			rng := rand.New(rand.NewPCG(3, 4))
			f := s.env.newFrame(s.lets)
			space := s.spec.Params
			for range 1000 {
				u := make([]float64, len(space))
				for i := range u {
					switch r := rng.Float64(); { // the edges of the space too
					case r < 0.15:
						u[i] = 0
					case r > 0.85:
						u[i] = 1
					default:
						u[i] = rng.Float64()
					}
				}
				if err := s.setConfig(f, space.FromUnit(u)); err != nil {
					t.Fatal(err)
				}
				at := s.Start().Add(time.Duration(rng.Int64N(int64(30 * 24 * time.Hour))))
				if err := s.setTime(f, at); err != nil {
					t.Fatal(err)
				}
				exprs := []*expression{}
				for _, v := range s.vars {
					exprs = append(exprs, v.expr)
				}
				for _, m := range s.metrics {
					exprs = append(exprs, m.expr)
				}
				for _, e := range exprs {
					if e.fast == nil {
						t.Fatalf("%q runs on the VM: the built-ins should use the fast evaluator", e.src)
					}
					got, _ := e.eval(f)
					if math.IsNaN(got) || math.IsInf(got, 0) {
						t.Fatalf("%q at %v %v: %v; a built-in must be finite everywhere", e.src, f.num, f.str, got)
					}
					want, err := vmValue(e, f)
					if err != nil {
						t.Fatalf("VM: %v", err)
					}
					if !sameNumber(got, want) {
						t.Fatalf("%q at %v: got %v, the VM %v", e.src, f.num, got, want)
					}
				}
			}
		})
	}
}

// TestCheckVarName checks which knob names expressions can use.
func TestCheckVarName(t *testing.T) {
	for name, ok := range map[string]bool{
		"worker_threads": true, "heap_mb": true, "_x2": true,
		"heap-mb": false, "2x": false, "load": false, "hour": false, "let": false, "exp": false, "max": false, "len": false,
	} {
		if got := checkVarName(name) == ""; got != ok {
			t.Errorf("checkVarName(%q) = %q, want ok %v", name, checkVarName(name), ok)
		}
	}
}
