package target

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// typedTarget is a valid target with a value of each kind the walker
// decodes: an integer, a number, a bool, a duration, a percent, a
// parameter's value, an enum, a list, inside plain structs and inside
// structs that decode themselves (judge rules).
const typedTarget = `name: typed
params:
  - {name: threads, type: int, min: 1, max: 64, current: 8, log: false}
objective: {metric: latency_p95_ms, goal: minimize}
telemetry: {simulator: {seed: 1}}
actuator: {simulator: {}}
canary:
  stages: [5, 100]
  verify_for: 5m
  judge:
    metrics:
      - {metric: latency_p95_ms, direction: increase, allowed_effect: 5%, critical: true}
risk: {quorum: 1, max_step: 0.25}
`

// withValues returns typedTarget with each old text replaced by its new
// one, each old text found exactly once.
func withValues(t *testing.T, oldNew ...string) string {
	t.Helper()
	s := typedTarget
	for i := 0; i+1 < len(oldNew); i += 2 {
		if n := strings.Count(s, oldNew[i]); n != 1 {
			t.Fatalf("%q is found %d times in typedTarget, want once", oldNew[i], n)
		}
		s = strings.Replace(s, oldNew[i], oldNew[i+1], 1)
	}
	return s
}

func TestParseTypeProblems(t *testing.T) {
	if _, err := Parse("x.yaml", []byte(typedTarget)); err != nil {
		t.Fatalf("typedTarget: %v", err)
	}
	tests := []struct {
		name     string
		old, new string
		want     Problem
	}{
		{"int", "quorum: 1", "quorum: two",
			Problem{Line: 13, Field: "risk.quorum", Msg: `expected an integer, got "two"`}},
		// yaml would truncate it to 1.
		{"int given a fraction", "quorum: 1", "quorum: 1.5",
			Problem{Line: 13, Field: "risk.quorum", Msg: `expected an integer, got "1.5"`}},
		{"float", "max_step: 0.25", "max_step: [0.25]",
			Problem{Line: 13, Field: "risk.max_step", Msg: "expected a number, got a list"}},
		{"float quoted", "max_step: 0.25", `max_step: "0.25"`,
			Problem{Line: 13, Field: "risk.max_step", Msg: `expected a number, got "0.25"`}},
		{"bool", "log: false", "log: maybe",
			Problem{Line: 3, Field: "params[0].log", Msg: `expected true or false, got "maybe"`}},
		{"bool in a rule, which decodes itself", "critical: true", "critical: 2",
			Problem{Line: 12, Field: "canary.judge.metrics[0].critical", Msg: `expected true or false, got "2"`}},
		{"duration", "verify_for: 5m", "verify_for: 5 minutes",
			Problem{Line: 9, Field: "canary.verify_for", Msg: `expected a duration such as 30s, 5m, 24h or 30d, got "5 minutes"`}},
		{"duration given a mapping", "verify_for: 5m", "verify_for: {minutes: 5}",
			Problem{Line: 9, Field: "canary.verify_for", Msg: "expected a duration such as 30s, 5m, 24h or 30d, got a mapping"}},
		{"percent", "allowed_effect: 5%", "allowed_effect: five",
			Problem{Line: 12, Field: "canary.judge.metrics[0].allowed_effect", Msg: `expected a relative effect like 5%, +5% or 0.05, got "five"`}},
		{"percent given a list", "allowed_effect: 5%", "allowed_effect: [5%]",
			Problem{Line: 12, Field: "canary.judge.metrics[0].allowed_effect", Msg: "expected a relative effect like 5%, +5% or 0.05, got a list"}},
		{"param value", "current: 8", "current: {n: 8}",
			Problem{Line: 3, Field: "params[0].current", Msg: "expected a number or a string, got a mapping"}},
		{"enum", "goal: minimize", "goal: [minimize]",
			Problem{Line: 4, Field: "objective.goal", Msg: "expected a string, got a list"}},
		{"list", "stages: [5, 100]", "stages: 100",
			Problem{Line: 8, Field: "canary.stages", Msg: `expected a list, got "100"`}},
		{"list item", "stages: [5, 100]", "stages: [5, half]",
			Problem{Line: 8, Field: "canary.stages[1]", Msg: `expected a number, got "half"`}},
		{"struct", "risk: {quorum: 1, max_step: 0.25}", "risk: high",
			Problem{Line: 13, Field: "risk", Msg: `expected a mapping, got "high"`}},
		{"rule, which decodes itself, given a scalar", "- {metric: latency_p95_ms, direction: increase, allowed_effect: 5%, critical: true}", "- latency_p95_ms",
			Problem{Line: 12, Field: "canary.judge.metrics[0]", Msg: `expected a mapping, got "latency_p95_ms"`}},
		{"unknown field in a rule", "critical: true", "critical: true, weigth: 2",
			Problem{Line: 12, Field: "canary.judge.metrics[0]", Msg: `unknown field "weigth"; expected one of metric, direction, allowed_effect, weight, critical, min_samples, detect_effect`}},
		{"key that is no field name", "risk: {quorum: 1, max_step: 0.25}", "risk: {quorum: 1, max_step: 0.25, [a]: 1}",
			Problem{Line: 13, Field: "risk", Msg: "expected a field name as a key, got a list"}},
		{"merge of a scalar", "risk: {quorum: 1, max_step: 0.25}", "risk: {<<: 5, quorum: 1, max_step: 0.25}",
			Problem{Line: 13, Field: "risk.<<", Msg: `expected a mapping or a list of mappings to merge, got "5"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("x.yaml", []byte(withValues(t, tt.old, tt.new)))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse = %v, want an *Error", err)
			}
			if !reflect.DeepEqual(s, Spec{}) {
				t.Errorf("Parse returned a non-zero Spec with an error: %+v", s)
			}
			if len(e.Problems) != 1 || e.Problems[0] != tt.want {
				t.Errorf("Parse problems = %+v, want [%+v]", e.Problems, tt.want)
			}
		})
	}
}

// TestParseAllTypeProblems checks that every bad value of a file is
// reported at once, each on its line, in the order of the lines, beside
// the problems of other kinds (unknown and repeated keys, validation).
func TestParseAllTypeProblems(t *testing.T) {
	data := withValues(t,
		"name: typed", "name: Typed",
		"current: 8, log: false", "current: [8], log: maybe",
		"goal: minimize", "goal: [minimize]",
		"telemetry: {simulator: {seed: 1}}", "telemetry: {simulator: {seed: -1, colour: red}}",
		"verify_for: 5m", "verify_for: 5 minutes\n  verify_for: 6m",
		"allowed_effect: 5%, critical: true", "allowed_effect: five, critical: 2",
		"quorum: 1", "quorum: two",
	)
	_, err := Parse("x.yaml", []byte(data))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Parse = %v, want an *Error", err)
	}
	want := []Problem{
		{Line: 1, Field: "name", Msg: `expected lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters, got "Typed"`},
		{Line: 3, Field: "params[0].current", Msg: "expected a number or a string, got a list"},
		{Line: 3, Field: "params[0].log", Msg: `expected true or false, got "maybe"`},
		{Line: 4, Field: "objective.goal", Msg: "expected a string, got a list"},
		{Line: 5, Field: "telemetry.simulator.seed", Msg: `expected a non-negative integer, got "-1"`},
		{Line: 5, Field: "telemetry.simulator", Msg: `unknown field "colour"; expected one of model, seed, noise, scrape, regression`},
		{Line: 9, Field: "canary.verify_for", Msg: `expected a duration such as 30s, 5m, 24h or 30d, got "5 minutes"`},
		{Line: 10, Field: "canary.verify_for", Msg: "repeated key; it is already set on line 9"},
		{Line: 13, Field: "canary.judge.metrics[0].allowed_effect", Msg: `expected a relative effect like 5%, +5% or 0.05, got "five"`},
		{Line: 13, Field: "canary.judge.metrics[0].critical", Msg: `expected true or false, got "2"`},
		{Line: 14, Field: "risk.quorum", Msg: `expected an integer, got "two"`},
	}
	if !reflect.DeepEqual(e.Problems, want) {
		t.Errorf("Parse problems:\n%v\nwant:\n%v", err, &Error{File: "x.yaml", Problems: want})
	}
}
