package models

import (
	"fmt"
	"strings"
)

// ValidateConstraints returns every problem with cs, each naming its field
// relative to prefix (e.g. "constraints[1].max"): a metric name, each at most
// once (both bounds of a metric go in one constraint); at least one bound;
// finite bounds, max above min; a margin in [0%, 100%). Target files, space
// files and the optimizer all validate constraints with it.
func ValidateConstraints(prefix string, cs []Constraint) []FieldError {
	var errs []FieldError
	add := listErrors(prefix, &errs)
	seen := map[string]int{}
	for i, c := range cs {
		switch j, dup := seen[c.Metric]; {
		case strings.TrimSpace(c.Metric) == "":
			add(i, "metric", "expected a metric name")
		case dup:
			add(i, "metric", "duplicate metric %q (also %s[%d]); put both bounds in one constraint", c.Metric, prefix, j)
		default:
			seen[c.Metric] = i
		}
		if c.Max == nil && c.Min == nil {
			add(i, "", "expected a bound: max, min or both")
			continue
		}
		finite := true
		if c.Max != nil && !IsFinite(*c.Max) {
			add(i, "max", "expected a finite number, got %v", *c.Max)
			finite = false
		}
		if c.Min != nil && !IsFinite(*c.Min) {
			add(i, "min", "expected a finite number, got %v", *c.Min)
			finite = false
		}
		if finite && c.Max != nil && c.Min != nil && *c.Min >= *c.Max {
			add(i, "max", "expected max > min, got min %v and max %v", *c.Min, *c.Max)
		}
		if m := float64(c.Margin); !(m >= 0 && m < 1) {
			add(i, "margin", "expected a margin in [0%%, 100%%), like 10%%, got %v", c.Margin)
		}
	}
	return errs
}

// Validate returns every problem with r's radius and confidence, each
// naming its field as a target writes it under risk: max_step in (0, 1] (a
// share of each numeric knob's range), delta in [0, 0.5] (the chance of a
// broken guardrail a proposal may carry; 0 means the optimizer's default).
// The incumbent is checked against the space by the optimizer that is given
// r (Space.CheckConfig).
func (r TrustRegion) Validate() []FieldError {
	var errs []FieldError
	if !(r.MaxStep > 0 && r.MaxStep <= 1) {
		errs = append(errs, FieldError{Field: "max_step", Msg: fmt.Sprintf("expected max_step in (0, 1], got %v", r.MaxStep)})
	}
	if !(r.Delta >= 0 && r.Delta <= 0.5) {
		errs = append(errs, FieldError{Field: "delta", Msg: fmt.Sprintf("expected delta in (0, 0.5], got %v", r.Delta)})
	}
	return errs
}

// Validate returns every problem with p, each naming its field as a target
// or a space file writes it: the params (Space.Validate), the goal
// (objective.goal: minimize, maximize, or empty for minimize) and the
// constraints (ValidateConstraints).
func (p Problem) Validate() []FieldError {
	errs := p.Space.Validate("params")
	switch p.Goal {
	case "", Minimize, Maximize:
	default:
		errs = append(errs, FieldError{Field: "objective.goal", Msg: fmt.Sprintf("expected minimize or maximize, got %q", p.Goal)})
	}
	return append(errs, ValidateConstraints("constraints", p.Constraints)...)
}

// listErrors returns a function that appends to errs a problem with the
// field of a list's element i, prefix[i].field (prefix[i] when field is
// empty).
func listErrors(prefix string, errs *[]FieldError) func(i int, field, format string, args ...any) {
	return func(i int, field, format string, args ...any) {
		f := fmt.Sprintf("%s[%d]", prefix, i)
		if field != "" {
			f += "." + field
		}
		*errs = append(*errs, FieldError{Field: f, Msg: fmt.Sprintf(format, args...)})
	}
}
