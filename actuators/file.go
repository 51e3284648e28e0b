package actuators

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/sdk/temporal"
	yaml "go.yaml.in/yaml/v3"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/webhook"
)

// The formats of the file actuator's file.
const (
	FormatYAML = "yaml"
	FormatJSON = "json"
	FormatEnv  = "env"
)

// The file actuator's companions of PATH, in the same directory.
const (
	// prevSuffix names the file's content before its last change, for an
	// operator to restore.
	prevSuffix = ".prev"
	// keysSuffix names the log of the keys applied and their answers.
	keysSuffix = ".passflow-keys"
	// maxKeys bounds the key log: a retry comes within minutes of its
	// first attempt, long before a thousand more changes.
	maxKeys = 1000
	// defaultFileMode is a new file's mode; an existing file keeps its own.
	defaultFileMode fs.FileMode = 0o644
	// lockPoll is how often a change waits for another process's lock.
	lockPoll = 20 * time.Millisecond
)

// The names of the env format: PASSFLOW_BASELINE_<KNOB>,
// PASSFLOW_CANARY_<KNOB> and PASSFLOW_CANARY_PERCENT.
const (
	envBaseline = "PASSFLOW_BASELINE_"
	envCanary   = "PASSFLOW_CANARY_"
	envPercent  = "PASSFLOW_CANARY_PERCENT"
)

// File is the file actuator: it keeps, in the target's file, what the
// service runs, for the service to read (and, when argv is set, for the
// program run after each write to make it read, e.g. a reload). The file
// holds the baseline's configuration and, while a canary is on, the
// canary's configuration and its share of the traffic in percent; the
// canary runs the baseline's value of any knob it does not name. Numbers
// that are whole are written as integers. By format:
//
// yaml (the default), after a comment naming the target:
//
//	baseline:
//	  gc_mode: throughput
//	  worker_threads: 32
//	canary:
//	  worker_threads: 40
//	percent: 5
//
// json:
//
//	{"baseline": {"gc_mode": "throughput", "worker_threads": 32}, "canary": {"worker_threads": 40}, "percent": 5}
//
// env (one NAME=VALUE a line, knob names upper-cased and every character
// other than A-Z and 0-9 turned into _; a value other than letters, digits
// and ._-+,:/@% is double-quoted, with \ " $ and ` escaped by a \):
//
//	PASSFLOW_BASELINE_GC_MODE=throughput
//	PASSFLOW_BASELINE_WORKER_THREADS=32
//	PASSFLOW_CANARY_WORKER_THREADS=40
//	PASSFLOW_CANARY_PERCENT=5
//
// Without a canary there is no canary block (no PASSFLOW_CANARY_<KNOB>)
// and the percent is 0. A missing or empty file stands for the target's
// current values of its params (models.Space.Current) as the baseline, and
// no canary.
//
// Each change reads the file, computes the new state (apply: the canary
// runs the configuration on percent of the traffic; revert: the canary
// goes back to percent, 0 removing it; promote: the configuration becomes
// the baseline, knobs of the baseline the target does not tune kept, and
// the canary is removed), and writes it atomically: a temporary file in
// the same directory, written, synced and renamed over PATH, then the
// directory synced. The content before is kept, the same way, as
// PATH.prev. The file keeps its mode (0644 for a new one) and, where the
// worker may set them, its owner and group; a symbolic link at PATH is
// refused, since the rename would replace it. Then argv, when set, runs as
// the command actuator's program does (no shell, a process group of its
// own, killed at the timeout; nothing on standard input): exit 0 is done,
// 75 or a timeout is retried, anything else fails for good with the tail
// of its standard error.
//
// A change is idempotent under its key: PATH.passflow-keys, JSON written
// atomically too, holds the last 1,000 keys with what each answered; a
// repeated key returns its first answer and writes nothing. A key is
// logged, with the state it writes, before the file is written, and marked
// done once argv has run, so that a retry after a crash or a retryable
// failure of argv finishes the same change with the same answer. Changes
// to one file are serialized, within the worker and, through a lock on its
// directory (flock), with other processes on the host.
type File struct {
	target, path, format string
	params               models.Space
	knobs                knobs
	// env maps the env name of each of the target's knobs to the knob.
	env map[string]models.Param
	// reload is the program run after each write; nil without argv.
	reload *program
}

var _ activities.Actuator = (*File)(nil)

// NewFile builds the file actuator of spec.
func NewFile(spec target.Spec) (*File, error) {
	fb := spec.Actuator.File
	if fb == nil {
		return nil, fmt.Errorf("target %s: actuator: expected a file", spec.Name)
	}
	at := fmt.Sprintf("target %s: actuator.file", spec.Name)
	if !filepath.IsAbs(fb.Path) {
		return nil, fmt.Errorf("%s.path: expected an absolute path, got %q", at, fb.Path)
	}
	f := &File{target: spec.Name, path: filepath.Clean(fb.Path), format: fb.Format, params: spec.Params,
		knobs: newKnobs(spec.Params)}
	switch f.format {
	case "":
		f.format = FormatYAML
	case FormatYAML, FormatJSON, FormatEnv:
	default:
		return nil, fmt.Errorf("%s.format: expected yaml, json or env, got %q", at, fb.Format)
	}
	if f.format == FormatEnv {
		f.env = map[string]models.Param{}
		for _, p := range spec.Params {
			name := envName(p.Name)
			if other, ok := f.env[name]; ok {
				return nil, fmt.Errorf("%s.format: the knobs %s and %s have one env name, %s", at, other.Name, p.Name, name)
			}
			if name == strings.TrimPrefix(envPercent, envCanary) {
				return nil, fmt.Errorf("%s.format: the knob %s would be written as %s, the canary's percent", at, p.Name, envPercent)
			}
			f.env[name] = p
		}
	}
	if len(fb.Argv) > 0 {
		prog, err := newProgram(at, fb.Argv, fb.Timeout)
		if err != nil {
			return nil, err
		}
		f.reload = &prog
	}
	return f, nil
}

// Change makes ch in the file and returns what the changed cohort ran
// before.
func (f *File) Change(ctx context.Context, ch activities.Change) (activities.Replaced, error) {
	what := fmt.Sprintf("file %s of %s", ch.Action, f.target)
	if ch.Key == "" {
		return activities.Replaced{}, classify(what, lasting("expected an idempotency key"))
	}
	unlock, err := f.lock(ctx)
	if err != nil {
		return activities.Replaced{}, fmt.Errorf("%s: %w", what, err)
	}
	defer unlock()
	log, err := f.readKeys()
	if err != nil {
		return activities.Replaced{}, classify(what, err)
	}
	if i := slices.IndexFunc(log.Keys, func(e keyEntry) bool { return e.Key == ch.Key }); i >= 0 {
		if log.Keys[i].Pending != nil {
			cur, err := f.read()
			if err != nil {
				return activities.Replaced{}, classify(what, err)
			}
			if err := f.finish(ctx, &log, i, cur); err != nil {
				return activities.Replaced{}, classify(what, err)
			}
		}
		return f.answer(what, log.Keys[i])
	}
	cur, err := f.read()
	if err != nil {
		return activities.Replaced{}, classify(what, err)
	}
	next, replaced, err := f.step(cur.state, ch)
	if err != nil {
		return activities.Replaced{}, classify(what, err)
	}
	log.Keys = append(log.Keys, keyEntry{Key: ch.Key, Action: ch.Action, Replaced: toMap(replaced.Config),
		ReplacedPercent: replaced.Percent, Pending: &next})
	if n := len(log.Keys) - maxKeys; n > 0 {
		log.Keys = slices.Delete(log.Keys, 0, n)
	}
	if err := f.writeKeys(log, cur.perm); err != nil {
		return activities.Replaced{}, classify(what, err)
	}
	if err := f.finish(ctx, &log, len(log.Keys)-1, cur); err != nil {
		return activities.Replaced{}, classify(what, err)
	}
	return f.answer(what, log.Keys[len(log.Keys)-1])
}

// Baseline reads what the service runs outside any canary from the file:
// the target's current values when there is none.
func (f *File) Baseline(ctx context.Context) (models.Config, error) {
	cur, err := f.read()
	if err != nil {
		return nil, fmt.Errorf("file state of %s: %w", f.target, err)
	}
	if len(cur.state.Baseline) == 0 {
		return nil, fmt.Errorf("file state of %s: %s names no baseline configuration", f.target, f.path)
	}
	base, err := f.knobs.config(cur.state.Baseline, true)
	if err != nil {
		return nil, fmt.Errorf("file state of %s: %s: %w", f.target, f.path, err)
	}
	return base, nil
}

// answer is what a logged change answered.
func (f *File) answer(what string, e keyEntry) (activities.Replaced, error) {
	c, err := f.knobs.config(e.Replaced, false)
	if err != nil {
		return activities.Replaced{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v", what, err), contract.ErrTypeInvalidChange, nil)
	}
	return activities.Replaced{Config: c, Percent: e.ReplacedPercent}, nil
}

// fileState is what the file holds (see File).
type fileState struct {
	Baseline map[string]any `yaml:"baseline" json:"baseline"`
	Canary   map[string]any `yaml:"canary,omitempty" json:"canary,omitempty"`
	Percent  float64        `yaml:"percent" json:"percent"`
}

// step returns the state ch makes of cur, and what the changed cohort ran
// before.
func (f *File) step(cur fileState, ch activities.Change) (fileState, activities.Replaced, error) {
	if math.IsNaN(ch.Percent) || ch.Percent < 0 || ch.Percent > 100 {
		return fileState{}, activities.Replaced{}, lasting("percent: expected a share of the traffic in [0, 100], got %v", ch.Percent)
	}
	next := fileState{Baseline: maps.Clone(cur.Baseline), Canary: maps.Clone(cur.Canary), Percent: cur.Percent}
	var before map[string]any
	var beforePercent float64
	if len(cur.Canary) > 0 {
		beforePercent = cur.Percent
	}
	switch ch.Action {
	case webhook.ActionApply:
		if len(ch.Config) == 0 {
			return fileState{}, activities.Replaced{}, lasting("expected a configuration to apply")
		}
		before = cur.Canary
		next.Canary, next.Percent = toMap(ch.Config), ch.Percent
	case webhook.ActionRevert:
		before = cur.Canary
		if ch.Config != nil {
			next.Canary = toMap(ch.Config)
		}
		if next.Percent = ch.Percent; next.Percent > 0 && len(next.Canary) == 0 {
			return fileState{}, activities.Replaced{}, lasting("revert to %g%%: no canary runs and the change names no configuration", ch.Percent)
		}
	case webhook.ActionPromote:
		if len(ch.Config) == 0 {
			return fileState{}, activities.Replaced{}, lasting("expected a configuration to promote")
		}
		before, beforePercent = cur.Baseline, 0
		if next.Baseline == nil {
			next.Baseline = map[string]any{}
		}
		maps.Copy(next.Baseline, toMap(ch.Config))
		next.Canary, next.Percent = nil, 0
	default:
		return fileState{}, activities.Replaced{}, lasting("action: expected apply, revert or promote, got %q", ch.Action)
	}
	if next.Percent == 0 {
		next.Canary = nil
	}
	replaced, err := f.knobs.config(before, false)
	if err != nil {
		return fileState{}, activities.Replaced{}, lasting("%s: %v", f.path, err)
	}
	return next, activities.Replaced{Config: replaced, Percent: beforePercent}, nil
}

// finish writes the state the logged change i writes, unless the file
// holds it already, runs argv, and marks the change done.
func (f *File) finish(ctx context.Context, log *keyLog, i int, cur current) error {
	e := &log.Keys[i]
	content, err := f.encode(*e.Pending)
	if err != nil {
		return err
	}
	if !cur.exists || !bytes.Equal(content, cur.raw) {
		if cur.exists {
			if err := writeAtomic(f.path+prevSuffix, cur.raw, cur.perm, cur.owner); err != nil {
				return err
			}
		}
		if err := writeAtomic(f.path, content, cur.perm, cur.owner); err != nil {
			return err
		}
	}
	if f.reload != nil {
		if _, err := f.reload.run(ctx, nil); err != nil {
			var fl *failure
			if errors.As(err, &fl) {
				return &failure{msg: "after writing " + f.path + ": " + fl.msg, retry: fl.retry}
			}
			return err
		}
	}
	e.Pending = nil
	return f.writeKeys(*log, cur.perm)
}

// current is the file as a change finds it.
type current struct {
	state  fileState
	raw    []byte
	exists bool
	perm   fs.FileMode
	owner  *owner // nil for a new file
}

// owner is a file's owner and group.
type owner struct{ uid, gid int }

// read reads the file; a missing or empty one holds the target's current
// values as the baseline.
func (f *File) read() (current, error) {
	cur := current{perm: defaultFileMode}
	fi, err := os.Lstat(f.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		cur.state = f.initial()
		return cur, nil
	case err != nil:
		return current{}, err
	case fi.Mode()&fs.ModeSymlink != 0:
		return current{}, lasting("%s is a symbolic link: name the file it points to in the target, since a write renames a new file over the path", f.path)
	case !fi.Mode().IsRegular():
		return current{}, lasting("%s: expected a regular file, got %s", f.path, fi.Mode().Type())
	}
	cur.exists, cur.perm = true, fi.Mode().Perm()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		cur.owner = &owner{uid: int(st.Uid), gid: int(st.Gid)}
	}
	if cur.raw, err = os.ReadFile(f.path); err != nil {
		return current{}, err
	}
	st, empty, err := f.decode(cur.raw)
	switch {
	case err != nil:
		return current{}, lasting("%s: expected a %s file as passflow writes it: %v", f.path, f.format, err)
	case empty:
		cur.state = f.initial()
	default:
		cur.state = st
	}
	return cur, nil
}

// initial is the state a missing file stands for.
func (f *File) initial() fileState {
	return fileState{Baseline: toMap(f.params.Current())}
}

// encode is the content of the file holding st.
func (f *File) encode(st fileState) ([]byte, error) {
	st.Baseline, st.Canary = whole(st.Baseline), whole(st.Canary)
	if st.Baseline == nil {
		st.Baseline = map[string]any{}
	}
	var b bytes.Buffer
	switch f.format {
	case FormatJSON:
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return nil, lasting("%s: %v", f.path, err)
		}
	case FormatEnv:
		fmt.Fprintf(&b, "# Written by passflow for target %s; a change replaces this file, %s%s holding the one before.\n", f.target, filepath.Base(f.path), prevSuffix)
		for _, c := range []struct {
			prefix string
			m      map[string]any
		}{{envBaseline, st.Baseline}, {envCanary, st.Canary}} {
			for _, k := range slices.Sorted(maps.Keys(c.m)) {
				v, err := envValue(c.m[k])
				if err != nil {
					return nil, lasting("%s: %s: %v", f.path, k, err)
				}
				fmt.Fprintf(&b, "%s%s=%s\n", c.prefix, envName(k), v)
			}
		}
		fmt.Fprintf(&b, "%s=%s\n", envPercent, strconv.FormatFloat(st.Percent, 'f', -1, 64))
	default:
		fmt.Fprintf(&b, "# Written by passflow for target %s; a change replaces this file, %s%s holding the one before.\n", f.target, filepath.Base(f.path), prevSuffix)
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(st); err != nil {
			return nil, lasting("%s: %v", f.path, err)
		}
		if err := enc.Close(); err != nil {
			return nil, lasting("%s: %v", f.path, err)
		}
	}
	return b.Bytes(), nil
}

// whole returns m with each whole number as an integer, as a service reads
// an integer knob most easily.
func whole(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if x, ok := v.(float64); ok && x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			v = int64(x)
		}
		out[k] = v
	}
	return out
}

// decode reads the content of the file; empty is true when it holds
// nothing (only blanks or comments).
func (f *File) decode(raw []byte) (st fileState, empty bool, err error) {
	switch f.format {
	case FormatJSON:
		if len(bytes.TrimSpace(raw)) == 0 {
			return fileState{}, true, nil
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&st); err != nil {
			return fileState{}, false, err
		}
		if _, err := dec.Token(); err != io.EOF {
			return fileState{}, false, errors.New("expected one JSON object, got more after it")
		}
	case FormatEnv:
		var n int
		if st, n, err = f.decodeEnv(raw); err != nil || n == 0 {
			return fileState{}, n == 0 && err == nil, err
		}
	default:
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&st); err == io.EOF {
			return fileState{}, true, nil
		} else if err != nil {
			return fileState{}, false, err
		}
	}
	if math.IsNaN(st.Percent) || st.Percent < 0 || st.Percent > 100 {
		return fileState{}, false, fmt.Errorf("percent: expected a share of the traffic in [0, 100], got %v", st.Percent)
	}
	if len(st.Canary) == 0 {
		st.Canary = nil
	}
	return st, false, nil
}

// decodeEnv reads the env format; n counts its assignments.
func (f *File) decodeEnv(raw []byte) (st fileState, n int, err error) {
	seen := map[string]int{}
	for i, text := range strings.Split(string(raw), "\n") {
		line := i + 1
		text = strings.TrimSpace(text)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, val, ok := strings.Cut(strings.TrimPrefix(text, "export "), "=")
		if !ok {
			return fileState{}, 0, fmt.Errorf("line %d: expected NAME=VALUE", line)
		}
		if first, dup := seen[name]; dup {
			return fileState{}, 0, fmt.Errorf("line %d: %s: repeated; it is already set on line %d", line, name, first)
		}
		seen[name] = line
		n++
		s, err := envUnquote(val)
		if err != nil {
			return fileState{}, 0, fmt.Errorf("line %d: %s: %v", line, name, err)
		}
		var m *map[string]any
		var knob string
		switch {
		case name == envPercent:
			if st.Percent, err = strconv.ParseFloat(s, 64); err != nil {
				return fileState{}, 0, fmt.Errorf("line %d: %s: expected a number, got %q", line, name, s)
			}
			continue
		case strings.HasPrefix(name, envBaseline) && len(name) > len(envBaseline):
			m, knob = &st.Baseline, name[len(envBaseline):]
		case strings.HasPrefix(name, envCanary) && len(name) > len(envCanary):
			m, knob = &st.Canary, name[len(envCanary):]
		default:
			return fileState{}, 0, fmt.Errorf("line %d: %s: expected %s<KNOB>, %s<KNOB> or %s", line, name, envBaseline, envCanary, envPercent)
		}
		var v any = s
		if p, ok := f.env[knob]; ok {
			knob = p.Name
			if p.Type != models.Categorical {
				x, err := strconv.ParseFloat(s, 64)
				if err != nil {
					return fileState{}, 0, fmt.Errorf("line %d: %s: expected a number, got %q", line, name, s)
				}
				v = x
			}
		}
		if *m == nil {
			*m = map[string]any{}
		}
		(*m)[knob] = v
	}
	return st, n, nil
}

// envName is a knob's name in the env format: upper-cased, every character
// other than A-Z and 0-9 turned into _.
func envName(knob string) string {
	b := []byte(strings.ToUpper(knob))
	for i, c := range b {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// envPlain are the characters of a value written without quotes.
const envPlain = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+,:/@%"

// envValue is a value as the env format writes it.
func envValue(v any) (string, error) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", fmt.Errorf("expected a finite number, got %v", x)
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	default:
		return "", fmt.Errorf("expected a number or a string, got %v", v)
	}
	if strings.Trim(s, envPlain) == "" && s != "" {
		return s, nil
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", fmt.Errorf("%q holds a control character, which an env file cannot carry", s)
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if strings.ContainsRune("\\\"$`", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String(), nil
}

// envUnquote reads a value of the env format: plain, double-quoted (\
// escaping \ " $ and `) or single-quoted (as is).
func envUnquote(v string) (string, error) {
	switch {
	case strings.HasPrefix(v, "'"):
		s, ok := strings.CutSuffix(v[1:], "'")
		if !ok || strings.Contains(s, "'") {
			return "", errors.New("expected a value quoted '…', ending the line")
		}
		return s, nil
	case strings.HasPrefix(v, `"`):
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			switch c := v[i]; {
			case c == '\\' && i+1 < len(v) && strings.IndexByte("\\\"$`", v[i+1]) >= 0:
				i++
				b.WriteByte(v[i])
			case c == '"':
				if i != len(v)-1 {
					return "", errors.New(`expected a value quoted "…", ending the line`)
				}
				return b.String(), nil
			default:
				b.WriteByte(c)
			}
		}
		return "", errors.New(`expected a value quoted "…", ending the line`)
	default:
		return v, nil
	}
}

// keyLog is the content of PATH.passflow-keys, oldest key first.
type keyLog struct {
	Keys []keyEntry `json:"keys"`
}

// keyEntry is one change of the key log.
type keyEntry struct {
	Key    string `json:"key"`
	Action string `json:"action"`
	// Replaced and ReplacedPercent are the answer: what the changed cohort
	// ran before, and the canary's share of the traffic then.
	Replaced        map[string]any `json:"replaced"`
	ReplacedPercent float64        `json:"replaced_percent,omitempty"`
	// Pending is the state the change writes, until it is written and argv
	// has run.
	Pending *fileState `json:"pending,omitempty"`
}

func (f *File) readKeys() (keyLog, error) {
	var log keyLog
	raw, err := os.ReadFile(f.path + keysSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return log, nil
	}
	if err != nil {
		return log, err
	}
	if err := json.Unmarshal(raw, &log); err != nil {
		return log, lasting("%s%s: expected the key log passflow writes (removing it forgets which changes were made): %v", f.path, keysSuffix, err)
	}
	return log, nil
}

func (f *File) writeKeys(log keyLog, perm fs.FileMode) error {
	raw, err := json.Marshal(log)
	if err != nil {
		return lasting("%s%s: %v", f.path, keysSuffix, err)
	}
	return writeAtomic(f.path+keysSuffix, append(raw, '\n'), perm, nil)
}

// writeAtomic replaces path with data: a temporary file in the same
// directory, written, synced and renamed over it, then the directory
// synced. The file gets perm and, when own is set and the worker may,
// that owner and group.
func writeAtomic(path string, data []byte, perm fs.FileMode, own *owner) (err error) {
	dir, base := filepath.Split(path)
	tmp, err := os.CreateTemp(dir, "."+base+".passflow-tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Chmod(perm); err != nil { // not subject to the umask
		return err
	}
	if own != nil && (own.uid != os.Geteuid() || own.gid != os.Getegid()) {
		_ = tmp.Chown(own.uid, own.gid) // allowed to root only, or to a group of ours
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) { // EINVAL: the file system syncs no directory
		return err
	}
	return nil
}

// fileLocks holds a semaphore of one for each file a worker changes.
var fileLocks sync.Map

// lock serializes the changes to the file: within the worker, and with
// other processes through flock on its directory (where the file system
// has no flock, within the worker only).
func (f *File) lock(ctx context.Context) (unlock func(), err error) {
	v, _ := fileLocks.LoadOrStore(f.path, make(chan struct{}, 1))
	sem := v.(chan struct{})
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	d, err := os.Open(filepath.Dir(f.path))
	if err != nil {
		<-sem
		return nil, err
	}
	release := func() { d.Close(); <-sem }
	for {
		err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return func() { _ = syscall.Flock(int(d.Fd()), syscall.LOCK_UN); release() }, nil
		case errors.Is(err, syscall.EINTR):
			continue
		case !errors.Is(err, syscall.EWOULDBLOCK):
			return release, nil // no flock here
		}
		select {
		case <-time.After(lockPoll):
		case <-ctx.Done():
			release()
			return nil, ctx.Err()
		}
	}
}
