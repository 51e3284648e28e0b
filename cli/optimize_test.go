package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/models/validatetest"
)

func branin(x1, x2 float64) float64 {
	b, c, t := 5.1/(4*math.Pi*math.Pi), 5/math.Pi, 1/(8*math.Pi)
	u := x2 - b*x1*x1 + c*x1 - 6
	return u*u + 10*(1-t)*math.Cos(x1) + 10
}

type trialMsg struct {
	Trial  int            `json:"trial"`
	Params map[string]any `json:"params"`
	Best   *struct {
		Trial  int            `json:"trial"`
		Params map[string]any `json:"params"`
		Value  float64        `json:"value"`
	} `json:"best"`
}

// session drives Run through pipes: answer is called for each batch of trial
// lines and returns the answer lines. It returns the exit code, the last
// (best) line and what Run wrote to stderr.
func session(t *testing.T, opts OptimizeOptions, answer func(batch []trialMsg) []string) (int, trialMsg, string) {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	var stderr bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- Optimize(opts, inR, outW, &stderr)
		outW.Close()
	}()
	sc := bufio.NewScanner(outR)
	batch := max(1, opts.Batch)
	var last trialMsg
	var pending []trialMsg
	for sc.Scan() {
		var m trialMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad output line %q: %v", sc.Text(), err)
		}
		last = m
		if m.Best != nil || strings.HasPrefix(sc.Text(), `{"best"`) {
			break
		}
		pending = append(pending, m)
		want := batch
		if opts.Budget > 0 {
			want = min(want, opts.Budget-m.Trial+len(pending)-1)
		}
		if len(pending) < want {
			continue
		}
		for _, a := range answer(pending) {
			fmt.Fprintln(inW, a)
		}
		pending = nil
	}
	inW.Close()
	for sc.Scan() {
	}
	return <-code, last, stderr.String()
}

func num(v any) float64 { f, _ := v.(float64); return f }

func TestOptimizeBranin(t *testing.T) {
	opts := OptimizeOptions{SpaceFile: "testdata/branin.yaml", Seed: 1, Budget: 25}
	var seen int
	code, last, stderr := session(t, opts, func(b []trialMsg) []string {
		var out []string
		for _, m := range b {
			if m.Trial != seen {
				t.Errorf("trial %d, want %d", m.Trial, seen)
			}
			seen++
			v := branin(num(m.Params["x1"]), num(m.Params["x2"]))
			out = append(out, fmt.Sprintf(`{"trial": %d, "value": %v}`, m.Trial, v))
		}
		return out
	})
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	if seen != 25 {
		t.Errorf("answered %d trials, want 25", seen)
	}
	if last.Best == nil {
		t.Fatal("no best line")
	}
	got := branin(num(last.Best.Params["x1"]), num(last.Best.Params["x2"]))
	if math.Abs(got-last.Best.Value) > 1e-9 {
		t.Errorf("best value %v does not match its params (%v)", last.Best.Value, got)
	}
	if last.Best.Value > 0.5 {
		t.Errorf("best Branin value after 25 trials %v, want <= 0.5 (optimum 0.398)", last.Best.Value)
	}
}

func TestOptimizeBatchFailedAndConstrained(t *testing.T) {
	opts := OptimizeOptions{SpaceFile: "testdata/constrained.json", Seed: 2, Budget: 12, Batch: 3, Init: 4}
	batches := 0
	code, last, stderr := session(t, opts, func(b []trialMsg) []string {
		batches++
		if len(b) != 3 {
			t.Errorf("batch of %d trials, want 3", len(b))
		}
		var out []string
		// Answer in reverse order: any order among the waiting trials is fine.
		for i := len(b) - 1; i >= 0; i-- {
			m := b[i]
			x1, x2 := num(m.Params["x1"]), num(m.Params["x2"])
			if m.Trial%4 == 1 {
				out = append(out, fmt.Sprintf(`{"trial": %d, "failed": true}`, m.Trial))
				continue
			}
			c := (x1-2.5)*(x1-2.5) + (x2-7.5)*(x2-7.5) - 50
			out = append(out, fmt.Sprintf(`{"trial": %d, "value": %v, "constraints": {"c": %v}}`, m.Trial, branin(x1, x2), c))
		}
		return out
	})
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	if batches != 4 {
		t.Errorf("%d batches, want 4", batches)
	}
	if last.Best == nil {
		t.Fatal("no best line")
	}
	if last.Best.Trial%4 == 1 {
		t.Errorf("best is failed trial %d", last.Best.Trial)
	}
	x1, x2 := num(last.Best.Params["x1"]), num(last.Best.Params["x2"])
	if (x1-2.5)*(x1-2.5)+(x2-7.5)*(x2-7.5) > 50 {
		t.Errorf("best trial %d (%v, %v) is infeasible", last.Best.Trial, x1, x2)
	}
}

func TestOptimizeMixedSpace(t *testing.T) {
	opts := OptimizeOptions{SpaceFile: "testdata/mixed.yaml", Seed: 3, Budget: 8, Init: 3}
	code, last, stderr := session(t, opts, func(b []trialMsg) []string {
		m := b[0]
		th, ok := m.Params["threads"].(float64)
		if !ok || th != math.Trunc(th) || th < 1 || th > 64 {
			t.Errorf("trial %d: threads %v is not an int in [1, 64]", m.Trial, m.Params["threads"])
		}
		mode, _ := m.Params["mode"].(string)
		if mode != "a" && mode != "b" && mode != "c" {
			t.Errorf("trial %d: mode %v", m.Trial, m.Params["mode"])
		}
		v := -math.Abs(math.Log(th)-2) + map[string]float64{"a": 0, "b": 1, "c": 0.5}[mode]
		return []string{fmt.Sprintf(`{"trial": %d, "value": %v}`, m.Trial, v)}
	})
	if code != ExitOK || last.Best == nil {
		t.Fatalf("exit %d, best %v, stderr %s", code, last.Best, stderr)
	}
}

// run calls Run with a fixed input.
func run(opts OptimizeOptions, input string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Optimize(opts, strings.NewReader(input), &out, &errb)
	return code, out.String(), errb.String()
}

func TestOptimizeBadInput(t *testing.T) {
	space := "testdata/branin.yaml"
	tests := []struct {
		name  string
		opts  OptimizeOptions
		input string
		code  int
		want  []string // substrings of stderr
	}{
		{"out of order", OptimizeOptions{SpaceFile: space, Budget: 3}, `{"trial": 5, "value": 1}`, 2, []string{"stdin line 1", "trial 5 was not asked"}},
		{"answered twice", OptimizeOptions{SpaceFile: space, Budget: 3}, "{\"trial\": 0, \"value\": 1}\n{\"trial\": 0, \"value\": 2}", 2, []string{"stdin line 2", "trial 0 was already answered"}},
		{"malformed JSON", OptimizeOptions{SpaceFile: space, Budget: 3}, "{\"trial\": 0, \"value\": 1}\n\n{\"trial\": 1, \"value\": ", 2, []string{"stdin line 3", "malformed JSON"}},
		{"unknown field", OptimizeOptions{SpaceFile: space, Budget: 3}, `{"trial": 0, "valeu": 1}`, 2, []string{"stdin line 1", "unknown field"}},
		{"no value", OptimizeOptions{SpaceFile: space, Budget: 3}, `{"trial": 0}`, 2, []string{"stdin line 1", `expected a "value"`}},
		{"no trial", OptimizeOptions{SpaceFile: space, Budget: 3}, `{"value": 3}`, 2, []string{"stdin line 1", `expected a "trial"`}},
		{"unknown constraint", OptimizeOptions{SpaceFile: space, Budget: 3}, `{"trial": 0, "value": 1, "constraints": {"c": 1}}`, 2, []string{"stdin line 1", `unknown constraint "c"`}},
		{"missing constraint", OptimizeOptions{SpaceFile: "testdata/constrained.json", Budget: 3}, `{"trial": 0, "value": 1}`, 2, []string{"stdin line 1", `constraint "c"`}},
		{"no space", OptimizeOptions{}, "", 2, []string{"--space"}},
		{"missing space", OptimizeOptions{SpaceFile: "testdata/nope.yaml"}, "", 2, []string{"nope.yaml"}},
		{"negative budget", OptimizeOptions{SpaceFile: space, Budget: -1}, "", 2, []string{"--budget"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(tt.opts, tt.input)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not mention %q", stderr, w)
				}
			}
		})
	}
}

func TestOptimizeEOFBeforeBudget(t *testing.T) {
	// Only the first trial is answered; the input ends while the session
	// waits for the second.
	code, out, stderr := run(OptimizeOptions{SpaceFile: "testdata/branin.yaml", Budget: 10, Seed: 4}, `{"trial": 0, "value": 17.5}`)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want trial 0, trial 1 and best:\n%s", len(lines), out)
	}
	var last trialMsg
	if err := json.Unmarshal([]byte(lines[2]), &last); err != nil || last.Best == nil {
		t.Fatalf("last line %q is not a best line", lines[2])
	}
	if last.Best.Trial != 0 || last.Best.Value != 17.5 {
		t.Errorf("best = trial %d value %v, want trial 0 value 17.5", last.Best.Trial, last.Best.Value)
	}
	// Nothing answered at all: best is null.
	code, out, _ = run(OptimizeOptions{SpaceFile: "testdata/branin.yaml", Budget: 10}, "")
	if code != ExitOK || !strings.HasSuffix(strings.TrimSpace(out), `{"best":null}`) {
		t.Errorf("exit %d, output %q, want a null best", code, out)
	}
	// Every trial failed: best is null too.
	code, out, _ = run(OptimizeOptions{SpaceFile: "testdata/branin.yaml", Budget: 2}, "{\"trial\": 0, \"failed\": true}\n{\"trial\": 1, \"failed\": true}\n")
	if code != ExitOK || !strings.HasSuffix(strings.TrimSpace(out), `{"best":null}`) {
		t.Errorf("exit %d, output %q, want a null best", code, out)
	}
}

func TestParseSpace(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string // substrings of the error; none means valid
	}{
		{"valid yaml", "params: [{name: a, type: float, min: 0, max: 1}]\nobjective: {goal: maximize}\n", nil},
		{"valid json", `{"params": [{"name": "a", "type": "int", "min": 1, "max": 9}], "objective": {"goal": "minimize"}, "constraints": [{"metric": "c", "min": 0.5}]}`, nil},
		{"unknown field", "params: [{name: a, type: float, min: 0, max: 1, step: 2}]\nobjective: {goal: minimize}\n", []string{"space.yaml", "step"}},
		{"unknown top field", "params: [{name: a, type: float, min: 0, max: 1}]\nobjective: {goal: minimize}\nbudget: 3\n", []string{"space.yaml", "budget"}},
		{"min >= max", "params: [{name: a, type: float, min: 1, max: 1}]\nobjective: {goal: minimize}\n", []string{"space.yaml", "params[0].max", "max > min"}},
		{"unknown type", "params: [{name: a, type: complex, min: 0, max: 1}]\nobjective: {goal: minimize}\n", []string{"params[0].type", "unknown type"}},
		{"empty space", "params: []\nobjective: {goal: minimize}\n", []string{"params", "at least one parameter"}},
		{"no goal", "params: [{name: a, type: float, min: 0, max: 1}]\n", []string{"objective.goal"}},
		{"bad goal", "params: [{name: a, type: float, min: 0, max: 1}]\nobjective: {goal: up}\n", []string{"objective.goal", `"up"`}},
		{"constraint without bound", "params: [{name: a, type: float, min: 0, max: 1}]\nobjective: {goal: minimize}\nconstraints: [{metric: c}]\n", []string{"space.yaml: constraints[0]: expected a bound"}},
		{"constraint without metric", "params: [{name: a, type: float, min: 0, max: 1}]\nobjective: {goal: minimize}\nconstraints: [{max: 1}]\n", []string{"constraints[0].metric"}},
		{"constraint name key, as before the target's schema", "params: [{name: a, type: float, min: 0, max: 1}]\nobjective: {goal: minimize}\nconstraints: [{name: c, max: 1}]\n", []string{"space.yaml", "name"}},
		{"empty file", "", []string{"space.yaml", "empty"}},
		{"not yaml", "params: [", []string{"space.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSpace("space.yaml", []byte(tt.text))
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one mentioning %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestSpaceFileConstraints runs the constraint validator's shared cases
// through a space file.
func TestSpaceFileConstraints(t *testing.T) {
	params := models.Space{{Name: "a", Type: models.Float, Min: 0, Max: 1}}
	for _, tt := range validatetest.Constraints {
		t.Run(tt.Name, func(t *testing.T) {
			s := SpaceFile{Params: params, Objective: SpaceObjective{Goal: models.Minimize}, Constraints: tt.Constraints}
			err := s.Validate("space.yaml")
			if err == nil || !strings.Contains(err.Error(), "space.yaml: "+tt.Field+": ") || !strings.Contains(err.Error(), tt.Want) {
				t.Errorf("got %v, want space.yaml: %s: …%s", err, tt.Field, tt.Want)
			}
		})
	}
	s := SpaceFile{Params: params, Objective: SpaceObjective{Goal: models.Minimize}, Constraints: validatetest.ValidConstraints}
	if err := s.Validate("space.yaml"); err != nil {
		t.Errorf("valid constraints: %v", err)
	}
}

func TestOptimizeBadSpaceFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("params: [{name: a, type: float, min: 2, max: 1}]\nobjective: {goal: minimize}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(OptimizeOptions{SpaceFile: path}, "")
	if code != ExitBadInput || !strings.Contains(stderr, path) || !strings.Contains(stderr, "params[0].max") {
		t.Errorf("exit %d, stderr %q: want 2 naming the file and field", code, stderr)
	}
}

// ExampleOptimize tunes one knob for a single trial: the first trial is the
// incumbent, the knob's current value.
func ExampleOptimize() {
	dir, _ := os.MkdirTemp("", "passflow")
	defer os.RemoveAll(dir)
	space := filepath.Join(dir, "space.yaml")
	os.WriteFile(space, []byte(`
params:
  - {name: workers, type: int, min: 1, max: 64, current: 8}
objective: {goal: maximize}
`), 0o644)
	answers := strings.NewReader(`{"trial": 0, "value": 950}` + "\n")
	Optimize(OptimizeOptions{SpaceFile: space, Budget: 1}, answers, os.Stdout, os.Stderr)
	// Output:
	// {"trial":0,"params":{"workers":8}}
	// {"best":{"trial":0,"params":{"workers":8},"value":950}}
}
