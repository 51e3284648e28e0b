package judge

import (
	"fmt"
	"github.com/passflow/passflow/models"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestJudgeReport simulates the judge for BENCHMARKS.md. It is gated:
//
//	PASSFLOW_JUDGE_REPORT=1 go test -run TestJudgeReport -v ./models/
//
// and writes the "## Canary judge (issue 4)" section of ../../BENCHMARKS.md.
func TestJudgeReport(t *testing.T) {
	if os.Getenv("PASSFLOW_JUDGE_REPORT") == "" {
		t.Skip("set PASSFLOW_JUDGE_REPORT=1 to run the judge simulation report")
	}
	const reps = 2000
	start := time.Now()
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("## Canary judge (issue 4)\n\n")
	p("Measured, not asserted: `PASSFLOW_JUDGE_REPORT=1 go test -run TestJudgeReport -v ./models/` (%d repetitions per row, seeded).\n", reps)
	p("Machine: %s, %d CPUs (`nproc`); %s.\n\n", cpuModel(), runtime.NumCPU(), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	p("Simulation. One sample per 15 s scrape; the default window is `verify_for: 30m`, so 120 samples per cohort, and a look every minute (4 samples). ")
	p("Each sample of `latency_ms` (a per-scrape p95) is 100·exp(σ·Z + d_t): Z independent normal per cohort and scrape, σ = 0.05 (low noise) or 0.20 (high noise, a small canary cohort), ")
	p("d_t a slow drift shared by both cohorts (AR(1), ρ = 0.95, SD 0.05: load changes during the window). `cpu` is 0.5·exp(0.05·Z + d_t). ")
	p("Rules: the example's metrics.yaml (latency_ms critical, increase bad, +5%%; cpu increase bad, +5%%; confidence 0.98); guardrail latency_ms ≤ 150 for the sequential check. ")
	p("A stage is rolled back when the sequential check aborts it at any look or the final verdict is fail; marginal is reported apart.\n\n")

	cfg := Config{Rules: []Rule{
		{Metric: "latency_ms", Direction: Increase, AllowedEffect: 0.05, Critical: true},
		{Metric: "cpu", Direction: Increase, AllowedEffect: 0.05},
	}}
	slo := []models.Constraint{{Metric: "latency_ms", Max: ptr(150)}}

	type scenario struct {
		sigma, reg float64
		n          int
		rho        float64 // per-cohort AR(1) of the noise (0: independent scrapes)
		extend     bool    // extend the window to SamplesNeeded, capped at 240 (1 h)
	}
	type outcome struct{ fail, marginal, abort, rollback, lowConf, n int }
	run := func(s scenario, seed uint64) outcome {
		rng := rand.New(rand.NewPCG(seed, 99))
		var o outcome
		for r := 0; r < reps; r++ {
			const maxN = 240
			drift := ar1(rng, maxN, 0.95, 0.05)
			base := simCohort(rng, drift, maxN, s.sigma, 1, s.rho)
			can := simCohort(rng, drift, maxN, s.sigma, 1+s.reg, s.rho)
			n := s.n
			if s.extend {
				head := map[string][]float64{"latency_ms": base["latency_ms"][:s.n], "cpu": base["cpu"][:s.n]}
				n = min(maxN, max(s.n, cfg.SamplesNeeded(head)))
			}
			o.n += n
			aborted := false
			for k := 1; 4*k <= n; k++ {
				res, _ := CheckSequential(cfg, slo, cut(base, 4*k), cut(can, 4*k))
				if res.Breach {
					aborted = true
					break
				}
			}
			v, _ := Judge(cfg, cut(base, n), cut(can, n))
			switch v.Verdict {
			case VerdictFail:
				o.fail++
			case VerdictMarginal:
				o.marginal++
			}
			if v.LowConfidence {
				o.lowConf++
			}
			if aborted {
				o.abort++
			}
			if aborted || v.Verdict == VerdictFail {
				o.rollback++
			}
		}
		return o
	}
	pct := func(k int) string { return fmt.Sprintf("%.2f%%", 100*float64(k)/reps) }
	var summary []string
	note := func(format string, args ...any) { summary = append(summary, fmt.Sprintf(format, args...)) }

	p("### A/A: false rollbacks (target ≤ 2%%)\n\n")
	p("| noise | samples/cohort | final verdict fail | marginal | sequential abort | rolled back (either) | low-confidence |\n|---|---|---|---|---|---|---|\n")
	for i, s := range []scenario{{sigma: 0.05, n: 120}, {sigma: 0.20, n: 120}, {sigma: 0.20, n: 120, rho: 0.5}} {
		o := run(s, uint64(100+i))
		label := fmt.Sprintf("σ = %.2f", s.sigma)
		if s.rho > 0 {
			label += fmt.Sprintf(", autocorrelated scrapes (AR(1) ρ = %.1f)", s.rho)
		}
		p("| %s | %d | %s | %s | %s | **%s** | %s |\n", label, s.n, pct(o.fail), pct(o.marginal), pct(o.abort), pct(o.rollback), pct(o.lowConf))
		met := "met"
		if o.rollback > reps*2/100 {
			met = "**missed**"
		}
		note("A/A false rollbacks, %s: %s (target ≤ 2%%: %s)", label, pct(o.rollback), met)
	}

	p("\n### Injected p95-latency regressions: power (target: 10%% caught ≥ 95%% at the default window)\n\n")
	p("| noise | regression | window | mean samples/cohort | caught (rolled back) | final verdict fail | sequential abort | low-confidence |\n|---|---|---|---|---|---|---|---|\n")
	for i, s := range []scenario{
		{sigma: 0.05, reg: 0.05, n: 120}, {sigma: 0.05, reg: 0.10, n: 120}, {sigma: 0.05, reg: 0.25, n: 120},
		{sigma: 0.20, reg: 0.05, n: 120}, {sigma: 0.20, reg: 0.10, n: 120}, {sigma: 0.20, reg: 0.25, n: 120},
		{sigma: 0.20, reg: 0.10, n: 120, extend: true},
		{sigma: 0.20, reg: 0.10, n: 180}, {sigma: 0.20, reg: 0.10, n: 240},
	} {
		o := run(s, uint64(200+i))
		win := "default 30m"
		if s.n != 120 {
			win = fmt.Sprintf("fixed %dm", s.n/4)
		}
		if s.extend {
			win = "extended to SamplesNeeded, cap 1h"
		}
		p("| σ = %.2f | +%.0f%% | %s | %.0f | **%s** | %s | %s | %s |\n", s.sigma, 100*s.reg, win, float64(o.n)/reps, pct(o.rollback), pct(o.fail), pct(o.abort), pct(o.lowConf))
		if s.reg == 0.10 {
			met := "met"
			if o.rollback < reps*95/100 {
				met = "**missed**"
			}
			note("10%% regression caught, σ = %.2f, %s: %s (target ≥ 95%%: %s)", s.sigma, win, pct(o.rollback), met)
		}
	}

	p("\n### Critical breach during the wait: looks until abort (target ≤ 2)\n\n")
	p("The canary's latency doubles (median 200 ms against the 150 ms guardrail and the +5%% critical rule). Looks every minute, 4 samples each. ")
	p("\"both tests\" runs the config above (critical relative rule and guardrail); \"guardrail alone\" makes latency_ms non-critical, so only the absolute check on the canary's own level can abort.\n\n")
	p("| noise | tests | breach starts | mean looks to abort (after the start) | p95 | max | aborted within 2 looks | never aborted in the wait |\n|---|---|---|---|---|---|---|---|\n")
	sloOnly := Config{Rules: []Rule{
		{Metric: "latency_ms", Direction: Increase, AllowedEffect: 0.05},
		{Metric: "cpu", Direction: Increase, AllowedEffect: 0.05},
	}}
	for i, c := range []struct {
		sigma   float64
		onset   int // look after which the breach starts
		sloOnly bool
	}{{0.05, 0, false}, {0.20, 0, false}, {0.05, 10, false}, {0.20, 10, false}, {0.05, 0, true}, {0.20, 0, true}, {0.05, 10, true}, {0.20, 10, true}} {
		ccfg, tests := cfg, "both tests"
		if c.sloOnly {
			ccfg, tests = sloOnly, "guardrail alone"
		}
		rng := rand.New(rand.NewPCG(uint64(300+i), 99))
		var looks []int
		never := 0
		for r := 0; r < reps; r++ {
			drift := ar1(rng, 120, 0.95, 0.05)
			base := simCohort(rng, drift, 120, c.sigma, 1, 0)
			can := simCohort(rng, drift, 120, c.sigma, 1, 0)
			for j := 4 * c.onset; j < 120; j++ {
				can["latency_ms"][j] *= 2
			}
			got := 0
			for k := c.onset + 1; k <= 30; k++ {
				res, _ := CheckSequential(ccfg, slo, cut(base, 4*k), cut(can, 4*k))
				if res.Breach {
					got = k - c.onset
					break
				}
			}
			if got == 0 {
				never++
				continue
			}
			looks = append(looks, got)
		}
		mean, p95, mx, within := looksStats(looks)
		onset := "with the stage"
		if c.onset > 0 {
			onset = fmt.Sprintf("after %d min", c.onset)
		}
		p("| σ = %.2f | %s | %s | %.2f | %d | %d | %s | %s |\n", c.sigma, tests, onset, mean, p95, mx, pct(within), pct(never))
		met := "met"
		if mean > 2 || p95 > 2 {
			met = "**missed**"
		}
		note("critical breach %s, %s, σ = %.2f: %.2f looks on average, p95 %d (target ≤ 2: %s)", onset, tests, c.sigma, mean, p95, met)
	}
	p("\nSequential method: change-point e-detector (Shiryaev–Roberts mixture of Gaussian likelihood ratios on standardized, clipped log-scale scores; breach start uniform over the first 240 samples; anytime-valid by Ville's inequality when the noise scale is right), noise scale from the residuals of the best single mean shift, inflated for lag-1 autocorrelation (bias-corrected, shrunk toward 0.5 on few samples, taken at its upper one-SE bound); α = 1 − confidence = 2%% split over the watched tests (2 with both tests, 1 for the guardrail alone), see `judge.CheckSequential`.\n")
	p("\n### Against the targets\n\n")
	for _, line := range summary {
		p("- %s\n", line)
	}
	p("\nReading. The final verdict now deflates the effective sample for autocorrelated scrapes (lag-1 autocorrelation of the scrape-paired rank-score differences, AR(1) variance factor): its A/A fail rate with AR(1) ρ = 0.5 scrapes is back at the nominal level; what remains above 2%% there is the sequential check, whose noise scale is estimated from few samples at the first looks. ")
	p("Power: at σ = 0.20 a +10%% regression is 3.5 standard errors of a 120-sample comparison (log 1.1 / (0.206·√(2/120)), shared drift included); even the optimal parametric test at a one-sided 2%% level would catch it only about 95%% of the time, leaving nothing of the 2%% A/A budget to the sequential check, the cpu rule or autocorrelation. ")
	p("So 95%% at the default 30 m is not reachable at this noise without breaking the A/A target; the judge marks those verdicts low-confidence (it needs about 155 samples), 45 m (180 samples) reaches it, and the SamplesNeeded extension (sized for exactly 95%% from a noisy SD, mean 153 samples) falls just short (rows above). ")
	p("Breach: the relative check (canary vs baseline, drift cancelled) aborts within 1–2 looks at low noise whether the breach starts with the stage or mid-wait; at σ = 0.20 the guardrail alone (200 ms vs 150 ms is 1.4 noise SDs a sample) needs more looks: with α held at 2%% over the wait, 8 samples are not enough evidence.\n\n")
	p("Report took %s.\n", time.Since(start).Round(time.Second))

	t.Log("\n" + b.String())
	if err := writeSection("../../BENCHMARKS.md", "## Canary judge (issue 4)", b.String()); err != nil {
		t.Fatal(err)
	}
}

// simCohort draws n samples of latency_ms and cpu for one cohort.
func simCohort(rng *rand.Rand, drift []float64, n int, sigma, mult, rho float64) map[string][]float64 {
	noise := ar1(rng, n, rho, 1)
	lat := make([]float64, n)
	cpu := make([]float64, n)
	for i := 0; i < n; i++ {
		lat[i] = mult * 100 * math.Exp(sigma*noise[i]+drift[i])
		cpu[i] = 0.5 * math.Exp(0.05*rng.NormFloat64()+drift[i])
	}
	return map[string][]float64{"latency_ms": lat, "cpu": cpu}
}

// ar1 is a stationary AR(1) series with coefficient rho and marginal SD sd.
func ar1(rng *rand.Rand, n int, rho, sd float64) []float64 {
	out := make([]float64, n)
	x := rng.NormFloat64()
	innov := math.Sqrt(1 - rho*rho)
	for i := range out {
		if i > 0 {
			x = rho*x + innov*rng.NormFloat64()
		}
		out[i] = sd * x
	}
	return out
}

func cut(m map[string][]float64, n int) map[string][]float64 {
	out := make(map[string][]float64, len(m))
	for k, v := range m {
		out[k] = v[:min(n, len(v))]
	}
	return out
}

func looksStats(looks []int) (mean float64, p95, mx int, within int) {
	if len(looks) == 0 {
		return 0, 0, 0, 0
	}
	s := append([]int(nil), looks...)
	for i := 1; i < len(s); i++ { // insertion sort: small ints
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	for _, k := range s {
		mean += float64(k)
		if k <= 2 {
			within++
		}
	}
	return mean / float64(len(s)), s[int(math.Ceil(0.95*float64(len(s))))-1], s[len(s)-1], within
}

func cpuModel() string {
	out, err := exec.Command("sh", "-c", "lscpu | grep 'Model name'").Output()
	if err != nil {
		return "unknown CPU"
	}
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "Model name:"))
}

// writeSection replaces the section starting with heading (up to the next
// "## " heading) in path, or appends it.
func writeSection(path, heading, body string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	if i := strings.Index(s, heading); i >= 0 {
		rest := s[i+len(heading):]
		end := len(s)
		if j := strings.Index(rest, "\n## "); j >= 0 {
			end = i + len(heading) + j + 1
		}
		s = s[:i] + body + "\n" + s[end:]
	} else {
		if s != "" && !strings.HasSuffix(s, "\n\n") {
			s += "\n"
		}
		if s == "" {
			s = "# Benchmarks\n\n"
		}
		s += body
	}
	return os.WriteFile(path, []byte(s), 0o644)
}
