package simulations

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/passflow/passflow/target"
)

// TestScenarioFixtures checks that each malformed scenario file under
// testdata/scenarios gets one error naming the file, the line, the field
// and what was expected.
func TestScenarioFixtures(t *testing.T) {
	tests := []struct {
		file  string
		line  int
		field string
		msg   string
	}{
		{"unknown-field.yaml", 14, "metrics.latency_ms.nosie", "unknown field; expected one of expr, noise, autocorr, ratio"},
		{"bad-expression.yaml", 12, "metrics.latency_ms.expr", "unexpected token EOF"},
		{"undefined-variable.yaml", 12, "metrics.latency_ms.expr", `undefined variable "thread"; expected one of day, drift, gc, hour, load, ramp, threads`},
		{"type-error.yaml", 14, "metrics.cost.expr", "mismatched types float64 and string"},
		{"not-a-number.yaml", 12, "metrics.latency_ms.expr", "expected a number, got a condition"},
		{"block-expression.yaml", 14, "metrics.latency_ms.expr", "mismatched types float64 and string"},
		{"bad-noise.yaml", 13, "metrics.latency_ms.noise", "expected a relative standard deviation in [0, 1), e.g. 0.1, got 1.5"},
		{"noise-not-a-number.yaml", 13, "metrics.latency_ms.noise", `expected a number, got "ten percent"`},
		{"missing-objective-metric.yaml", 6, "target.objective.metric", `has no metric "cost"; expected one of costs, latency_ms`},
		{"missing-constraint-metric.yaml", 8, "target.constraints[0].metric", `has no metric "latency_p99_ms"`},
		{"no-metrics.yaml", 0, "metrics", "expected the metrics"},
		{"bad-target.yaml", 9, "target.risk.approval_from", `expected low, medium, high or forbidden (never ask), got "sometimes"`},
		{"target-unknown-field.yaml", 6, "target.objective", `unknown field "weight"`},
		{"simulator-noise.yaml", 11, "target.telemetry.simulator.noise", "set by the scenario"},
		{"knob-name.yaml", 4, "target.params[0].name", `"load" is a variable every expression already has`},
		{"fault-unknown-metric.yaml", 17, "faults.regression.metrics[1]", `unknown metric "errors"; expected one of cost, latency_ms`},
		{"bad-approver.yaml", 16, "operator.approver", `expected one of the target's risk.approvers (alice), got "mallory"`},
		{"bad-schedule.yaml", 15, "schedule.start", `expected an RFC 3339 time such as 2026-01-05T13:00:00Z, got "2026-01-05 13:00"`},
		{"bad-var.yaml", 12, "vars.wait", `undefined variable "later"`},
	}
	files, err := filepath.Glob("testdata/scenarios/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("%d fixtures in testdata/scenarios, %d in the table", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "scenarios", tt.file)
			_, err := LoadScenario(path)
			checkProblem(t, err, path, tt.line, tt.field, tt.msg)
		})
	}
}

// checkProblem checks that err is a *target.Error of file holding exactly
// one problem, at line and field, whose message contains msg, and that
// the error's text reads FILE:LINE: FIELD: MSG.
func checkProblem(t *testing.T, err error, file string, line int, field, msg string) {
	t.Helper()
	var te *target.Error
	if !errors.As(err, &te) {
		t.Fatalf("got %v (%T), want a *target.Error", err, err)
	}
	if te.File != file || len(te.Problems) != 1 {
		t.Fatalf("got %d problems in %q, want one in %q:\n%v", len(te.Problems), te.File, file, err)
	}
	p := te.Problems[0]
	if p.Line != line || p.Field != field || !strings.Contains(p.Msg, msg) {
		t.Errorf("got line %d field %q msg %q, want line %d field %q msg containing %q", p.Line, p.Field, p.Msg, line, field, msg)
	}
	want := file + ":"
	if line > 0 {
		want += strconv.Itoa(line) + ":"
	}
	if field != "" {
		want += " " + field + ":"
	}
	if !strings.HasPrefix(err.Error(), want+" ") {
		t.Errorf("error text %q does not start with %q", err, want+" ")
	}
}

// minimal is a valid scenario, small enough to read in a test.
const minimal = `name: minimal
target:
  params:
    - {name: threads, type: int, min: 4, max: 64, current: 16}
  objective: {metric: cost, goal: minimize}
  constraints:
    - {metric: latency_ms, max: 200}
  risk: {approvers: [alice]}
metrics:
  latency_ms: {expr: "50 / (1 - min(load * 4 / threads, 0.95))"}
  cost: {expr: threads}
schedule: {start: "2026-01-05T13:00:00Z"}
`

// TestParseScenarioProblems checks the file-level problems and the
// problems found in the scenario's own fields.
func TestParseScenarioProblems(t *testing.T) {
	tests := []struct {
		name  string
		data  string
		line  int
		field string
		msg   string
	}{
		{"empty", "", 0, "", "empty file; expected a scenario"},
		{"list", "- a\n- b\n", 1, "", "expected a mapping at the top level, got a list"},
		{"two documents", minimal + "---\nname: other\n", 13, "", "a second YAML document"},
		{"repeated key", strings.Replace(minimal, "name: minimal\n", "name: minimal\nname: again\n", 1), 2, "name", "repeated key; it is already set on line 1"},
		{"bad name", strings.Replace(minimal, "name: minimal", "name: Web_API", 1), 1, "name", "expected lowercase letters"},
		{"web", strings.Replace(minimal, "name: minimal", "name: web", 1), 1, "name", "names the built-in response surface"},
		{"no target", minimal[:strings.Index(minimal, "target:")] + minimal[strings.Index(minimal, "metrics:"):], 0, "target", "expected the target"},
		{"target not a mapping", minimal[:strings.Index(minimal, "target:")] + "target: web-api\n" + minimal[strings.Index(minimal, "metrics:"):], 2, "target", `expected a mapping: the body of a target file, got "web-api"`},
		{"bad load", minimal + "load: {diurnal: 1.5}\n", 13, "load.diurnal", "expected an amplitude in [0, 1), got 1.5"},
		{"bad answer", minimal + "operator: {answer: maybe}\n", 13, "operator.answer", `expected approve, reject or timeout, got "maybe"`},
		{"bad duration", minimal + "operator: {after: soon}\n", 13, "operator.after", `expected a duration such as 30s, 10m or 24h, got "soon"`},
		{"bad autocorr", strings.Replace(minimal, `cost: {expr: threads}`, `cost: {expr: threads, autocorr: 0.99}`, 1), 11, "metrics.cost.autocorr", "expected a correlation in [0, 0.97], got 0.99"},
		{"bad ratio", strings.Replace(minimal, `cost: {expr: threads}`, `cost: {expr: threads, ratio: yes}`, 1), 11, "metrics.cost.ratio", `expected true or false, got "yes"`},
		{"ratio above 1", strings.Replace(minimal, `cost: {expr: threads}`, `cost: {expr: threads, ratio: true}`, 1), 11, "metrics.cost.expr", "not a fraction in [0, 1]"},
		{"infinite", strings.Replace(minimal, `cost: {expr: threads}`, `cost: {expr: threads / (hour - hour)}`, 1), 11, "metrics.cost.expr", "at the current configuration at 00:00 of day 0: gives +Inf"},
		{"bad metric name", strings.Replace(minimal, `cost: {expr: threads}`, "cost: {expr: threads}\n  Cost-2: {expr: 1}", 1), 12, "metrics.Cost-2", "expected a metric name"},
		{"bad fault", minimal + "faults:\n  actuator_errors: {probability: 1}\n", 14, "faults.actuator_errors.probability", "expected a probability in [0, 1), got 1"},
		{"timeout without delay", minimal + "faults:\n  actuator_timeouts: {probability: 0.1}\n", 14, "faults.actuator_timeouts.delay", "a duration > 0"},
		{"neighbour below 1", minimal + "faults:\n  noisy_neighbour: {probability: 0.1, factor: 0.5, metrics: [cost]}\n", 14, "faults.noisy_neighbour.factor", "expected a factor >= 1"},
		{"no approvers", strings.Replace(minimal, "  risk: {approvers: [alice]}\n", "", 1), 2, "target.risk.approvers", "expected the approvers"},
		{"other model", strings.Replace(minimal, "  risk: {approvers: [alice]}\n", "  risk: {approvers: [alice]}\n  telemetry: {simulator: {model: web}}\n", 1), 9, "target.telemetry.simulator.model", `expected "minimal", the scenario's name, or nothing, got "web"`},
		{"prometheus", strings.Replace(minimal, "  risk: {approvers: [alice]}\n", "  risk: {approvers: [alice]}\n  telemetry: {prometheus: {url: http://p}}\n", 1), 9, "target.telemetry", "expected the scenario's simulator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseScenario("s.yaml", []byte(tt.data))
			checkProblem(t, err, "s.yaml", tt.line, tt.field, tt.msg)
		})
	}
}

// TestParseScenarioDefaults checks what a scenario file may leave out.
func TestParseScenarioDefaults(t *testing.T) {
	s, err := ParseScenario("minimal.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	spec := s.Target()
	switch {
	case spec.Name != "minimal":
		t.Errorf("target name %q, want the scenario's", spec.Name)
	case spec.Telemetry.Simulator == nil || spec.Telemetry.Simulator.Model != "minimal" || spec.Telemetry.Simulator.Scrape != target.Duration(DefaultScenarioScrape):
		t.Errorf("telemetry %+v, want the simulator named minimal, scrape %v", spec.Telemetry.Simulator, DefaultScenarioScrape)
	case spec.Actuator.Simulator == nil:
		t.Errorf("actuator %+v, want the simulator", spec.Actuator)
	case s.Scrape() != DefaultScenarioScrape:
		t.Errorf("Scrape() = %v, want %v", s.Scrape(), DefaultScenarioScrape)
	case s.Load() != ScenarioLoad{Base: 1}:
		t.Errorf("Load() = %+v, want a constant 1", s.Load())
	case s.Operator() != Operator{Answer: AnswerApprove, After: DefaultOperatorAfter, Approver: "alice"}:
		t.Errorf("Operator() = %+v, want approve after %v as alice", s.Operator(), DefaultOperatorAfter)
	case s.PassEvery() != 24*time.Hour:
		t.Errorf("PassEvery() = %v, want 24h", s.PassEvery())
	case s.Faults() != ScenarioFaults{}:
		t.Errorf("Faults() = %+v, want none", s.Faults())
	}
	if m := s.metrics[s.index["cost"]]; m.Noise != DefaultNoise || m.Autocorr != 0 || m.Ratio {
		t.Errorf("cost metric %+v, want noise %v, no autocorrelation, not a ratio", m.ScenarioMetric, DefaultNoise)
	}
	// A target file that names the scenario's model validates too.
	other := `name: elsewhere
params: [{name: threads, type: int, min: 4, max: 64}]
objective: {metric: cost, goal: minimize}
telemetry: {simulator: {model: minimal}}
actuator: {simulator: {}}
`
	if _, err := target.Parse("elsewhere.yaml", []byte(other)); err != nil {
		t.Errorf("a target naming the scenario's model: %v", err)
	}
}

// TestParseScenarioMergeAndAliases checks that YAML anchors, aliases and
// merge keys work in a scenario file, the target block included.
func TestParseScenarioMergeAndAliases(t *testing.T) {
	data := `name: merged
defaults: &noisy {noise: 0.1, autocorr: 0.2}
`
	// defaults is not a field: anchors must live in fields.
	if _, err := ParseScenario("m.yaml", []byte(data+minimal[len("name: minimal\n"):])); err == nil {
		t.Fatal("an unknown top-level key was accepted")
	}
	data = strings.Replace(minimal, "name: minimal", "name: merged", 1)
	data = strings.Replace(data, `latency_ms: {expr: "50 / (1 - min(load * 4 / threads, 0.95))"}`,
		`latency_ms: &lat {expr: "50 / (1 - min(load * 4 / threads, 0.95))", noise: 0.1, autocorr: 0.2}`, 1)
	data = strings.Replace(data, `cost: {expr: threads}`, `cost: {<<: *lat, expr: threads}`, 1)
	data = strings.Replace(data, "  risk: {approvers: [alice]}", "  risk: &risk {approvers: [alice]}", 1)
	s, err := ParseScenario("m.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if m := s.metrics[s.index["cost"]]; m.Expr != "threads" || m.Noise != 0.1 || m.Autocorr != 0.2 {
		t.Errorf("merged metric %+v, want its own expr and the merged noise and autocorr", m.ScenarioMetric)
	}
}

// TestRegisterSimulatorModel checks the registration hook package target
// offers the scenarios: a scenario's name becomes a model, the built-in
// "web" model cannot be replaced.
func TestRegisterSimulatorModel(t *testing.T) {
	if err := target.RegisterSimulatorModel("web", []string{"x"}); err == nil {
		t.Error(`replacing the built-in "web" model succeeded`)
	}
	if err := target.RegisterSimulatorModel("", []string{"x"}); err == nil {
		t.Error("a model without a name was registered")
	}
	if err := target.RegisterSimulatorModel("no-metrics", nil); err == nil {
		t.Error("a model without metrics was registered")
	}
	spec := `name: t
params: [{name: threads, type: int, min: 4, max: 64}]
objective: {metric: m2, goal: minimize}
telemetry: {simulator: {model: registered-here}}
actuator: {simulator: {}}
`
	if err := target.RegisterSimulatorModel("registered-here", []string{"m1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := target.Parse("t.yaml", []byte(spec)); err == nil {
		t.Error("a metric the model does not produce was accepted")
	}
	if err := target.RegisterSimulatorModel("registered-here", []string{"m1", "m2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := target.Parse("t.yaml", []byte(spec)); err != nil {
		t.Errorf("after registering again with m2: %v", err)
	}
}
