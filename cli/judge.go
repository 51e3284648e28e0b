package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"

	"github.com/passflow/passflow/models/judge"
)

// JudgeOptions are the inputs of `passflow judge`.
type JudgeOptions struct {
	// BaselineFile and CanaryFile are JSON objects mapping a metric name to
	// an array of samples (numbers; null for a missing sample).
	BaselineFile, CanaryFile string
	// MetricsFile is YAML with the judge's rules, the schema of a target's
	// canary.judge block (judge.Config).
	MetricsFile string
	// JSON prints the verdict as one JSON object instead of a table.
	JSON bool
}

// Judge judges the canary samples against the baseline with the rules of the
// metrics file, prints the verdict with its evidence to stdout, and returns
// the exit code: ExitOK for pass, ExitFail for marginal or fail, ExitBadInput (with
// a message on stderr naming the file and what is wrong) for bad input.
func Judge(opts JudgeOptions, stdout, stderr io.Writer) int {
	bad := func(err error) int {
		fmt.Fprintf(stderr, "passflow judge: %v\n", err)
		return ExitBadInput
	}
	for _, f := range []struct{ flag, path string }{{"--baseline", opts.BaselineFile}, {"--canary", opts.CanaryFile}, {"--metrics", opts.MetricsFile}} {
		if f.path == "" {
			return bad(fmt.Errorf("%s FILE is required", f.flag))
		}
	}
	cfg, err := LoadJudgeConfig(opts.MetricsFile)
	if err != nil {
		return bad(err)
	}
	baseline, err := LoadSamples(opts.BaselineFile)
	if err != nil {
		return bad(err)
	}
	canary, err := LoadSamples(opts.CanaryFile)
	if err != nil {
		return bad(err)
	}
	v, err := judge.Judge(cfg, baseline, canary)
	if err != nil {
		return bad(fmt.Errorf("%s: %v", opts.MetricsFile, err))
	}
	if opts.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return bad(err)
		}
	} else {
		printTable(stdout, v)
	}
	if v.Verdict == judge.VerdictPass {
		return ExitOK
	}
	return ExitFail
}

// LoadJudgeConfig reads a metrics file strictly (unknown fields are errors) and
// validates it. Errors start with the file name.
func LoadJudgeConfig(path string) (judge.Config, error) {
	var cfg judge.Config
	f, err := os.Open(path)
	if err != nil {
		return cfg, fileError(path, err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("%s: empty file, expected a YAML mapping with metrics", path)
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n")
		msg = strings.TrimPrefix(msg, "yaml: ")
		lines := strings.Split(msg, "\n")
		for i := range lines {
			lines[i] = strings.TrimSpace(lines[i])
		}
		return cfg, fmt.Errorf("%s: %s", path, strings.Join(lines, "; "))
	}
	if err := cfg.Validate(); err != nil {
		msg := err.Error()
		if u := errors.Unwrap(err); u != nil {
			msg = u.Error()
		}
		return cfg, fmt.Errorf("%s: %s", path, strings.ReplaceAll(msg, "\n", "; "))
	}
	return cfg, nil
}

// LoadSamples reads a JSON object mapping metric names to arrays of samples.
// A null sample is missing (NaN: dropped by the judge, never read as zero).
// Errors start with the file name and name the metric and the sample.
func LoadSamples(path string) (map[string][]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fileError(path, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Errorf("%s: invalid JSON at line %d: %v", path, lineOf(b, se.Offset), se)
		case errors.As(err, &te):
			return nil, fmt.Errorf("%s: expected a JSON object mapping metric names to arrays of samples, got %s", path, te.Value)
		}
		return nil, fmt.Errorf("%s: invalid JSON: %v", path, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("%s: expected a JSON object mapping metric names to arrays of samples, got null", path)
	}
	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	slices.Sort(names)
	out := make(map[string][]float64, len(raw))
	for _, name := range names {
		var items []json.RawMessage
		if err := json.Unmarshal(raw[name], &items); err != nil || items == nil && string(raw[name]) == "null" {
			return nil, fmt.Errorf("%s: metric %q: expected an array of numbers", path, name)
		}
		xs := make([]float64, len(items))
		for i, it := range items {
			if string(it) == "null" {
				xs[i] = math.NaN()
				continue
			}
			if err := json.Unmarshal(it, &xs[i]); err != nil {
				return nil, fmt.Errorf("%s: metric %q: sample %d: expected a number or null, got %s", path, name, i, it)
			}
		}
		out[name] = xs
	}
	return out, nil
}

func fileError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: file not found", path)
	}
	return fmt.Errorf("%s: %v", path, err)
}

func lineOf(b []byte, offset int64) int {
	return 1 + strings.Count(string(b[:min(int(offset), len(b))]), "\n")
}

// printTable writes the verdict as a table of metrics and a verdict line.
func printTable(w io.Writer, v judge.Verdict) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "METRIC\tCLASS\tSHIFT\tREL\t%g%% CI (REL)\tN BASE/CANARY\tWHY\n", 100*v.Confidence)
	for _, m := range v.Metrics {
		name := m.Metric
		if m.Critical {
			name += " (critical)"
		}
		if m.Class == judge.ClassNoData {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t%d/%d\t%s\n", name, m.Class, m.NBaseline, m.NCanary, m.Why)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%+.4g\t%+.1f%%\t[%+.1f%%, %+.1f%%]\t%d/%d\t%s\n",
			name, m.Class, m.Shift, 100*m.RelShift, 100*m.RelCILow, 100*m.RelCIHigh, m.NBaseline, m.NCanary, m.Why)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nverdict: %s (score %.1f)", v.Verdict, v.Score)
	if v.LowConfidence {
		fmt.Fprint(w, ", low confidence")
	}
	fmt.Fprintln(w)
	for _, r := range v.Reasons {
		fmt.Fprintf(w, "  - %s\n", r)
	}
}
