package judge_test

import (
	"fmt"
	"math"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/models/judge"
)

func ExampleJudge() {
	cfg := judge.Config{Rules: []judge.Rule{
		{Metric: "latency_ms", Direction: judge.Increase, AllowedEffect: 0.05, Critical: true},
		{Metric: "cpu", Direction: judge.Increase, AllowedEffect: 0.05},
	}}
	baseline := map[string][]float64{}
	canary := map[string][]float64{}
	for i := 0; i < 40; i++ {
		// Deterministic noise in [−1, 1], autocorrelated (sin 7i turns by
		// 0.72 rad a step), so the judge widens the interval for it.
		wiggle := math.Sin(float64(7 * i))
		baseline["latency_ms"] = append(baseline["latency_ms"], 100+10*wiggle)
		canary["latency_ms"] = append(canary["latency_ms"], 1.2*(100+10*math.Cos(float64(5*i))))
		baseline["cpu"] = append(baseline["cpu"], 0.5+0.05*wiggle)
		canary["cpu"] = append(canary["cpu"], 0.5+0.05*math.Cos(float64(3*i)))
	}
	v, err := judge.Judge(cfg, baseline, canary)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range v.Metrics {
		fmt.Printf("%s: %s, shift %+.1f%% [%+.1f%%, %+.1f%%]\n", m.Metric, m.Class, 100*m.RelShift, 100*m.RelCILow, 100*m.RelCIHigh)
	}
	fmt.Printf("%s, score %.0f\n", v.Verdict, v.Score)
	// Output:
	// latency_ms: high, shift +19.6% [+10.7%, +27.2%]
	// cpu: pass, shift -0.4% [-4.5%, +2.9%]
	// fail, score 50
}

func ExampleBudgetGate() {
	// SLO 99.9%; errors over the last 1h and 6h at 0.3% and 0.2%: burning at
	// 3x and 2x, both over a max burn rate of 1.
	ok, reason := models.BudgetGate(0.999, 1, 0.003, 0.002, 0.6)
	fmt.Println(ok, reason)
	// Output:
	// false error budget burning at 3.00x (short window) and 2.00x (long window), over the max burn rate 1.00x
}
