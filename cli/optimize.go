package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/models/bo"
)

// OptimizeOptions configure one optimization session.
type OptimizeOptions struct {
	// SpaceFile is a YAML or JSON file with params, objective and
	// constraints (see Space).
	SpaceFile string
	// Seed makes the session reproducible.
	Seed uint64
	// Budget is the number of answered trials after which the session ends;
	// zero runs until the input ends.
	Budget int
	// Init is the size of the initial design; zero picks the optimizer's
	// default.
	Init int
	// Batch is the number of trials written before their answers are read;
	// zero means one.
	Batch int
}

// SpaceFile is the content of a space file.
type SpaceFile struct {
	// Params are the knobs, in the schema of a target's params.
	Params models.Space `yaml:"params" json:"params"`
	// Objective says which way the value should go.
	Objective SpaceObjective `yaml:"objective" json:"objective"`
	// Constraints bound metrics that each answer reports by name, in the
	// schema of a target's constraints ({metric, max, min, margin}).
	Constraints []models.Constraint `yaml:"constraints,omitempty" json:"constraints,omitempty"`
}

// SpaceObjective is the goal of a space file.
type SpaceObjective struct {
	Goal models.Goal `yaml:"goal" json:"goal"`
	// Metric optionally names the value, for the reader's benefit.
	Metric string `yaml:"metric,omitempty" json:"metric,omitempty"`
}

// Problem returns the optimization problem of s.
func (s SpaceFile) Problem() models.Problem {
	return models.Problem{Space: s.Params, Goal: s.Objective.Goal, Constraints: s.Constraints}
}

// ParseSpace reads a space file strictly (unknown fields are errors) and
// validates it; every error names the file and the field.
func ParseSpace(name string, data []byte) (SpaceFile, error) {
	var s SpaceFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return s, fmt.Errorf("%s: empty file: expected params and objective", name)
		}
		return s, fmt.Errorf("%s: %w", name, err)
	}
	return s, s.Validate(name)
}

// Validate returns every problem with s, each naming the file and the
// field: the problem's (models.Problem.Validate), and a goal, which a space
// file must state.
func (s SpaceFile) Validate(name string) error {
	var errs []error
	if s.Objective.Goal == "" {
		errs = append(errs, fmt.Errorf("%s: objective.goal: expected minimize or maximize", name))
	}
	for _, e := range s.Problem().Validate() {
		errs = append(errs, fmt.Errorf("%s: %s", name, e))
	}
	return errors.Join(errs...)
}

// trialLine is one trial written to the caller.
type trialLine struct {
	Trial  int           `json:"trial"`
	Params models.Config `json:"params"`
}

// answerLine is the caller's answer to one trial.
type answerLine struct {
	Trial       *int               `json:"trial"`
	Value       *float64           `json:"value"`
	Constraints map[string]float64 `json:"constraints"`
	Failed      bool               `json:"failed"`
}

// bestLine is the session's result.
type bestLine struct {
	Best *bestTrial `json:"best"`
}

type bestTrial struct {
	Trial  int           `json:"trial"`
	Params models.Config `json:"params"`
	Value  float64       `json:"value"`
}

// Optimize runs one ask/tell session: trials out on stdout, answers in on stdin,
// problems on stderr. It returns the exit code: ExitOK, ExitBadInput or
// ExitFail.
func Optimize(opts OptimizeOptions, stdin io.Reader, stdout, stderr io.Writer) int {
	fail := func(code int, format string, args ...any) int {
		fmt.Fprintf(stderr, "passflow optimize: "+format+"\n", args...)
		return code
	}
	switch {
	case opts.SpaceFile == "":
		return fail(ExitBadInput, "--space: expected a space file")
	case opts.Budget < 0:
		return fail(ExitBadInput, "--budget: expected a number >= 0, got %d", opts.Budget)
	case opts.Init < 0:
		return fail(ExitBadInput, "--init: expected a number >= 0, got %d", opts.Init)
	case opts.Batch < 0:
		return fail(ExitBadInput, "--batch: expected a number >= 1, got %d", opts.Batch)
	}
	batch := max(1, opts.Batch)
	data, err := os.ReadFile(opts.SpaceFile)
	if err != nil {
		return fail(ExitBadInput, "%v", err)
	}
	space, err := ParseSpace(opts.SpaceFile, data)
	if err != nil {
		return fail(ExitBadInput, "%v", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	problem := space.Problem()
	opt, err := bo.New(problem, bo.Options{Seed: opts.Seed, InitialPoints: opts.Init})
	if err != nil {
		return fail(ExitBadInput, "%s: %v", opts.SpaceFile, err)
	}

	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 64*1024), 16<<20)
	line := 0

	var trials []models.Config // by trial number
	var told []int             // trial number of each told observation
	answered := 0
	writeBest := func() int {
		var b bestLine
		if r, ok := opt.Recommend(); ok && !r.Observation.Failed {
			t := told[r.Index]
			b.Best = &bestTrial{Trial: t, Params: trials[t], Value: r.Observation.Objective}
		}
		if err := enc.Encode(b); err != nil {
			return fail(ExitFail, "write: %v", err)
		}
		if err := out.Flush(); err != nil {
			return fail(ExitFail, "write: %v", err)
		}
		return ExitOK
	}

	for opts.Budget == 0 || answered < opts.Budget {
		q := batch
		if opts.Budget > 0 {
			q = min(q, opts.Budget-answered)
		}
		sugg, err := opt.Ask(q)
		if len(sugg) == 0 {
			if err != nil {
				fmt.Fprintf(stderr, "passflow optimize: stopping early: %v\n", err)
			}
			return writeBest()
		}
		pending := map[int]bool{}
		for _, s := range sugg {
			t := len(trials)
			trials = append(trials, s.Config)
			pending[t] = true
			if err := enc.Encode(trialLine{Trial: t, Params: s.Config}); err != nil {
				return fail(ExitFail, "write: %v", err)
			}
		}
		if err := out.Flush(); err != nil {
			return fail(ExitFail, "write: %v", err)
		}
		for len(pending) > 0 {
			if !in.Scan() {
				if err := in.Err(); err != nil {
					return fail(ExitBadInput, "stdin line %d: %v", line+1, err)
				}
				return writeBest()
			}
			line++
			text := bytes.TrimSpace(in.Bytes())
			if len(text) == 0 {
				continue
			}
			ob, t, err := parseAnswer(text, problem, pending, trials)
			if err != nil {
				return fail(ExitBadInput, "stdin line %d: %v", line, err)
			}
			delete(pending, t)
			if err := opt.Tell(ob); err != nil {
				return fail(ExitFail, "stdin line %d: %v", line, err)
			}
			told = append(told, t)
			answered++
		}
	}
	return writeBest()
}

// parseAnswer decodes one answer line strictly and checks it against the
// trials the session waits for.
func parseAnswer(text []byte, p models.Problem, pending map[int]bool, trials []models.Config) (models.Observation, int, error) {
	var a answerLine
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return models.Observation{}, 0, fmt.Errorf("malformed JSON: %v", err)
	}
	if dec.More() {
		return models.Observation{}, 0, errors.New("malformed JSON: expected one object per line")
	}
	if a.Trial == nil {
		return models.Observation{}, 0, errors.New(`expected a "trial" number`)
	}
	t := *a.Trial
	if !pending[t] {
		var waiting []int
		for w := range pending {
			waiting = append(waiting, w)
		}
		slices.Sort(waiting)
		switch {
		case t >= 0 && t < len(trials):
			return models.Observation{}, t, fmt.Errorf("trial %d was already answered (waiting for trials %v)", t, waiting)
		default:
			return models.Observation{}, t, fmt.Errorf("trial %d was not asked (waiting for trials %v)", t, waiting)
		}
	}
	ob := models.Observation{Config: trials[t], Failed: a.Failed, Source: fmt.Sprintf("trial %d", t)}
	if a.Failed {
		if a.Value != nil {
			ob.Objective = *a.Value
		} else {
			ob.Objective = math.NaN()
		}
		ob.Constraints = a.Constraints
		return ob, t, nil
	}
	if a.Value == nil {
		return ob, t, fmt.Errorf(`trial %d: expected a "value" or "failed": true`, t)
	}
	ob.Objective = *a.Value
	for name := range a.Constraints {
		if !slices.ContainsFunc(p.Constraints, func(c models.Constraint) bool { return c.Metric == name }) {
			return ob, t, fmt.Errorf("trial %d: unknown constraint %q", t, name)
		}
	}
	for _, c := range p.Constraints {
		if _, ok := a.Constraints[c.Metric]; !ok {
			return ob, t, fmt.Errorf("trial %d: expected a value for constraint %q", t, c.Metric)
		}
	}
	ob.Constraints = a.Constraints
	return ob, t, nil
}
