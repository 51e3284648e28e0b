package simulations

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
)

// scenarioFile is a scenario file as written.
type scenarioFile struct {
	Name        string                    `yaml:"name"`
	Description string                    `yaml:"description"`
	Target      yaml.Node                 `yaml:"target"`
	Load        *ScenarioLoad             `yaml:"load"`
	Drift       ScenarioDrift             `yaml:"drift"`
	Vars        scenarioVars              `yaml:"vars"`
	Metrics     map[string]ScenarioMetric `yaml:"metrics"`
	Faults      ScenarioFaults            `yaml:"faults"`
	Operator    Operator                  `yaml:"operator"`
	Schedule    ScenarioSchedule          `yaml:"schedule"`
}

var (
	scenarioNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	metricNameRE   = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
)

// ParseScenario parses one scenario file, strictly, and validates it; file
// names it in errors. On failure the error is a *target.Error holding every
// problem found, each as FILE:LINE: FIELD: MSG, e.g.
//
//	web-api.yaml:14: metrics.latency_p95_ms.expr: undefined variable "thread"; expected one of ...
//
// Parsing a scenario registers its name as a simulator model
// (target.RegisterSimulatorModel) producing its metrics, so that its
// target, and any target file naming the model, validates.
//
// The format, every key optional unless marked required:
//
//	name: web-api                 # required: lowercase letters, digits, '-'
//	description: ...
//	target:                       # required: the body of a target file
//	  params: [...]               # the knobs (names usable in expressions), with their current values
//	  objective: {metric: cost_per_request, goal: minimize}
//	  constraints: [{metric: latency_p99_ms, max: 500}]
//	  canary: {verify_for: 30m, check_every: 1m}
//	  risk: {approval_from: high, approvers: [alice], max_step: 0.1}
//	  # name defaults to the scenario's; telemetry to
//	  # {simulator: {model: <name>, scrape: 15s}} (a simulator block may
//	  # set scrape only); actuator to {simulator: {}}.
//	load: {base: 1, diurnal: 0.5, peak_hour: 14, weekly: 0.1}   # ScenarioLoad
//	drift: {per_day: 0.01}                                      # drift = per_day × day
//	vars:                         # named quantities, in order; each may use the ones above it
//	  rho: min(load * 300 * 0.04 / worker_threads, 0.99)        # thread utilisation
//	metrics:                      # required: every metric the target reads
//	  latency_p99_ms:
//	    expr: 40 * (1 + 4.6 * pow(rho, 6) / (1 - rho))
//	    noise: 0.1                # relative SD of a sample at full traffic
//	    autocorr: 0.3             # AR(1) correlation of consecutive samples
//	  error_rate: {expr: "...", ratio: true}
//	  cost_per_request: {expr: "...", per_load: true}   # per unit of traffic: the day's truth is load-weighted
//	faults:                       # ScenarioFaults
//	  regression: {day: 12, metrics: [latency_p99_ms], factor: 1.3}
//	  telemetry_gaps: {probability: 0.02, length: 1m, nan: false}
//	  actuator_errors: {probability: 0.05}
//	  actuator_timeouts: {probability: 0.02, delay: 30s}
//	  noisy_neighbour: {probability: 0.1, factor: 1.2, metrics: [latency_p99_ms]}
//	operator: {answer: approve, after: 15m, approver: alice}   # approve, reject or timeout
//	schedule: {start: "2026-01-05T13:00:00Z", every: 24h}      # start required
//
// Expressions are expr-lang (github.com/expr-lang/expr), compiled once and
// type-checked when the file is parsed against the knobs (numbers, or
// strings for categorical knobs), the time variables load, hour, day,
// drift and ramp (see VarLoad and the others) and the vars above them;
// they must give a number. Besides expr's built-ins (abs, min, max, ceil,
// floor, round, ...) they may call exp, log, log2, log10, sqrt, tanh,
// sigmoid, softplus, pow and clamp(x, lo, hi); `let x = ...;` and `//`
// comments work too. In YAML, quote an expression that holds ": " (a
// conditional) or starts with a quote, or write it as a block (|). Each metric must be finite at the target's current
// configuration at every hour of the first day. The registration above
// happens as soon as the name and the metrics' names are read, even if the
// file has other problems.
func ParseScenario(file string, data []byte) (*Scenario, error) {
	s, probs := parseScenario(file, data)
	if len(probs) > 0 {
		sortProblems(probs)
		return nil, &target.Error{File: file, Problems: probs}
	}
	return s, nil
}

// parseScenario does ParseScenario's work.
func parseScenario(file string, data []byte) (*Scenario, []target.Problem) {
	root, p := target.ReadDocument(data, "a scenario (a mapping with name, target, metrics and schedule)")
	if p != nil {
		return nil, []target.Problem{*p}
	}
	d := newDecoder()
	var f scenarioFile
	d.decode(root, reflect.ValueOf(&f).Elem(), "")

	// Metrics first: the target's validation needs their names.
	nameOK := d.checkName(f.Name)
	names := make([]string, 0, len(f.Metrics))
	for n := range f.Metrics {
		if metricNameRE.MatchString(n) {
			names = append(names, n)
		} else {
			d.add("metrics."+n, "expected a metric name of lowercase letters, digits and '_', not starting with a digit")
		}
	}
	sort.Strings(names)
	if len(f.Metrics) == 0 && d.lines["metrics"] == 0 {
		d.add("metrics", "expected the metrics: each metric the target reads, with its expression")
	}
	registered := false
	if nameOK && len(names) > 0 {
		if err := target.RegisterSimulatorModel(f.Name, names); err != nil {
			d.add("name", "%v", err)
		} else {
			registered = true
		}
	}

	s := &Scenario{name: f.Name, description: f.Description, file: file, drift: f.Drift, faults: f.Faults,
		operator: f.Operator, schedule: f.Schedule, index: map[string]int{}, optima: map[int64]*dayOptimum{}}
	spec, specOK := d.target(file, &f.Target, f.Name, registered)
	s.spec = spec

	d.checkLoad(f.Load, &s.load)
	d.checkSchedule(&s.schedule)
	d.checkFaults(&s.faults, f.Metrics)
	d.checkOperator(&s.operator, spec, specOK)

	// The knobs: from the validated target, or else as far as they can be
	// read, to check the expressions anyway.
	space := spec.Params
	if !specOK {
		space = lenientParams(&f.Target)
	}
	if len(space) > 0 {
		s.layout(d, space, specOK, f.Vars)
		for _, n := range names {
			s.compileMetric(d, n, f.Metrics[n])
		}
	}
	if !specOK || len(d.probs) > 0 {
		return nil, d.probs
	}
	s.scrape = time.Duration(spec.Telemetry.Simulator.Scrape)
	s.startDay = s.schedule.Start.UTC().Truncate(24 * time.Hour)
	s.checkFinite(d)
	if len(d.probs) > 0 {
		return nil, d.probs
	}
	return s, nil
}

// checkName checks the scenario's name and reports whether it is valid.
func (d *decoder) checkName(name string) bool {
	switch {
	case name == "":
		d.add("name", "expected the scenario's name, e.g. web-api")
	case len(name) > 63 || !scenarioNameRE.MatchString(name):
		d.add("name", "expected lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters, got %q", name)
	case name == DefaultModel:
		d.add("name", "%q names the built-in response surface; expected another name", name)
	default:
		return true
	}
	return false
}

func (d *decoder) checkLoad(in *ScenarioLoad, out *ScenarioLoad) {
	*out = ScenarioLoad{Base: 1}
	if in == nil {
		return
	}
	*out = *in
	if _, set := d.lines["load.base"]; !set {
		out.Base = 1
	}
	if !(out.Base > 0) {
		d.add("load.base", "expected a multiplier > 0, got %v", out.Base)
	}
	if out.Diurnal < 0 || out.Diurnal >= 1 {
		d.add("load.diurnal", "expected an amplitude in [0, 1), got %v", out.Diurnal)
	}
	if out.PeakHour < 0 || out.PeakHour >= 24 {
		d.add("load.peak_hour", "expected an hour in [0, 24), got %v", out.PeakHour)
	}
	if out.Weekly < 0 || out.Weekly >= 1 {
		d.add("load.weekly", "expected a weekend dip in [0, 1), got %v", out.Weekly)
	}
}

func (d *decoder) checkSchedule(s *ScenarioSchedule) {
	if _, written := d.lines["schedule.start"]; s.Start.IsZero() && !written {
		d.add("schedule.start", "expected when the first pass is requested, an RFC 3339 time such as 2026-01-05T13:00:00Z")
	}
	switch {
	case s.Every == 0:
		s.Every = 24 * time.Hour
	case s.Every < 0:
		d.add("schedule.every", "expected a duration > 0, got %v", s.Every)
	}
}

// checkFaults checks the faults, naming the metrics they touch.
func (d *decoder) checkFaults(f *ScenarioFaults, metrics map[string]ScenarioMetric) {
	probability := func(field string, p float64, closed bool) {
		if p < 0 || p > 1 || (p == 1 && !closed) {
			d.add(field, "expected a probability in [0, 1%s, got %v", map[bool]string{true: "]", false: ")"}[closed], p)
		}
	}
	names := func(field string, ms []string) {
		if len(ms) == 0 {
			d.add(field, "expected the metrics it affects")
		}
		for i, m := range ms {
			if _, ok := metrics[m]; !ok {
				d.add(fmt.Sprintf("%s[%d]", field, i), "unknown metric %q; expected one of %s", m, strings.Join(slices.Sorted(maps.Keys(metrics)), ", "))
			}
		}
	}
	if r := f.Regression; r != nil {
		if r.Day < 0 {
			d.add("faults.regression.day", "expected a day >= 0 (0 is the day of schedule.start), got %d", r.Day)
		}
		names("faults.regression.metrics", r.Metrics)
		if !(r.Factor > 0) {
			d.add("faults.regression.factor", "expected a factor > 0, e.g. 1.3 for 30%% worse, got %v", r.Factor)
		}
	}
	if g := f.TelemetryGaps; g != nil {
		probability("faults.telemetry_gaps.probability", g.Probability, false)
		if g.Length < 0 {
			d.add("faults.telemetry_gaps.length", "expected a duration >= 0, got %v", g.Length)
		}
	}
	if e := f.ActuatorErrors; e != nil {
		probability("faults.actuator_errors.probability", e.Probability, false)
	}
	if t := f.ActuatorTimeouts; t != nil {
		probability("faults.actuator_timeouts.probability", t.Probability, false)
		if t.Delay <= 0 {
			d.add("faults.actuator_timeouts.delay", "expected how late a change lands, a duration > 0 such as 30s")
		}
	}
	if nb := f.NoisyNeighbour; nb != nil {
		probability("faults.noisy_neighbour.probability", nb.Probability, true)
		if !(nb.Factor >= 1) {
			d.add("faults.noisy_neighbour.factor", "expected a factor >= 1, e.g. 1.2 for 20%% worse, got %v", nb.Factor)
		}
		names("faults.noisy_neighbour.metrics", nb.Metrics)
	}
}

// checkOperator fills the operator's defaults and checks it against the
// target's approvers.
func (d *decoder) checkOperator(o *Operator, spec target.Spec, specOK bool) {
	switch o.Answer {
	case "":
		o.Answer = AnswerApprove
	case AnswerApprove, AnswerReject, AnswerTimeout:
	default:
		d.add("operator.answer", "expected %s, %s or %s, got %q", AnswerApprove, AnswerReject, AnswerTimeout, o.Answer)
	}
	if _, set := d.lines["operator.after"]; !set {
		o.After = DefaultOperatorAfter
	}
	if o.After < 0 {
		d.add("operator.after", "expected a duration >= 0, got %v", o.After)
	}
	if !specOK || spec.Risk.ApprovalFrom == models.BandForbidden {
		return // never asked
	}
	approvers := spec.Risk.Approvers
	switch {
	case len(approvers) == 0:
		d.add("target.risk.approvers", "expected the approvers: passes from risk.approval_from (%s) up ask one of them", spec.Risk.ApprovalFrom)
	case o.Approver == "":
		o.Approver = approvers[0]
	case !slices.Contains(approvers, o.Approver):
		d.add("operator.approver", "expected one of the target's risk.approvers (%s), got %q", strings.Join(approvers, ", "), o.Approver)
	}
}

// layout lays out the knobs of space and the vars as the expressions'
// variables, and compiles the vars, each against the knobs, the time
// variables and the vars before it.
func (s *Scenario) layout(d *decoder, space models.Space, report bool, vars scenarioVars) {
	var numeric, categorical, varNames []string
	for i, p := range space {
		if msg := checkVarName(p.Name); msg != "" {
			if report {
				d.add(fmt.Sprintf("target.params[%d].name", i), "%s", msg)
			}
			continue
		}
		k := knob{param: p}
		if p.Type == models.Categorical {
			k.slot = len(categorical)
			s.category = append(s.category, len(s.knobs))
			categorical = append(categorical, p.Name)
		} else {
			k.slot = len(numeric)
			s.numeric = append(s.numeric, len(s.knobs))
			numeric = append(numeric, p.Name)
		}
		s.knobs = append(s.knobs, k)
	}
	seen := map[string]bool{}
	for _, k := range s.knobs {
		seen[k.param.Name] = true
	}
	for _, v := range vars {
		at := "vars." + v.name
		switch msg := checkVarName(v.name); {
		case msg != "":
			d.add(at, "%s", msg)
		case seen[v.name]:
			d.add(at, "%q is already a knob or a var", v.name)
		default:
			seen[v.name] = true
			varNames = append(varNames, v.name)
		}
	}
	s.env = newExprEnv(numeric, categorical, varNames)
	for _, v := range vars {
		slot, ok := s.env.index[v.name]
		if !ok || slot.str {
			continue
		}
		at := "vars." + v.name
		e, err := compileExpression(v.expr, s.env.upTo(slot.i))
		if err != nil {
			d.exprProblem(at, err)
			continue
		}
		s.vars = append(s.vars, scenarioVar{name: v.name, slot: slot.i, expr: e})
		s.lets = max(s.lets, e.lets)
	}
}

// exprProblem reports err, an expression's compile error, at the line of
// the expression at path where it lies.
func (d *decoder) exprProblem(path string, err error) {
	line := d.line(path)
	var ee *exprError
	if errors.As(err, &ee) {
		line = exprLine(d, path, ee.Line)
	}
	d.probs = append(d.probs, target.Problem{Field: path, Line: line, Msg: err.Error()})
}

// compileMetric checks and compiles metric name.
func (s *Scenario) compileMetric(d *decoder, name string, m ScenarioMetric) {
	at := "metrics." + name
	if _, set := d.lines[at+".noise"]; !set {
		m.Noise = DefaultNoise
	}
	if m.Noise < 0 || m.Noise >= 1 {
		d.add(at+".noise", "expected a relative standard deviation in [0, 1), e.g. 0.1, got %v", m.Noise)
	}
	if m.Autocorr < 0 || m.Autocorr > maxAutocorr {
		d.add(at+".autocorr", "expected a correlation in [0, %v], got %v", maxAutocorr, m.Autocorr)
	}
	sm := scenarioMetric{name: name, ScenarioMetric: m}
	if _, set := d.lines[at+".expr"]; !set {
		d.add(at+".expr", "expected an expression giving the metric's true value")
	} else if e, err := compileExpression(m.Expr, s.env); err != nil {
		d.exprProblem(at+".expr", err)
	} else {
		sm.expr = e
		s.lets = max(s.lets, e.lets)
	}
	s.index[name] = len(s.metrics)
	s.metrics = append(s.metrics, sm)
}

// maxAutocorr is the largest AR(1) correlation of a metric's noise: beyond
// it the chain (restarted every arBlock samples) would not have forgotten
// its start.
const maxAutocorr = 0.97

// exprLine returns the line of the file on which line exprLine of the
// expression at path lies: a literal block (|) keeps the expression's
// lines, starting below its indicator; a folded block (>) starts below it
// but folds its lines into one; a plain or quoted scalar starts where it is
// written.
func exprLine(d *decoder, path string, exprLine int) int {
	n, ok := d.scalars[path]
	if !ok {
		return d.line(path)
	}
	switch {
	case n.Style&yaml.LiteralStyle != 0:
		return n.Line + exprLine
	case n.Style&yaml.FoldedStyle != 0:
		return n.Line + 1
	}
	return n.Line
}

// checkFinite checks that every metric is finite at the current
// configuration over the first day.
func (s *Scenario) checkFinite(d *decoder) {
	f := s.env.newFrame(s.lets)
	if err := s.setConfig(f, s.spec.Params.Current()); err != nil {
		d.add("target.params", "the current configuration: %v", err)
		return
	}
	for _, m := range s.metrics {
		for h := range 24 {
			t := s.startDay.Add(time.Duration(h) * time.Hour)
			err := s.setTime(f, t)
			var v float64
			if err == nil {
				v, err = m.expr.eval(f)
			}
			if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
				err = fmt.Errorf("gives %v", v)
			}
			if err == nil && m.Ratio && (v < 0 || v > 1) {
				err = fmt.Errorf("gives %v, not a fraction in [0, 1]", v)
			}
			if err != nil {
				d.add("metrics."+m.name+".expr", "at the current configuration at %02d:00 of day 0: %v", h, err)
				break
			}
		}
	}
}

// lenientParams reads the target's params as far as they decode.
func lenientParams(block *yaml.Node) models.Space {
	if block.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(block.Content); i += 2 {
		if block.Content[i].Value == "params" {
			var space models.Space
			if err := block.Content[i+1].Decode(&space); err == nil {
				return space
			}
		}
	}
	return nil
}
