package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestJudgeBadInput(t *testing.T) {
	const (
		base    = "testdata/baseline.json"
		canary  = "testdata/canary_pass.json"
		metrics = "testdata/metrics.yaml"
	)
	tests := []struct {
		name                    string
		baseline, can, metricsF string
		want                    string
	}{
		{"missing baseline flag", "", canary, metrics, "--baseline FILE is required"},
		{"missing file", "testdata/nope.json", canary, metrics, "testdata/nope.json: file not found"},
		{"missing metrics file", base, canary, "testdata/nope.yaml", "testdata/nope.yaml: file not found"},
		{"bad JSON", base, "testdata/bad_json.json", metrics, "testdata/bad_json.json: invalid JSON at line 2"},
		{"not an object", "testdata/bad_top.json", canary, metrics, "testdata/bad_top.json: expected a JSON object mapping metric names to arrays of samples"},
		{"not an array", base, "testdata/bad_array.json", metrics, `testdata/bad_array.json: metric "cpu": expected an array of numbers`},
		{"non-number sample", base, "testdata/bad_sample.json", metrics, `testdata/bad_sample.json: metric "cpu": sample 1: expected a number or null, got "high"`},
		{"unknown field", base, canary, "testdata/metrics_unknown_field.yaml", "testdata/metrics_unknown_field.yaml: line 5: field critcal not found"},
		{"bad direction", base, canary, "testdata/metrics_bad_direction.yaml", `testdata/metrics_bad_direction.yaml: metrics[0] (latency_ms): direction: expected increase, decrease or both, got "up"`},
		{"bad allowed_effect", base, canary, "testdata/metrics_bad_effect.yaml", `testdata/metrics_bad_effect.yaml: metric latency_ms: allowed_effect: expected a relative effect like 5%, +5% or 0.05, got "five percent"`},
		{"empty metrics", base, canary, "testdata/metrics_empty.yaml", "testdata/metrics_empty.yaml: empty file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Judge(JudgeOptions{BaselineFile: tt.baseline, CanaryFile: tt.can, MetricsFile: tt.metricsF}, &out, &errOut)
			if code != ExitBadInput {
				t.Errorf("exit %d, want %d", code, ExitBadInput)
			}
			if !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("stderr %q, want it to contain %q", errOut.String(), tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q, want nothing", out.String())
			}
		})
	}
}

func TestJudgeVerdicts(t *testing.T) {
	tests := []struct {
		name, canary string
		code         int
		verdict      string
		latency      string
	}{
		{"pass", "testdata/canary_pass.json", ExitOK, "pass", "pass"},
		{"fail", "testdata/canary_fail.json", ExitFail, "fail", "high"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := JudgeOptions{BaselineFile: "testdata/baseline.json", CanaryFile: tt.canary, MetricsFile: "testdata/metrics.yaml"}
			var out, errOut bytes.Buffer
			if code := Judge(opts, &out, &errOut); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, errOut.String())
			}
			if !strings.Contains(out.String(), "verdict: "+tt.verdict) {
				t.Errorf("table output lacks the verdict line:\n%s", out.String())
			}

			opts.JSON = true
			out.Reset()
			if code := Judge(opts, &out, &errOut); code != tt.code {
				t.Fatalf("--json exit %d, want %d", code, tt.code)
			}
			var v struct {
				Verdict string  `json:"verdict"`
				Score   float64 `json:"score"`
				Metrics []struct {
					Metric    string   `json:"metric"`
					Class     string   `json:"class"`
					Shift     *float64 `json:"shift"`
					CILow     *float64 `json:"ci_low"`
					CIHigh    *float64 `json:"ci_high"`
					NBaseline int      `json:"n_baseline"`
					NCanary   int      `json:"n_canary"`
				} `json:"metrics"`
			}
			if err := json.Unmarshal(out.Bytes(), &v); err != nil {
				t.Fatalf("--json output is not one JSON object: %v\n%s", err, out.String())
			}
			if v.Verdict != tt.verdict || len(v.Metrics) != 2 {
				t.Fatalf("verdict %q with %d metrics, want %q with 2", v.Verdict, len(v.Metrics), tt.verdict)
			}
			m := v.Metrics[0]
			if m.Metric != "latency_ms" || m.Class != tt.latency || m.Shift == nil || m.CILow == nil || m.CIHigh == nil || m.NBaseline != 40 || m.NCanary != 40 {
				t.Errorf("latency evidence %+v, want class %s on 40/40 samples", m, tt.latency)
			}
		})
	}
}
