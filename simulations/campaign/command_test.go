package campaign

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/passflow/passflow/simulations"
)

// fakeScenarios knows the demo world as "a" and "b", and fails to load
// files.
type fakeScenarios struct{ t *testing.T }

func (fakeScenarios) Names() []string { return []string{"a", "b"} }

func (s fakeScenarios) Builtin(name string) (simulations.World, error) {
	if name != "a" && name != "b" {
		return nil, fmt.Errorf("unknown scenario %q", name)
	}
	spec := demoSpec(s.t)
	return simulations.ModelWorld(spec, simulations.WithName(name)), nil
}

func (fakeScenarios) Load(path string) (simulations.World, error) {
	return nil, errors.New("no such scenario file " + path)
}

func simulate(t *testing.T, cmd Command, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if cmd.Scenarios == nil {
		cmd.Scenarios = fakeScenarios{t}
	}
	var out, errOut strings.Builder
	code = cmd.Run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCommandList(t *testing.T) {
	code, out, _ := simulate(t, Command{}, "--list")
	if code != ExitOK || out != "a\nb\n" {
		t.Errorf("--list: exit %d, %q; want 0 and the names one a line", code, out)
	}
	code, out, _ = simulate(t, Command{Scenarios: DefaultScenarios()}, "--list")
	if want := strings.Join(simulations.BuiltinScenarios(), "\n") + "\n"; code != ExitOK || out != want {
		t.Errorf("--list of the default scenarios: exit %d, %q; want %q", code, out, want)
	}
}

func TestCommandUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  Command
		args []string
		want string
	}{
		{"no scenario", Command{}, nil, "--scenario NAME|FILE|all is required"},
		{"unknown flag", Command{}, []string{"--scenario", "a", "--bogus"}, "unknown flag: --bogus"},
		{"passes", Command{}, []string{"--scenario", "a", "--passes", "0"}, "--passes: expected a number >= 1, got 0"},
		{"passes not a number", Command{}, []string{"--scenario", "a", "--passes", "x"}, "invalid argument \"x\""},
		{"seeds", Command{}, []string{"--scenario", "a", "--seeds", "-1"}, "--seeds: expected a number >= 1, got -1"},
		{"policy", Command{}, []string{"--scenario", "a", "--policy", "greedy"}, `--policy: expected gp, random, hold, oracle or all, got "greedy"`},
		{"unknown scenario", Command{}, []string{"--scenario", "nope"}, `--scenario: unknown scenario "nope"`},
		{"scenario file", Command{}, []string{"--scenario", "x/y.yaml"}, "--scenario: no such scenario file x/y.yaml"},
		{"arguments", Command{}, []string{"--scenario", "a", "extra"}, `unexpected arguments ["extra"]`},
		{"no report writer", Command{}, []string{"--scenario", "a", "--report", "out"}, "--report: this build has no report writer"},
		{"json and trace", Command{}, []string{"--scenario", "a", "--json", "--trace"}, "--json and --trace: expected one of them"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := simulate(t, tc.cmd, tc.args...)
			if code != ExitUsage || !strings.Contains(errOut, tc.want) || out != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want exit 2 and %q", code, errOut, out, tc.want)
			}
		})
	}
}

// TestCommandJSON runs two campaigns and checks the shape of each line, and
// that the report writer gets the results.
func TestCommandJSON(t *testing.T) {
	t.Parallel()
	var reported []Result
	cmd := Command{Report: func(dir string, results []Result) error {
		if dir != "out" {
			t.Errorf("report into %q, want out", dir)
		}
		reported = results
		return nil
	}}
	code, out, errOut := simulate(t, cmd, "--scenario", "a,b", "--passes", "1", "--seeds", "1", "--policy", "hold",
		"--json", "--report", "out")
	if code != ExitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	want := []string{"approvals_asked", "failed", "false_rollbacks", "final_gap", "incumbent_violations", "passes", "passes_to_within_5pct", "policy",
		"promotions", "rejected", "repairs", "rollbacks", "rollbacks_after_5", "scenario", "seed", "skipped", "slo_violating_promotions",
		"violating_stages", "wall_s", "worse_promotions", "worst_breach"}
	var scen []string
	for _, m := range jsonLines(t, out) {
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if !slices.Equal(keys, want) {
			t.Errorf("keys %v\nwant %v", keys, want)
		}
		if m["policy"] != "hold" || m["seed"] != 1.0 || m["passes"] != 1.0 {
			t.Errorf("line %v: want policy hold, seed 1, 1 pass", m)
		}
		scen = append(scen, m["scenario"].(string))
	}
	if !slices.Equal(scen, []string{"a", "b"}) || len(reported) != 2 {
		t.Errorf("lines for %v, %d results reported; want a then b, 2", scen, len(reported))
	}
}

// TestCommandTrace prints one line per pass, each with its campaign's key
// and the pass as the truth sees it; the goals go to stderr.
func TestCommandTrace(t *testing.T) {
	t.Parallel()
	code, out, errOut := simulate(t, Command{}, "--scenario", "a", "--passes", "2", "--seeds", "2", "--policy", "hold", "--trace", "--check-goals")
	if code != ExitFail || !strings.Contains(errOut, "median gap after pass 15 (GP)") {
		t.Fatalf("exit %d, stderr %q; want 1 (goals missed) and the goals on stderr", code, errOut)
	}
	var keys []string
	for _, m := range jsonLines(t, out) {
		keys = append(keys, fmt.Sprintf("%v/%v/%v/%v", m["scenario"], m["policy"], m["seed"], m["n"]))
		for _, k := range []string{"at", "outcome", "reason", "incumbent", "incumbent_truth", "optimum", "gap", "incumbent_breach"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %v: no %q", m, k)
			}
		}
		if r, _ := m["reason"].(string); m["outcome"] != "skipped" || !strings.HasSuffix(r, "hold policy: no change") {
			t.Errorf("line %v: want a pass the hold policy skipped, and why", m)
		}
	}
	if want := []string{"a/hold/1/1", "a/hold/1/2", "a/hold/2/1", "a/hold/2/2"}; !slices.Equal(keys, want) {
		t.Errorf("lines %v, want %v", keys, want)
	}
}

// jsonLines decodes out, one JSON object a line.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return lines
}

// TestCommandTableAndGoals runs the hold policy only: the table prints and
// the goals are missed (no GP campaign), so the exit code is 1.
func TestCommandTableAndGoals(t *testing.T) {
	t.Parallel()
	code, out, errOut := simulate(t, Command{}, "--scenario", "a", "--passes", "1", "--seeds", "2", "--policy", "hold", "--check-goals")
	if code != ExitFail || errOut != "" {
		t.Fatalf("exit %d, stderr %q; want 1 (goals missed) and nothing on stderr", code, errOut)
	}
	for _, want := range []string{"scenario", "final gap", "hold", "median gap after pass 15 (GP)", "NO"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
