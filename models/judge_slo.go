package models

import (
	"fmt"
)

// SLOBreach is one absolute guardrail the canary broke during a stage.
type SLOBreach struct {
	Metric string `json:"metric"`
	// Constraint is the guardrail as text, "latency_p95_ms <= 200".
	Constraint string `json:"constraint"`
	// Value is the canary's window mean (0 when there is no data), N the
	// number of finite samples it is the mean of.
	Value  float64 `json:"value"`
	N      int     `json:"n"`
	NoData bool    `json:"no_data,omitempty"`
	Why    string  `json:"why"`
}

// CheckSLOs checks each constraint of the target against the canary's samples
// of the stage window, absolutely: the statistic compared is the mean of the
// window's finite samples of the constraint's metric (for a series of
// per-scrape p95 latencies, the window's average p95), the same statistic an
// observation records for the optimizer. A constraint whose metric has no
// finite sample is a breach too: a guardrail is never assumed to hold on
// missing data. A breach fails the stage, whatever the relative judge says.
// The result is empty when every constraint holds.
func CheckSLOs(constraints []Constraint, canary map[string][]float64) []SLOBreach {
	var out []SLOBreach
	for _, c := range constraints {
		x, dropped := finiteSorted(canary[c.Metric])
		if len(x) == 0 {
			out = append(out, SLOBreach{
				Metric: c.Metric, Constraint: c.String(), NoData: true,
				Why: fmt.Sprintf("no finite canary samples of %s (%d NaN/Inf dropped); the guardrail cannot be shown to hold", c.Metric, dropped),
			})
			continue
		}
		mean, _ := sampleMeanSD(x)
		if !c.Holds(mean) {
			out = append(out, SLOBreach{
				Metric: c.Metric, Constraint: c.String(), Value: mean, N: len(x),
				Why: fmt.Sprintf("canary mean %.4g over %d samples breaks %s", mean, len(x), c),
			})
		}
	}
	return out
}
