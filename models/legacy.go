package models

import "math"

// RepairLegacy returns obs with the values older passes made up removed.
// Before observations carried labels, a guardrail that failed a canary stage
// was recorded as its limit pushed 1% past (max + 1%·|max|, min − 1%·|min|),
// a value never measured, which taught the optimizer a cliff that was not
// there. Such a value, in an observation without a verdict, is dropped and
// the guardrail labeled violated instead; every other value is kept as it
// was measured. n counts the values repaired. obs itself is not modified.
func RepairLegacy(obs []Observation, constraints []Constraint) (out []Observation, n int) {
	out = make([]Observation, len(obs))
	for i, o := range obs {
		out[i] = o
		if o.Verdict != "" || len(o.Constraints) == 0 {
			continue
		}
		var cs map[string]float64
		for _, c := range constraints {
			v, ok := o.Constraints[c.Metric]
			if !ok || !fabricated(c, v) {
				continue
			}
			if cs == nil {
				cs = make(map[string]float64, len(o.Constraints))
				for k, x := range o.Constraints {
					cs[k] = x
				}
				out[i].Violated = append([]string(nil), o.Violated...)
			}
			delete(cs, c.Metric)
			out[i].Violated = append(out[i].Violated, c.Metric)
			n++
		}
		if cs != nil {
			out[i].Constraints = cs
		}
	}
	return out, n
}

// fabricated reports whether v is the value older passes made up for a
// broken guardrail c.
func fabricated(c Constraint, v float64) bool {
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(b), 1e-12) }
	if c.Max != nil && near(v, *c.Max+0.01*math.Max(math.Abs(*c.Max), 1e-9)) {
		return true
	}
	return c.Min != nil && near(v, *c.Min-0.01*math.Max(math.Abs(*c.Min), 1e-9))
}
