package actuators

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/webhook"
)

func fileSpec(path, format string, argv ...string) target.Spec {
	return target.Spec{Name: "svc", Params: knobSpace(),
		Actuator: target.Actuator{File: &target.File{Path: path, Format: format, Argv: argv}}}
}

// The candidate of these tests, and the file after it is applied to 5% of
// the traffic, by format.
var (
	cand    = models.Config{"worker_threads": models.Num(40), "gc_mode": models.Str("low-latency"), "cache.ttl-s": models.Num(42.5)}
	applied = map[string]string{
		"yaml": `# Written by passflow for target svc; a change replaces this file, svc.prev holding the one before.
baseline:
  cache.ttl-s: 60
  gc_mode: throughput
  worker_threads: 32
canary:
  cache.ttl-s: 42.5
  gc_mode: low-latency
  worker_threads: 40
percent: 5
`,
		"json": `{
  "baseline": {
    "cache.ttl-s": 60,
    "gc_mode": "throughput",
    "worker_threads": 32
  },
  "canary": {
    "cache.ttl-s": 42.5,
    "gc_mode": "low-latency",
    "worker_threads": 40
  },
  "percent": 5
}
`,
		"env": `# Written by passflow for target svc; a change replaces this file, svc.prev holding the one before.
PASSFLOW_BASELINE_CACHE_TTL_S=60
PASSFLOW_BASELINE_GC_MODE=throughput
PASSFLOW_BASELINE_WORKER_THREADS=32
PASSFLOW_CANARY_CACHE_TTL_S=42.5
PASSFLOW_CANARY_GC_MODE=low-latency
PASSFLOW_CANARY_WORKER_THREADS=40
PASSFLOW_CANARY_PERCENT=5
`,
	}
)

// state reads the file as a service would, independently of the
// actuator's reader: a baseline, a canary and a percent, values as text.
func state(t *testing.T, path, format string) (baseline, canary map[string]string, percent string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := func(m map[string]any) map[string]string {
		if m == nil {
			return nil
		}
		out := map[string]string{}
		for k, v := range m {
			out[k] = fmt.Sprint(v)
		}
		return out
	}
	switch format {
	case "env":
		baseline = map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			name, val, ok := strings.Cut(line, "=")
			switch {
			case strings.HasPrefix(line, "#"):
			case !ok:
				t.Fatalf("line %q", line)
			case name == "PASSFLOW_CANARY_PERCENT":
				percent = val
			case strings.HasPrefix(name, "PASSFLOW_BASELINE_"):
				baseline[strings.TrimPrefix(name, "PASSFLOW_BASELINE_")] = val
			case strings.HasPrefix(name, "PASSFLOW_CANARY_"):
				if canary == nil {
					canary = map[string]string{}
				}
				canary[strings.TrimPrefix(name, "PASSFLOW_CANARY_")] = val
			}
		}
		return baseline, canary, percent
	case "json":
		var st struct {
			Baseline, Canary map[string]any
			Percent          json.Number
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		return text(st.Baseline), text(st.Canary), st.Percent.String()
	default:
		var st struct {
			Baseline map[string]any `yaml:"baseline"`
			Canary   map[string]any `yaml:"canary"`
			Percent  any            `yaml:"percent"`
		}
		if err := yaml.Unmarshal(raw, &st); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		return text(st.Baseline), text(st.Canary), fmt.Sprint(st.Percent)
	}
}

// listDir returns the names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestFileChanges: in each format, a pass's changes as the workflow makes
// them, each answered with what the changed cohort ran before, each
// written atomically with the content before kept as PATH.prev.
func TestFileChanges(t *testing.T) {
	for _, format := range []string{"yaml", "json", "env"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "svc")
			f, err := NewFile(fileSpec(path, format))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			// No file yet: the params' current values are the baseline.
			base, err := f.Baseline(ctx)
			if err != nil || base.String() != "cache.ttl-s=60 gc_mode=throughput worker_threads=32" {
				t.Fatalf("baseline of no file: %s, %v", base, err)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("Baseline wrote the file: %v", err)
			}
			old := "cache.ttl-s=60 gc_mode=throughput worker_threads=32"
			next := "cache.ttl-s=42.5 gc_mode=low-latency worker_threads=40"
			// The knobs as the file names them: env upper-cases them.
			knob := func(name string) string {
				if format == "env" {
					return envName(name)
				}
				return name
			}
			// Another pass's candidate, fewer threads.
			other := cand.Clone()
			other["worker_threads"] = models.Num(24)
			steps := []struct {
				ch       activities.Change
				replaced string  // "" for nil
				rpercent float64 // the canary's share before
				canary   string  // its worker_threads, "" for none
				percent  string
				baseline string
			}{
				{activities.Change{Key: "p/stage-1", Action: webhook.ActionApply, Stage: 1, Percent: 5, Config: cand}, "", 0, "40", "5", old},
				{activities.Change{Key: "p/stage-2", Action: webhook.ActionApply, Stage: 2, Percent: 25, Config: cand}, next, 5, "40", "25", old},
				{activities.Change{Key: "p/undo-stage-2", Action: webhook.ActionRevert, Stage: 2, Percent: 5, Config: cand}, next, 25, "40", "5", old},
				{activities.Change{Key: "p/undo-stage-1", Action: webhook.ActionRevert, Stage: 1, Percent: 0, Config: cand}, next, 5, "", "0", old},
				{activities.Change{Key: "q/stage-1", Action: webhook.ActionApply, Stage: 1, Percent: 50, Config: cand}, "", 0, "40", "50", old},
				// A pass over q's canary, then its undo bringing q's back.
				{activities.Change{Key: "r/stage-1", Action: webhook.ActionApply, Stage: 1, Percent: 5, Config: other}, next, 50, "24", "5", old},
				{activities.Change{Key: "r/undo-stage-1", Action: webhook.ActionRevert, Stage: 1, Percent: 50, Config: cand}, other.String(), 5, "40", "50", old},
				{activities.Change{Key: "q/promote", Action: webhook.ActionPromote, Percent: 100, Config: cand}, old, 0, "", "0", next},
			}
			for i, s := range steps {
				before, _ := os.ReadFile(path)
				replaced, err := f.Change(ctx, s.ch)
				if err != nil {
					t.Fatalf("step %d (%s): %v", i, s.ch.Key, err)
				}
				if got := replaced.Config.String(); (s.replaced == "") != (replaced.Config == nil) || got != s.replaced || replaced.Percent != s.rpercent {
					t.Errorf("step %d (%s): replaced %q at %g%% (nil %v), want %q at %g%%", i, s.ch.Key, got, replaced.Percent, replaced.Config == nil, s.replaced, s.rpercent)
				}
				if i == 0 {
					if raw, _ := os.ReadFile(path); string(raw) != applied[format] {
						t.Errorf("file after the first apply:\n%s\nwant:\n%s", raw, applied[format])
					}
				} else if prev, err := os.ReadFile(path + ".prev"); err != nil || string(prev) != string(before) {
					t.Errorf("step %d: .prev holds %q, %v; want the content before", i, prev, err)
				}
				baseline, canary, percent := state(t, path, format)
				if (canary != nil) != (s.canary != "") || percent != s.percent {
					t.Errorf("step %d: canary %v at %s%%, want one of %q threads at %s%%", i, canary, percent, s.canary, s.percent)
				}
				if s.canary != "" && (canary[knob("worker_threads")] != s.canary || canary[knob("gc_mode")] != "low-latency") {
					t.Errorf("step %d: canary %v, want %s threads", i, canary, s.canary)
				}
				if b, err := f.Baseline(ctx); err != nil || b.String() != s.baseline {
					t.Errorf("step %d: baseline %s, %v; want %s", i, b, err, s.baseline)
				}
				if len(baseline) != 3 {
					t.Errorf("step %d: baseline %v, want three knobs", i, baseline)
				}
			}
			// Written atomically: nothing left but the file and its companions.
			if got, want := listDir(t, dir), []string{"svc", "svc.passflow-keys", "svc.prev"}; !slices.Equal(got, want) {
				t.Errorf("directory holds %v, want %v", got, want)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
				t.Errorf("mode %v, want 0644", fi.Mode())
			}
		})
	}
}

// TestFileKeepsModeAndKnobs: an existing file keeps its mode, an empty one
// stands for the params' current values, and a promote keeps the
// baseline's knobs the target does not tune.
func TestFileKeepsModeAndKnobs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "svc.yaml")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := NewFile(fileSpec(path, ""))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := f.Change(ctx, activities.Change{Key: "a", Action: webhook.ActionApply, Percent: 5, Config: cand}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + ".prev", path + ".passflow-keys"} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 0600", p, fi.Mode(), err)
		}
	}
	// An operator adds a knob the target does not tune.
	raw, _ := os.ReadFile(path)
	raw = []byte(strings.Replace(string(raw), "baseline:\n", "baseline:\n  log_level: info\n", 1))
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	replaced, err := f.Change(ctx, activities.Change{Key: "b", Action: webhook.ActionPromote, Percent: 100, Config: cand})
	if err != nil || replaced.Config.String() != "cache.ttl-s=60 gc_mode=throughput worker_threads=32" {
		t.Fatalf("promote: %+v, %v", replaced, err)
	}
	baseline, canary, percent := state(t, path, "yaml")
	if baseline["log_level"] != "info" || baseline["worker_threads"] != "40" || canary != nil || percent != "0" {
		t.Errorf("after the promote: baseline %v, canary %v at %s%%", baseline, canary, percent)
	}
}

// TestFileRepeatedKey: a repeated key answers as the first time and writes
// nothing; the program after the write does not run again.
func TestFileRepeatedKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "svc.json")
	reload := script(t, dir, "reload", `echo run >> "$0.runs"`+"\n")
	f, err := NewFile(fileSpec(path, "json", reload))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ch := activities.Change{Key: "p/stage-1", Action: webhook.ActionApply, Percent: 5, Config: cand}
	if _, err := f.Change(ctx, ch); err != nil {
		t.Fatal(err)
	}
	first, err := f.Change(ctx, activities.Change{Key: "p/stage-2", Action: webhook.ActionApply, Percent: 25, Config: cand})
	if err != nil {
		t.Fatal(err)
	}
	snapshot := func() map[string]string {
		out := map[string]string{}
		for _, name := range listDir(t, dir) {
			p := filepath.Join(dir, name)
			fi, _ := os.Stat(p)
			st := fi.Sys().(*syscall.Stat_t)
			raw, _ := os.ReadFile(p)
			out[name] = fmt.Sprintf("inode %d, modified %s: %s", st.Ino, fi.ModTime().Format(time.RFC3339Nano), raw)
		}
		return out
	}
	was := snapshot()
	for range 3 {
		again, err := f.Change(ctx, activities.Change{Key: "p/stage-2", Action: webhook.ActionApply, Percent: 25, Config: cand})
		if err != nil || !reflect.DeepEqual(again, first) || again.Config.String() != "cache.ttl-s=42.5 gc_mode=low-latency worker_threads=40" || again.Percent != 5 {
			t.Fatalf("repeated key: %+v, %v; want %+v", again, err, first)
		}
	}
	now := snapshot()
	for name, s := range was {
		if now[name] != s {
			t.Errorf("%s changed on a repeated key", name)
		}
	}
	if runs, _ := os.ReadFile(reload + ".runs"); string(runs) != "run\nrun\n" {
		t.Errorf("the program ran %d times, want twice", strings.Count(string(runs), "run"))
	}
}

// TestFileArgv: the program runs after the write and sees the new file; a
// retryable failure of it is finished by the retry, under the same key,
// with the same answer; any other failure is for good.
func TestFileArgv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "svc.env")
	copyTo := filepath.Join(dir, "copy")
	// The first run is not now (75); then it copies the file.
	reload := script(t, dir, "reload", `if [ ! -e "$0.busy" ]; then touch "$0.busy"; echo 'locked, later' >&2; exit 75; fi
cp "$1" "$2"
echo run >> "$0.runs"
`)
	f, err := NewFile(fileSpec(path, "env", reload, path, copyTo))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ch := activities.Change{Key: "p/stage-1", Action: webhook.ActionApply, Percent: 5, Config: cand}
	if _, err := f.Change(ctx, ch); !retryable(err) || !strings.Contains(err.Error(), "exited 75 (EX_TEMPFAIL: try again later): locked, later") {
		t.Fatalf("%v, want a retryable error", err)
	}
	want := strings.Replace(applied["env"], "svc.prev", "svc.env.prev", 1)
	if raw, _ := os.ReadFile(path); string(raw) != want {
		t.Fatalf("the file before the program ran:\n%s", raw)
	}
	// The retry writes nothing new, runs the program and answers as the
	// first attempt would have.
	replaced, err := f.Change(ctx, ch)
	if err != nil || replaced.Config != nil {
		t.Fatalf("retry: %+v, %v; want nil, no canary before", replaced, err)
	}
	if raw, _ := os.ReadFile(copyTo); string(raw) != want {
		t.Errorf("the program saw:\n%s\nwant:\n%s", raw, want)
	}
	if _, err := os.Stat(path + ".prev"); !os.IsNotExist(err) {
		t.Errorf("a .prev of no file: %v", err)
	}
	if replaced, err := f.Change(ctx, ch); err != nil || replaced.Config != nil {
		t.Fatalf("repeat: %+v, %v", replaced, err)
	}
	if runs, _ := os.ReadFile(reload + ".runs"); string(runs) != "run\n" {
		t.Errorf("the program completed %d times, want once", strings.Count(string(runs), "run"))
	}

	failing := script(t, dir, "failing", "echo 'reload: bad config on line 3' >&2\nexit 1\n")
	f, err = NewFile(fileSpec(filepath.Join(dir, "other.yaml"), "yaml", failing))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Change(ctx, ch); !refused(err) || !strings.Contains(err.Error(), "after writing "+filepath.Join(dir, "other.yaml")+": "+failing+" exited 1: reload: bad config on line 3") {
		t.Errorf("%v, want a refusal with the program's message", err)
	}

	slow := script(t, dir, "slow", "sleep 30\n")
	fs := fileSpec(filepath.Join(dir, "slow.yaml"), "yaml", slow)
	fs.Actuator.File.Timeout = target.Duration(200 * time.Millisecond)
	f, err = NewFile(fs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Change(ctx, ch); !retryable(err) || !strings.Contains(err.Error(), "did not finish within 200ms") {
		t.Errorf("%v, want a retryable timeout", err)
	}
}

// TestFileKeyLogBounded: the key log keeps the last 1,000 keys.
func TestFileKeyLogBounded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "svc.yaml")
	var log keyLog
	for i := range maxKeys {
		log.Keys = append(log.Keys, keyEntry{Key: "old/" + strconv.Itoa(i), Action: webhook.ActionApply})
	}
	raw, _ := json.Marshal(log)
	if err := os.WriteFile(path+".passflow-keys", raw, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := NewFile(fileSpec(path, "yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Change(context.Background(), activities.Change{Key: "new", Action: webhook.ActionApply, Percent: 5, Config: cand}); err != nil {
		t.Fatal(err)
	}
	if log, err = f.readKeys(); err != nil {
		t.Fatal(err)
	}
	if n := len(log.Keys); n != maxKeys || log.Keys[0].Key != "old/1" || log.Keys[n-1].Key != "new" || log.Keys[n-1].Pending != nil {
		t.Errorf("%d keys from %s to %+v, want %d from old/1 to new, done", n, log.Keys[0].Key, log.Keys[n-1], maxKeys)
	}
}

// TestFileConcurrent: changes of one file from many goroutines are
// serialized; none is lost.
func TestFileConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.yaml")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			f, err := NewFile(fileSpec(path, "yaml"))
			if err == nil {
				_, err = f.Change(context.Background(), activities.Change{Key: strconv.Itoa(i), Action: webhook.ActionApply, Percent: float64(i + 1), Config: cand})
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	f, _ := NewFile(fileSpec(path, "yaml"))
	if log, err := f.readKeys(); err != nil || len(log.Keys) != 8 {
		t.Errorf("%d keys, %v; want 8", len(log.Keys), err)
	}
}

// TestEnvValues: values that need quoting survive a write and a read.
func TestEnvValues(t *testing.T) {
	choices := []string{"plain", "two words", `quote " and $HOME and \ and ` + "`x`", "", "ünï"}
	spec := fileSpec(filepath.Join(t.TempDir(), "svc.env"), "env")
	spec.Params = models.Space{{Name: "mode", Type: models.Categorical, Choices: choices}, {Name: "n", Type: models.Float, Min: -1e30, Max: 1e30}}
	f, err := NewFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range choices {
		for _, n := range []float64{1e21, -0.000125, 7} {
			st := fileState{Baseline: map[string]any{"mode": c, "n": n}}
			raw, err := f.encode(st)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := f.decode(raw)
			if err != nil || got.Baseline["mode"] != c || got.Baseline["n"] != n {
				t.Errorf("%q, %v: read back %v, %v from\n%s", c, n, got.Baseline, err, raw)
			}
		}
	}
	if _, err := f.encode(fileState{Baseline: map[string]any{"mode": "a\nb"}}); err == nil || !strings.Contains(err.Error(), "control character") {
		t.Errorf("a newline: %v", err)
	}
	if _, err := envUnquote(`"open`); err == nil {
		t.Error(`"open: want an error`)
	}
	if s, err := envUnquote(`'single $x'`); err != nil || s != "single $x" {
		t.Errorf("single quotes: %q, %v", s, err)
	}
}

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	apply := activities.Change{Key: "k", Action: webhook.ActionApply, Percent: 5, Config: cand}
	t.Run("malformed file", func(t *testing.T) {
		path := filepath.Join(dir, "bad.yaml")
		os.WriteFile(path, []byte("baseline: {worker_threads: 8}\nweights: 3\n"), 0o644)
		f, _ := NewFile(fileSpec(path, "yaml"))
		if _, err := f.Change(ctx, apply); !refused(err) || !strings.Contains(err.Error(), "field weights not found") {
			t.Errorf("%v, want a refusal", err)
		}
		if _, err := f.Baseline(ctx); err == nil {
			t.Error("Baseline of a malformed file: no error")
		}
	})
	t.Run("malformed env", func(t *testing.T) {
		path := filepath.Join(dir, "bad.env")
		os.WriteFile(path, []byte("PASSFLOW_BASELINE_WORKER_THREADS=many\n"), 0o644)
		f, _ := NewFile(fileSpec(path, "env"))
		if _, err := f.Change(ctx, apply); !refused(err) || !strings.Contains(err.Error(), `line 1: PASSFLOW_BASELINE_WORKER_THREADS: expected a number, got "many"`) {
			t.Errorf("%v, want a refusal naming the line", err)
		}
		os.WriteFile(path, []byte("HOME=/root\n"), 0o644)
		if _, err := f.Change(ctx, apply); !refused(err) || !strings.Contains(err.Error(), "line 1: HOME: expected PASSFLOW_BASELINE_<KNOB>") {
			t.Errorf("%v, want a refusal naming the line", err)
		}
	})
	t.Run("symbolic link", func(t *testing.T) {
		path := filepath.Join(dir, "link.yaml")
		os.Symlink(filepath.Join(dir, "elsewhere.yaml"), path)
		f, _ := NewFile(fileSpec(path, "yaml"))
		if _, err := f.Change(ctx, apply); !refused(err) || !strings.Contains(err.Error(), "is a symbolic link") {
			t.Errorf("%v, want a refusal", err)
		}
	})
	t.Run("bad changes", func(t *testing.T) {
		f, _ := NewFile(fileSpec(filepath.Join(dir, "svc.yaml"), "yaml"))
		for _, ch := range []activities.Change{
			{Key: "a", Action: "restart", Config: cand},
			{Key: "b", Action: webhook.ActionApply, Percent: 150, Config: cand},
			{Key: "c", Action: webhook.ActionApply, Percent: 5},
			{Key: "d", Action: webhook.ActionRevert, Percent: 5},
			{Action: webhook.ActionApply, Percent: 5, Config: cand},
		} {
			if _, err := f.Change(ctx, ch); !refused(err) {
				t.Errorf("%+v: %v, want a refusal", ch, err)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "svc.yaml")); !os.IsNotExist(err) {
			t.Errorf("a refused change wrote the file: %v", err)
		}
	})
	for _, tt := range []struct {
		name string
		spec target.Spec
		want string
	}{
		{"no block", target.Spec{Name: "svc"}, "target svc: actuator: expected a file"},
		{"relative path", fileSpec("svc.yaml", ""), `actuator.file.path: expected an absolute path, got "svc.yaml"`},
		{"format", fileSpec("/etc/svc.xml", "xml"), `actuator.file.format: expected yaml, json or env, got "xml"`},
		{"argv", fileSpec("/etc/svc.yaml", "", "systemctl", "reload"), `actuator.file.argv[0]: expected an absolute path`},
		{"env names", func() target.Spec {
			s := fileSpec("/etc/svc.env", "env")
			s.Params = append(s.Params, models.Param{Name: "cache-ttl-s", Type: models.Float, Min: 1, Max: 2})
			return s
		}(), "the knobs cache.ttl-s and cache-ttl-s have one env name, CACHE_TTL_S"},
		{"env percent", func() target.Spec {
			s := fileSpec("/etc/svc.env", "env")
			s.Params = append(s.Params, models.Param{Name: "percent", Type: models.Float, Min: 1, Max: 2})
			return s
		}(), "the knob percent would be written as PASSFLOW_CANARY_PERCENT"},
	} {
		if _, err := NewFile(tt.spec); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}
