package target

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/config"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/models/validatetest"
)

func TestGoodFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	examples, err := filepath.Glob("../examples/targets/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, examples...)
	if len(files) < 4 {
		t.Fatalf("found only %d good files", len(files))
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			s, err := Load(f)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			// What Parse returns is valid, and validating again changes nothing.
			again := s
			if probs := Validate(&again); probs != nil {
				t.Errorf("Validate of a parsed spec: %v", probs)
			}
			if !reflect.DeepEqual(again, s) {
				t.Errorf("Validate changed a parsed spec:\n got %+v\nwant %+v", again, s)
			}
		})
	}
}

// badFiles lists every file of testdata/bad with what its error must say.
var badFiles = map[string][]string{
	"actuator-simulator-differs.yaml": {"actuator-simulator-differs.yaml:8: actuator.simulator: expected {} or the same settings as telemetry.simulator"},
	"bake-too-short.yaml":             {"bake-too-short.yaml:9: canary.bake_for: expected 0 (no bake) or a duration >= 1h (a bake is judged an hour at a time), got 30m"},
	"bake-without-stage.yaml":         {"bake-without-stage.yaml:9: canary.bake_for: expected a stage below 100% to bake, got stages [100]"},
	"bad-band.yaml":                   {`bad-band.yaml:9: risk.approval_from: expected low, medium, high or forbidden (never ask), got "severe"`},
	"bad-cron-range.yaml":             {`bad-cron-range.yaml:9: triggers.schedule: expected a 5-field cron expression`, `got "25" in the hour field (expected 0-23)`},
	"bad-cron.yaml":                   {`bad-cron.yaml:9: triggers.schedule: expected a 5-field cron expression`, `got 4 fields in "0 2 * *"`},
	"bad-duration.yaml":               {`bad-duration.yaml:10: canary.verify_for: expected a duration such as 30s, 5m, 24h or 30d, got "30 minutes"`},
	"bad-goal.yaml":                   {`bad-goal.yaml:4: objective.goal: expected minimize or maximize, got "lower"`},
	"bad-name.yaml":                   {`bad-name.yaml:1: name: expected lowercase letters, digits and '-'`, `got "Checkout API"`},
	"bad-prometheus-url.yaml":         {`bad-prometheus-url.yaml:8: telemetry.prometheus.url: expected an absolute http(s) URL`, `got "127.0.0.1:9090"`},
	"bad-risk-numbers.yaml":           {"bad-risk-numbers.yaml:10: risk.max_step: expected max_step in (0, 1], got 1.5", "bad-risk-numbers.yaml:11: risk.delta: expected delta in (0, 0.5], got 0.9", "bad-risk-numbers.yaml:12: risk.approvers[1]: expected an approver's name"},
	"bad-secret-env.yaml":             {`bad-secret-env.yaml:12: actuator.webhook.secret_env: expected an environment variable name`, `got "my-secret"`},
	"bad-slo.yaml":                    {"bad-slo.yaml:9: error_budget.slo: expected slo in (0, 1)", "got 99.9"},
	"bad-timezone.yaml":               {`bad-timezone.yaml:11: triggers.timezone: expected an IANA time zone such as UTC or Europe/Berlin, got "Mars/Olympus"`},
	"bad-tier.yaml":                   {`bad-tier.yaml:2: tier: expected critical, standard or best-effort, got "gold"`},
	"bad-webhook-url.yaml":            {`bad-webhook-url.yaml:12: actuator.webhook.url: expected an absolute http(s) URL`, `got "ftp://example.com/config"`},
	"categorical-no-choices.yaml":     {"categorical-no-choices.yaml:3: params[0].choices: expected at least two choices"},
	"check-every-gt-verify-for.yaml":  {"check-every-gt-verify-for.yaml:9: canary.check_every: expected check_every <= verify_for (5m), got 10m"},
	"constraint-no-bound.yaml":        {"constraint-no-bound.yaml:6: constraints[0]: expected a bound: max, min or both"},
	"current-out-of-range.yaml":       {"current-out-of-range.yaml:3: params[0].current: expected a value in [1, 64], got 100"},
	"current-wrong-type.yaml":         {"current-wrong-type.yaml:3: params[0].current: expected a number or a string, got a list"},
	"duplicate-constraint.yaml":       {`duplicate-constraint.yaml:7: constraints[1].metric: duplicate metric "error_rate" (also constraints[0])`},
	"duplicate-key.yaml":              {"duplicate-key.yaml:9: name: repeated key; it is already set on line 1"},
	"duplicate-param.yaml":            {`duplicate-param.yaml:4: params[1].name: duplicate parameter "threads" (also params[0])`},
	"empty-alert.yaml":                {"empty-alert.yaml:9: triggers.alerts[1]: expected an alert name"},
	"empty-command.yaml":              {"empty-command.yaml:12: actuator.command.argv: expected a program and its arguments"},
	"empty-file-path.yaml":            {"empty-file-path.yaml:12: actuator.file.path: expected a file path"},
	"empty-params.yaml":               {"empty-params.yaml:2: params: expected at least one parameter"},
	"empty.yaml":                      {"empty.yaml: empty file; expected a target"},
	"freeze-bad-cron.yaml": {
		`freeze-bad-cron.yaml:12: triggers.freeze.windows[0].cron: expected a 5-field cron expression such as "0 18 * * 5" (minute, hour, day of month, month, day of week), got "0 18 * *"`,
		`freeze-bad-cron.yaml:13: triggers.freeze.windows[1].cron: expected a 5-field cron expression such as "0 18 * * 5" (minute, hour, day of month, month, day of week), got "0 22 * * FRIDAY": failed to parse int from FRIDAY`,
	},
	"freeze-bad-policies.yaml": {
		`freeze-bad-policies.yaml:11: triggers.freeze.on_request: expected wait or skip, got "later"`,
		`freeze-bad-policies.yaml:12: triggers.freeze.on_canary: expected hold or rollback, got "pause"`,
	},
	"freeze-bad-time.yaml":      {`freeze-bad-time.yaml:15: triggers.freeze.windows[1].to: expected an RFC 3339 time such as 2026-12-20T00:00:00Z, got "2027-01-04"`},
	"freeze-both.yaml":          {"freeze-both.yaml:12: triggers.freeze.windows[0]: expected either cron and duration (a recurring freeze) or from and to (a fixed one), got both"},
	"freeze-cron-never.yaml":    {`freeze-cron-never.yaml:12: triggers.freeze.windows[0].cron: expected a cron expression that matches some date, got "0 0 30 2 *", which never does`},
	"freeze-cron-tz.yaml":       {`freeze-cron-tz.yaml:12: triggers.freeze.windows[0].cron: expected no CRON_TZ= or TZ= prefix, got "CRON_TZ=Europe/Berlin 0 18 * * 5"; set the window's timezone field instead`},
	"freeze-from-after-to.yaml": {"freeze-from-after-to.yaml:13: triggers.freeze.windows[1].to: expected a time after from (2027-01-04T00:00:00Z), got 2026-12-20T00:00:00Z"},
	"freeze-incomplete.yaml": {
		"freeze-incomplete.yaml:12: triggers.freeze.windows[0].duration: expected a duration > 0 such as 62h: how long each freeze lasts",
		"freeze-incomplete.yaml:13: triggers.freeze.windows[1].to: expected an RFC 3339 time such as 2026-12-20T00:00:00Z: when the freeze ends",
	},
	"freeze-long-duration.yaml": {"freeze-long-duration.yaml:12: triggers.freeze.windows[0].duration: expected at most 7d, got 8d: a recurring freeze longer than a week is a mistake"},
	"freeze-neither.yaml":       {"freeze-neither.yaml:12: triggers.freeze.windows[0]: expected either cron and duration (a recurring freeze) or from and to (a fixed one), got neither"},
	"freeze-no-windows.yaml":    {"freeze-no-windows.yaml:11: triggers.freeze.windows: expected at least one freeze window: cron and duration, or from and to"},
	"freeze-window-timezone.yaml": {
		`freeze-window-timezone.yaml:13: triggers.freeze.windows[0].timezone: expected an IANA time zone such as UTC or Europe/Berlin, got "Berlin"`,
		`freeze-window-timezone.yaml:14: triggers.freeze.windows[1].timezone: expected no timezone on a fixed window: from and to carry their own offset, got "Europe/Berlin"`,
	},
	"log-min-zero.yaml":                       {"log-min-zero.yaml:3: params[0].min: log scale needs min > 0, got 0"},
	"many-problems.yaml":                      {"many-problems.yaml:1: name:"}, // see TestAllProblemsReported
	"min-ge-max.yaml":                         {"min-ge-max.yaml:3: params[0].max: expected max > min, got min 10 and max 5"},
	"missing-name.yaml":                       {"missing-name.yaml: name: expected a name"},
	"missing-query.yaml":                      {`missing-query.yaml:9: telemetry.queries.error_rate: expected a PromQL query for metric "error_rate", which constraints[0].metric reads`},
	"negative-seed.yaml":                      {`negative-seed.yaml:7: telemetry.simulator.seed: expected a non-negative integer, got "-1"`},
	"no-actuator.yaml":                        {"no-actuator.yaml: actuator: expected exactly one of webhook, command, file or simulator, got none"},
	"only-comments.yaml":                      {"only-comments.yaml: empty file"},
	"queries-with-simulator.yaml":             {"queries-with-simulator.yaml:9: telemetry.queries: queries are only for prometheus"},
	"query-bad-template.yaml":                 {"query-bad-template.yaml:11: telemetry.queries.error_rate: expected a Go template using only {{.Cohort}} and {{.Window}}"},
	"query-unknown-field.yaml":                {"query-unknown-field.yaml:10: telemetry.queries.latency_p95_ms: unknown template field .Foo; expected only {{.Cohort}} and {{.Window}}"},
	"simulator-actuator-with-prometheus.yaml": {"simulator-actuator-with-prometheus.yaml:12: actuator.simulator: the simulator actuator needs simulator telemetry"},
	"simulator-bad-noise.yaml":                {"simulator-bad-noise.yaml:7: telemetry.simulator.noise: expected noise in [0, 1), got 1.5", "telemetry.simulator.regression: expected a finite regression >= 0, got -0.1"},
	"simulator-unknown-metric.yaml":           {`simulator-unknown-metric.yaml:4: objective.metric: the web simulator has no metric "latency_p50_ms"; expected one of latency_p95_ms`},
	"simulator-unknown-model.yaml":            {`simulator-unknown-model.yaml:7: telemetry.simulator.model: unknown model "db"; expected one of web`},
	"simulator-with-webhook.yaml":             {"simulator-with-webhook.yaml:8: actuator: simulator telemetry needs the simulator actuator", "got webhook"},
	"stages-last-not-100.yaml":                {"stages-last-not-100.yaml:9: canary.stages[2]: expected the last stage to be 100, got 50"},
	"stages-not-increasing.yaml":              {"stages-not-increasing.yaml:9: canary.stages[2]: expected stages to increase, got 25 after 50"},
	"syntax-error.yaml":                       {"syntax-error.yaml:4: invalid YAML: did not find expected ',' or '}'"},
	"telemetry-both.yaml":                     {"telemetry-both.yaml:7: telemetry: expected exactly one of prometheus or simulator, got both"},
	"top-level-list.yaml":                     {"top-level-list.yaml:1: expected a mapping at the top level, got a list"},
	"two-actuators.yaml":                      {"two-actuators.yaml:12: actuator: expected exactly one of webhook, command, file or simulator, got webhook and command"},
	"two-documents.yaml":                      {"two-documents.yaml:9: a second YAML document; expected one per file"},
	"unknown-field.yaml":                      {`unknown-field.yaml:9: unknown field "colour"; expected one of name, tier, params`},
	"unknown-nested-field.yaml":               {`unknown-nested-field.yaml:11: canary: unknown field "verfiy_for"; expected one of stages, verify_for, check_every, tolerance`},
	"unknown-param-type.yaml":                 {`unknown-param-type.yaml:3: params[0].type: unknown type "double"`},
	"wrong-kind.yaml":                         {"wrong-kind.yaml:9: canary: expected a mapping, got a list"},
	"wrong-type.yaml":                         {`wrong-type.yaml:6: constraints[0].max: expected a number, got "abc"`},
}

// quiet lists the files expected to produce exactly one problem: the check
// that a mistake is reported once, not echoed by later checks.
var quiet = []string{
	"bad-duration.yaml", "current-wrong-type.yaml", "wrong-type.yaml", "wrong-kind.yaml",
	"unknown-field.yaml", "unknown-nested-field.yaml", "telemetry-both.yaml", "simulator-with-webhook.yaml",
	"missing-query.yaml", "query-unknown-field.yaml", "duplicate-key.yaml", "negative-seed.yaml",
	// triggers.timezone is wrong, and the window that takes it is not.
	"bad-timezone.yaml", "freeze-bad-time.yaml", "freeze-both.yaml", "freeze-neither.yaml",
	"freeze-cron-tz.yaml", "freeze-long-duration.yaml", "freeze-from-after-to.yaml", "freeze-no-windows.yaml",
}

func TestBadFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found only %d bad files", len(files))
	}
	for _, f := range files {
		if _, ok := badFiles[filepath.Base(f)]; !ok {
			t.Errorf("%s has no entry in badFiles", f)
		}
	}
	for name, wants := range badFiles {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", "bad", name)
			s, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%s) = nil error, want %q", path, wants)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Load error is %T, want *Error: %v", err, err)
			}
			if e.File != path {
				t.Errorf("Error.File = %q, want %q", e.File, path)
			}
			if !reflect.DeepEqual(s, Spec{}) {
				t.Errorf("Load returned a non-zero Spec with an error: %+v", s)
			}
			msg := err.Error()
			for _, want := range wants {
				if !strings.Contains(msg, want) {
					t.Errorf("error does not contain %q:\n%s", want, msg)
				}
			}
			for _, line := range strings.Split(msg, "\n") {
				if !strings.HasPrefix(line, path+":") {
					t.Errorf("line %q does not start with the file name", line)
				}
			}
		})
	}
	for _, name := range quiet {
		_, err := Load(filepath.Join("testdata", "bad", name))
		var e *Error
		if errors.As(err, &e) && len(e.Problems) != 1 {
			t.Errorf("%s: got %d problems, want 1:\n%v", name, len(e.Problems), err)
		}
	}
}

func TestAllProblemsReported(t *testing.T) {
	_, err := Load("testdata/bad/many-problems.yaml")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want *Error", err)
	}
	want := []Problem{
		{Line: 1, Field: "name"},
		{Line: 2, Field: "tier"},
		{Line: 4, Field: "params[0].max"},
		{Line: 5, Field: "objective.goal"},
		{Line: 7, Field: "constraints[0]"},
		{Line: 9, Field: "actuator"},
		{Line: 11, Field: "canary.stages[1]"},
		{Line: 11, Field: "canary.check_every"},
		{Line: 12, Field: "risk.approval_from"},
		{Line: 13, Field: "triggers.schedule"},
	}
	if len(e.Problems) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(e.Problems), len(want), err)
	}
	for i, p := range e.Problems {
		if p.Line != want[i].Line || p.Field != want[i].Field || p.Msg == "" {
			t.Errorf("problem %d = %+v, want line %d field %s", i, p, want[i].Line, want[i].Field)
		}
	}
}

func TestDefaults(t *testing.T) {
	s, err := Load("testdata/good/minimal-simulator.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sim := &Simulator{Model: "web", Noise: 0.05, Scrape: Duration(time.Second)}
	checks := []struct {
		name      string
		got, want any
	}{
		{"tier", s.Tier, models.TierStandard},
		{"canary.stages", s.Canary.Stages, []float64{5, 25, 100}},
		{"canary.verify_for", s.VerifyFor(), 30 * time.Minute},
		{"canary.check_every", s.CheckEvery(), time.Minute},
		{"canary.tolerance", s.Canary.Tolerance, 0.0},
		{"risk.approval_from", s.Risk.ApprovalFrom, models.BandHigh},
		{"risk.approval_timeout", s.Risk.ApprovalTimeout, Duration(24 * time.Hour)},
		{"risk.max_step", s.Risk.MaxStep, 0.25},
		{"risk.delta", s.Risk.Delta, 0.05},
		{"telemetry.simulator", s.Telemetry.Simulator, sim},
		{"actuator.simulator", s.Actuator.Simulator, sim},
		{"error_budget", s.ErrorBudget, (*ErrorBudget)(nil)},
		{"triggers.cooldown", s.Triggers.Cooldown, Duration(time.Hour)},
		{"triggers.timezone", s.Triggers.Timezone, ""},
		{"triggers.freeze", s.Triggers.Freeze, (*Freeze)(nil)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	s = Spec{ErrorBudget: &ErrorBudget{SLO: 0.99, Window: Duration(time.Hour)}}
	Validate(&s)
	if s.ErrorBudget.MaxBurnRate != 1 {
		t.Errorf("error_budget.max_burn_rate = %v, want 1", s.ErrorBudget.MaxBurnRate)
	}

	// A freeze block takes its policies' defaults, and its recurring
	// windows take the triggers' time zone; a fixed window takes none.
	from := time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC)
	s = Spec{Triggers: Triggers{Timezone: "Europe/Berlin", Freeze: &Freeze{Windows: []FreezeWindow{
		{Cron: "0 18 * * 5", Duration: Duration(62 * time.Hour)},
		{Cron: "0 9 * * 1", Duration: Duration(time.Hour), Timezone: "America/New_York"},
		{From: from, To: from.AddDate(0, 0, 15)},
	}}}}
	Validate(&s)
	f := s.Triggers.Freeze
	if f.OnRequest != FreezeWait || f.OnCanary != FreezeHold {
		t.Errorf("freeze policies = %q, %q, want wait, hold", f.OnRequest, f.OnCanary)
	}
	for i, want := range []string{"Europe/Berlin", "America/New_York", ""} {
		if got := f.Windows[i].Timezone; got != want {
			t.Errorf("freeze.windows[%d].timezone = %q, want %q", i, got, want)
		}
	}
}

func TestDemo(t *testing.T) {
	s, err := Load("../examples/targets/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "demo-checkout" || len(s.Params) != 3 || s.Objective.Metric != "cost_per_request" {
		t.Errorf("unexpected demo target: %+v", s)
	}
	// "simulator: {}" decodes to a block, which takes telemetry's settings.
	want := Simulator{Model: "web", Seed: 7, Noise: 0.05, Scrape: Duration(100 * time.Millisecond)}
	if s.Actuator.Simulator == nil || *s.Actuator.Simulator != want || *s.Telemetry.Simulator != want {
		t.Errorf("simulators = %+v and %+v, want %+v", s.Telemetry.Simulator, s.Actuator.Simulator, want)
	}
	if s.VerifyFor() != 4*time.Second || s.CheckEvery() != time.Second {
		t.Errorf("canary waits = %v, %v", s.VerifyFor(), s.CheckEvery())
	}
}

func TestValidateSpec(t *testing.T) {
	valid := func() Spec {
		max := 250.0
		return Spec{
			Name:        "demo",
			Params:      models.Space{{Name: "x", Type: models.Float, Min: 0, Max: 1}},
			Objective:   Objective{Metric: "cost_per_request", Goal: models.Minimize},
			Constraints: []models.Constraint{{Metric: "latency_p95_ms", Max: &max}},
			Telemetry:   Telemetry{Simulator: &Simulator{}},
			Actuator:    Actuator{Simulator: &Simulator{}},
		}
	}
	nan, lo := math.NaN(), 5.0
	tests := []struct {
		name   string
		change func(*Spec)
		want   string // "" for valid
	}{
		{"valid", func(*Spec) {}, ""},
		{"explicit empty stages", func(s *Spec) { s.Canary.Stages = []float64{} }, "canary.stages: expected at least one stage"},
		{"stage over 100", func(s *Spec) { s.Canary.Stages = []float64{50, 150} }, "canary.stages[1]: expected a percentage of traffic in (0, 100], got 150"},
		{"NaN bound", func(s *Spec) { s.Constraints[0].Max = &nan }, "constraints[0].max: expected a finite number, got NaN"},
		{"min above max", func(s *Spec) { s.Constraints[0].Min = &lo; *s.Constraints[0].Max = 1 }, "constraints[0].max: expected max > min, got min 5 and max 1"},
		{"long name", func(s *Spec) { s.Name = strings.Repeat("a", 64) }, "name: expected lowercase letters"},
		{"name with dash at the end", func(s *Spec) { s.Name = "demo-" }, "name: expected lowercase letters"},
		{"tolerance", func(s *Spec) { s.Canary.Tolerance = 2 }, "canary.tolerance: expected tolerance in [0, 1], got 2"},
		{"no telemetry", func(s *Spec) { s.Telemetry.Simulator = nil }, "telemetry: expected exactly one of prometheus or simulator, got neither"},
		{"empty query", func(s *Spec) {
			s.Telemetry = Telemetry{Prometheus: &Prometheus{URL: "https://p"}, Queries: map[string]string{"cost_per_request": "up", "latency_p95_ms": " "}}
			s.Actuator = Actuator{File: &File{Path: "/tmp/x"}}
		}, "telemetry.queries.latency_p95_ms: expected a PromQL query"},
		{"empty program", func(s *Spec) {
			s.Telemetry = Telemetry{Prometheus: &Prometheus{URL: "https://p"}, Queries: map[string]string{"cost_per_request": "up", "latency_p95_ms": "up"}}
			s.Actuator = Actuator{Command: &Command{Argv: []string{""}}}
		}, "actuator.command.argv[0]: expected a program"},
		{"budget window", func(s *Spec) { s.ErrorBudget = &ErrorBudget{SLO: 0.9} }, "error_budget.window: expected a window > 0"},
		{"duplicate approver", func(s *Spec) { s.Risk.Approvers = []string{"a", "a"} }, `risk.approvers[1]: duplicate approver "a"`},
		{"quorum above the approvers", func(s *Spec) { s.Risk.Approvers, s.Risk.Quorum = []string{"a", "b"}, 3 }, "risk.quorum: expected at most the 2 approvers listed, got 3"},
		{"negative quorum", func(s *Spec) { s.Risk.Quorum = -1 }, "risk.quorum: expected at least 1 approval, got -1"},
		{"notify without a URL", func(s *Spec) { s.Notify = []Notify{{Format: NotifyJSON, Events: NotifyEvents}} }, "notify[0].url: expected an absolute http(s) URL"},
		{"notify format", func(s *Spec) { s.Notify = []Notify{{URL: "https://x.example/h", Format: "xml", Events: NotifyEvents}} }, `notify[0].format: expected json or slack, got "xml"`},
		{"notify event", func(s *Spec) {
			s.Notify = []Notify{{URL: "https://x.example/h", Format: NotifyJSON, Events: []string{"deployed"}}}
		}, `notify[0].events[0]: expected one of approval_requested, approval_decided, rolled_back, promoted, got "deployed"`},
		{"notify secret", func(s *Spec) {
			s.Notify = []Notify{{URL: "https://x.example/h", Format: NotifyJSON, Events: NotifyEvents, SecretEnv: "my-secret"}}
		}, `notify[0].secret_env: expected an environment variable name`},
		{"approver name too long", func(s *Spec) { s.Risk.Approvers = []string{strings.Repeat("a", 300)} }, "risk.approvers[0]: expected a name of at most 256 bytes, got 300"},
		{"negative jitter", func(s *Spec) { s.Triggers.Jitter = Duration(-time.Minute) }, "triggers.jitter: expected a duration >= 0, got -1m"},
		{"negative cooldown", func(s *Spec) { s.Triggers.Cooldown = Duration(-90 * time.Second) }, "triggers.cooldown: expected a duration >= 0, got -90s"},
		{"local time zone", func(s *Spec) { s.Triggers.Timezone = "Local" }, `triggers.timezone: expected an IANA time zone such as UTC or Europe/Berlin, got "Local"`},
		{"freeze", func(s *Spec) {
			s.Triggers = Triggers{Schedule: "@every 6h", Timezone: "UTC", Freeze: &Freeze{OnCanary: FreezeRollback, Windows: []FreezeWindow{
				{Cron: "0 0 * * 7", Duration: MaxFreezeDuration, Timezone: "Asia/Tokyo"},
				{From: time.Date(2026, 12, 20, 0, 0, 0, 0, time.FixedZone("", 3600)), To: time.Date(2026, 12, 20, 0, 0, 1, 0, time.UTC)},
			}}}
		}, ""},
		{"freeze window zero duration", func(s *Spec) {
			s.Triggers.Freeze = &Freeze{Windows: []FreezeWindow{{Cron: "0 0 * * *", Duration: Duration(-time.Hour)}}}
		}, "triggers.freeze.windows[0].duration: expected a duration > 0"},
		{"freeze window from equals to", func(s *Spec) {
			at := time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC)
			s.Triggers.Freeze = &Freeze{Windows: []FreezeWindow{{From: at, To: at}}}
		}, "triggers.freeze.windows[0].to: expected a time after from (2026-12-20T00:00:00Z), got 2026-12-20T00:00:00Z"},
		{"freeze window macro", func(s *Spec) {
			s.Triggers.Freeze = &Freeze{Windows: []FreezeWindow{{Cron: "@weekly", Duration: Duration(time.Hour)}}}
		}, `triggers.freeze.windows[0].cron: expected a 5-field cron expression such as "0 18 * * 5" (minute, hour, day of month, month, day of week), got "@weekly"`},
		{"freeze window without cron", func(s *Spec) {
			s.Triggers.Freeze = &Freeze{Windows: []FreezeWindow{{Duration: Duration(time.Hour)}}}
		}, `triggers.freeze.windows[0].cron: expected a 5-field cron expression`},
	}
	// The prometheus block: each case sets its fields on a valid block.
	prom := func(change func(p *Prometheus)) func(*Spec) {
		return func(s *Spec) {
			p := &Prometheus{URL: "https://prometheus.example.com"}
			change(p)
			s.Telemetry = Telemetry{Prometheus: p, Queries: map[string]string{"cost_per_request": "up", "latency_p95_ms": "up"}}
			s.Actuator = Actuator{File: &File{Path: "/tmp/x"}}
		}
	}
	http := func(c config.HTTPClientConfig) func(*Spec) {
		return prom(func(p *Prometheus) { p.HTTPConfig = &c })
	}
	proxy := func(raw string) config.ProxyConfig {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return config.ProxyConfig{ProxyURL: config.URL{URL: u}}
	}
	const hc, inline = "telemetry.prometheus.http_config", "instead of an inline secret: the target travels through Temporal's history, which must hold no secret"
	tests = append(tests, []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"prometheus", prom(func(*Prometheus) {}), ""},
		{"prometheus with secrets in files", http(config.HTTPClientConfig{
			BasicAuth: &config.BasicAuth{Username: "passflow", PasswordFile: "/etc/passflow/prometheus-password"},
			TLSConfig: config.TLSConfig{CA: "-----BEGIN CERTIFICATE-----", CertFile: "/c.pem", KeyFile: "/k.pem"},
			HTTPHeaders: &config.Headers{Headers: map[string]config.Header{
				"X-Scope-OrgID": {Values: []string{"team-a"}}, "X-Api-Key": {Files: []string{"/etc/passflow/api-key"}}}},
			ProxyConfig: proxy("http://user@proxy:3128"),
		}), ""},
		{"prometheus URL with a password", prom(func(p *Prometheus) { p.URL = "https://u:hunter2@prometheus.example.com" }),
			"telemetry.prometheus.url: expected no password in the URL: the target travels through Temporal's history, which must hold no secret; set http_config.basic_auth with username and password_file instead"},
		{"negative scrape interval", prom(func(p *Prometheus) { p.ScrapeInterval = Duration(-time.Second) }),
			"telemetry.prometheus.scrape_interval: expected a duration > 0 such as 15s, got -1s"},
		{"negative timeout", prom(func(p *Prometheus) { p.Timeout = Duration(-time.Minute) }),
			"telemetry.prometheus.timeout: expected a duration > 0 such as 10s, got -1m"},
		{"inline password", http(config.HTTPClientConfig{BasicAuth: &config.BasicAuth{Username: "u", Password: "hunter2"}}),
			hc + ".basic_auth.password: expected password_file " + inline + ` (an inline one would reach the worker as "<secret>")`},
		{"password ref", http(config.HTTPClientConfig{BasicAuth: &config.BasicAuth{Username: "u", PasswordRef: "prom"}}),
			hc + `.basic_auth.password_ref: expected password_file instead of a secret manager reference, which passflow cannot resolve, got "prom"`},
		{"inline credentials", http(config.HTTPClientConfig{Authorization: &config.Authorization{Credentials: "t0ken"}}),
			hc + ".authorization.credentials: expected credentials_file (or bearer_token_file, for a bearer_token) " + inline},
		{"inline bearer token", http(config.HTTPClientConfig{BearerToken: "t0ken"}),
			hc + ".bearer_token: expected bearer_token_file (or authorization.credentials_file) " + inline},
		{"inline client secret", http(config.HTTPClientConfig{OAuth2: &config.OAuth2{ClientID: "id", ClientSecret: "s", TokenURL: "https://sso/token"}}),
			hc + ".oauth2.client_secret: expected client_secret_file " + inline},
		{"inline TLS key", http(config.HTTPClientConfig{TLSConfig: config.TLSConfig{CertFile: "/c.pem", Key: "-----BEGIN PRIVATE KEY-----"}}),
			hc + ".tls_config.key: expected key_file " + inline},
		{"inline oauth2 TLS key", http(config.HTTPClientConfig{OAuth2: &config.OAuth2{ClientID: "id", ClientSecretFile: "/s", TokenURL: "https://sso/token",
			TLSConfig: config.TLSConfig{CertFile: "/c.pem", Key: "k"}}}),
			hc + ".oauth2.tls_config.key: expected key_file " + inline},
		{"secret header", http(config.HTTPClientConfig{HTTPHeaders: &config.Headers{Headers: map[string]config.Header{"X-Api-Key": {Secrets: []config.Secret{"k"}}}}}),
			hc + ".http_headers.X-Api-Key.secrets: expected files (or values, for what is no secret) " + inline},
		{"proxy connect header", http(config.HTTPClientConfig{ProxyConfig: func() config.ProxyConfig {
			p := proxy("http://proxy:3128")
			p.ProxyConnectHeader = config.ProxyHeader{"Proxy-Authorization": {"Basic abc"}}
			return p
		}()}), hc + ".proxy_connect_header.Proxy-Authorization: expected no proxy_connect_header: its values are secrets, the target travels through Temporal's history, which must hold no secret, and they have no _file variant"},
		{"proxy URL with a password", http(config.HTTPClientConfig{ProxyConfig: proxy("http://u:p@proxy:3128")}),
			hc + ".proxy_url: expected no password in the proxy URL"},
		{"http_config's own rules", http(config.HTTPClientConfig{
			BasicAuth:     &config.BasicAuth{Username: "u", PasswordFile: "/p"},
			Authorization: &config.Authorization{CredentialsFile: "/c"},
		}), hc + ": at most one of basic_auth, oauth2 & authorization must be configured"},
		{"TLS key without a certificate", http(config.HTTPClientConfig{TLSConfig: config.TLSConfig{KeyFile: "/k.pem"}}),
			hc + ".tls_config: exactly one of cert or cert_file must be configured when a client key is configured"},
		{"reserved header", http(config.HTTPClientConfig{HTTPHeaders: &config.Headers{Headers: map[string]config.Header{"authorization": {Files: []string{"/t"}}}}}),
			hc + `: setting header "Authorization" is not allowed`},
	}...)
	// The command and file actuators: each case is a valid real target
	// with that actuator block, defaults filled by Validate.
	actuator := func(a Actuator) func(*Spec) {
		return func(s *Spec) {
			s.Telemetry = Telemetry{Prometheus: &Prometheus{URL: "https://p"}, Queries: map[string]string{"cost_per_request": "up", "latency_p95_ms": "up"}}
			s.Actuator = a
		}
	}
	tests = append(tests, []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"command", actuator(Actuator{Command: &Command{Argv: []string{"/usr/local/bin/apply", "--service", "demo"}, Timeout: Duration(5 * time.Second)}}), ""},
		{"command in PATH", actuator(Actuator{Command: &Command{Argv: []string{"apply-config"}}}),
			`actuator.command.argv[0]: expected an absolute path such as /usr/local/bin/apply-config (passflow looks nothing up in PATH and runs no shell), got "apply-config"`},
		{"command through a shell", actuator(Actuator{Command: &Command{Argv: []string{"sh -c apply"}}}),
			`actuator.command.argv[0]: expected an absolute path`},
		{"command timeout", actuator(Actuator{Command: &Command{Argv: []string{"/bin/apply"}, Timeout: Duration(-time.Second)}}),
			"actuator.command.timeout: expected a duration > 0 such as 30s, got -1s"},
		{"file", actuator(Actuator{File: &File{Path: "/etc/demo/passflow.env", Format: "env", Argv: []string{"/usr/bin/systemctl", "reload", "demo"}, Timeout: Duration(45 * time.Second)}}), ""},
		{"file relative path", actuator(Actuator{File: &File{Path: "etc/demo.yaml"}}),
			`actuator.file.path: expected an absolute path such as /etc/checkout/passflow.yaml, got "etc/demo.yaml"`},
		{"file format", actuator(Actuator{File: &File{Path: "/etc/demo.xml", Format: "xml"}}),
			`actuator.file.format: expected yaml, json or env, got "xml"`},
		{"file format case", actuator(Actuator{File: &File{Path: "/etc/demo.yaml", Format: "YAML"}}),
			`actuator.file.format: expected yaml, json or env, got "YAML"`},
		{"file empty argv", actuator(Actuator{File: &File{Path: "/etc/demo.yaml", Argv: []string{}}}),
			"actuator.file.argv: expected a program and its arguments, e.g. [/usr/bin/systemctl, reload, checkout], or the field left out"},
		{"file argv in PATH", actuator(Actuator{File: &File{Path: "/etc/demo.yaml", Argv: []string{"systemctl", "reload", "demo"}}}),
			`actuator.file.argv[0]: expected an absolute path such as /usr/local/bin/apply-config (passflow looks nothing up in PATH and runs no shell), got "systemctl"`},
		{"file argv empty program", actuator(Actuator{File: &File{Path: "/etc/demo.yaml", Argv: []string{" "}}}),
			"actuator.file.argv[0]: expected a program"},
		{"file timeout", actuator(Actuator{File: &File{Path: "/etc/demo.yaml", Timeout: Duration(-2 * time.Minute)}}),
			"actuator.file.timeout: expected a duration > 0 such as 30s, got -2m"},
		{"command timeout too long", actuator(Actuator{Command: &Command{Argv: []string{"/usr/local/bin/apply"}, Timeout: Duration(2 * time.Minute)}}),
			"actuator.command.timeout: expected at most 50s (each call runs within an activity attempt of a minute), got 2m"},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid()
			tt.change(&s)
			probs := Validate(&s)
			if tt.want == "" {
				if probs != nil {
					t.Fatalf("Validate = %v, want no problems", probs)
				}
				return
			}
			got := (&Error{Problems: probs}).Error()
			if !strings.Contains(got, tt.want) {
				t.Errorf("Validate = %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

func TestActuatorDefaults(t *testing.T) {
	s := Spec{Actuator: Actuator{Command: &Command{Argv: []string{"/bin/apply"}}, File: &File{Path: "/etc/x.yaml"}}}
	Validate(&s)
	if c := s.Actuator.Command; c.Timeout != Duration(30*time.Second) {
		t.Errorf("command.timeout = %v, want 30s", c.Timeout)
	}
	if f := s.Actuator.File; f.Format != "yaml" || f.Timeout != Duration(30*time.Second) || f.Argv != nil {
		t.Errorf("file = %+v, want format yaml, timeout 30s and no argv", f)
	}
	s = Spec{Actuator: Actuator{File: &File{Path: "/etc/x.env", Format: "env", Timeout: Duration(time.Second)}}}
	Validate(&s)
	if f := s.Actuator.File; f.Format != "env" || f.Timeout != Duration(time.Second) {
		t.Errorf("file = %+v, want its own format and timeout kept", f)
	}
}

func TestPrometheusDefaults(t *testing.T) {
	s := Spec{Telemetry: Telemetry{Prometheus: &Prometheus{URL: "http://p:9090"}}}
	Validate(&s)
	p := s.Telemetry.Prometheus
	if p.ScrapeInterval != Duration(15*time.Second) || p.Timeout != Duration(10*time.Second) {
		t.Errorf("scrape_interval, timeout = %v, %v, want 15s, 10s", p.ScrapeInterval, p.Timeout)
	}
	if p.HTTPConfig != nil {
		t.Errorf("http_config = %+v, want nil", p.HTTPConfig)
	}
}

// prometheusTarget is a valid target file reading Prometheus; httpConfig is
// the body of its http_config, indented under it.
func prometheusTarget(httpConfig string) string {
	return `name: indexer
params:
  - {name: batch_size, type: int, min: 16, max: 4096}
objective: {metric: throughput, goal: maximize}
telemetry:
  prometheus:
    url: https://prometheus.example.com
    http_config:
` + httpConfig + `  queries:
    throughput: sum(rate(indexed_docs_total{cohort="{{.Cohort}}"}[{{.Window}}]))
actuator:
  file: {path: /etc/indexer/config.json}
`
}

func TestParsePrometheusHTTPConfig(t *testing.T) {
	tests := []struct {
		name, httpConfig, want string // want "" for valid
	}{
		{"secrets in files", `      basic_auth: {username: passflow, password_file: /etc/passflow/prometheus-password}
      tls_config: {ca_file: /etc/ssl/ca.pem, min_version: TLS12}
      http_headers:
        X-Scope-OrgID: {values: [team-a]}
`, ""},
		{"bearer token file", "      bearer_token_file: /etc/passflow/token\n", ""},
		{"inline password", "      basic_auth:\n        username: passflow\n        password: hunter2\n",
			"x.yaml:11: telemetry.prometheus.http_config.basic_auth.password: expected password_file instead of an inline secret"},
		// http_config's own UnmarshalYAML moves bearer_token into authorization.
		{"inline bearer token", "      bearer_token: t0ken\n",
			"x.yaml:8: telemetry.prometheus.http_config.authorization.credentials: expected credentials_file (or bearer_token_file, for a bearer_token) instead of an inline secret"},
		{"inline TLS key", "      tls_config: {cert_file: /c.pem, key: k}\n",
			"x.yaml:9: telemetry.prometheus.http_config.tls_config.key: expected key_file instead of an inline secret"},
		{"both password and password_file", "      basic_auth: {username: u, password: p, password_file: /p}\n",
			"x.yaml:9: telemetry.prometheus.http_config: at most one of basic_auth password, password_file & password_ref must be configured"},
		{"unknown field", "      basic_auth: {username: u, pasword_file: /p}\n",
			`x.yaml:9: telemetry.prometheus.http_config.basic_auth: unknown field "pasword_file"; expected one of username, username_file`},
		{"wrong kind inside", "      tls_config: {insecure_skip_verify: maybe}\n",
			`x.yaml:9: telemetry.prometheus.http_config.tls_config.insecure_skip_verify: expected true or false, got "maybe"`},
		{"unknown TLS version", "      tls_config: {min_version: TLS99}\n",
			`x.yaml:9: telemetry.prometheus.http_config.tls_config.min_version: unknown TLS version: TLS99`},
		{"header through the inline map", "      http_headers:\n        X-Scope-OrgID: {value: [team-a]}\n",
			`x.yaml:10: telemetry.prometheus.http_config.http_headers.X-Scope-OrgID: unknown field "value"; expected one of values, secrets, files`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("x.yaml", []byte(prometheusTarget(tt.httpConfig)))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Parse = %v, want %q", err, tt.want)
			case tt.want != "":
				return
			}
			// A parsed spec survives its trip through Temporal's history.
			if got := jsonRoundTrip(t, s); !reflect.DeepEqual(got, s) {
				t.Errorf("after a JSON round trip:\n got %+v\nwant %+v", got.Telemetry.Prometheus.HTTPConfig, s.Telemetry.Prometheus.HTTPConfig)
			}
		})
	}
}

// jsonRoundTrip returns s after json.Marshal and json.Unmarshal, as it is
// after Temporal's history.
func jsonRoundTrip(t *testing.T, s Spec) Spec {
	t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var got Spec
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("json.Unmarshal: %v\n%s", err, data)
	}
	return got
}

func TestPrometheusJSONRoundTrip(t *testing.T) {
	proxyURL, err := url.Parse("http://proxy.example.com:3128")
	if err != nil {
		t.Fatal(err)
	}
	configs := map[string]*config.HTTPClientConfig{
		"none": nil,
		"basic auth, TLS, headers and proxy": {
			BasicAuth: &config.BasicAuth{Username: "passflow", PasswordFile: "/etc/passflow/prometheus-password"},
			TLSConfig: config.TLSConfig{CAFile: "/ca.pem", CertFile: "/c.pem", KeyFile: "/k.pem", ServerName: "prom",
				MinVersion: config.TLSVersion(0x0303)},
			FollowRedirects: true, EnableHTTP2: true,
			ProxyConfig: config.ProxyConfig{ProxyURL: config.URL{URL: proxyURL}, NoProxy: "localhost"},
			HTTPHeaders: &config.Headers{Headers: map[string]config.Header{
				"X-Scope-OrgID": {Values: []string{"team-a"}},
				"X-Api-Key":     {Files: []string{"/etc/passflow/api-key"}},
			}},
		},
		"authorization": {Authorization: &config.Authorization{Type: "Bearer", CredentialsFile: "/etc/passflow/token"}},
		"oauth2": {OAuth2: &config.OAuth2{ClientID: "passflow", ClientSecretFile: "/etc/passflow/client-secret",
			TokenURL: "https://sso.example.com/token", Scopes: []string{"read"}, EndpointParams: map[string]string{"audience": "prometheus"},
			TLSConfig: config.TLSConfig{CAFile: "/sso-ca.pem"}}},
	}
	for name, c := range configs {
		t.Run(name, func(t *testing.T) {
			s := Spec{
				Name:      "indexer",
				Params:    models.Space{{Name: "x", Type: models.Float, Min: 0, Max: 1}},
				Objective: Objective{Metric: "throughput", Goal: models.Maximize},
				Telemetry: Telemetry{
					Prometheus: &Prometheus{URL: "https://prometheus.example.com", HTTPConfig: c, ScrapeInterval: Duration(30 * time.Second)},
					Queries:    map[string]string{"throughput": "sum(rate(docs_total[{{.Window}}]))"},
				},
				Actuator: Actuator{File: &File{Path: "/tmp/x"}},
			}
			if probs := Validate(&s); probs != nil {
				t.Fatalf("Validate: %v", probs)
			}
			got := jsonRoundTrip(t, s)
			if !reflect.DeepEqual(got.Telemetry.Prometheus, s.Telemetry.Prometheus) {
				t.Errorf("after a JSON round trip:\n got %+v\nwant %+v", got.Telemetry.Prometheus, s.Telemetry.Prometheus)
			}
			if c != nil && !reflect.DeepEqual(got.Telemetry.Prometheus.HTTPConfig, c) {
				t.Errorf("http_config after a JSON round trip:\n got %+v\nwant %+v", got.Telemetry.Prometheus.HTTPConfig, c)
			}
		})
	}
}

func TestCheckSchedule(t *testing.T) {
	for _, ok := range []string{"0 2 * * *", "*/15 * * * *", "0 0-6/2 1,15 * 1-5", "0 0 * * 7", "@daily", "@hourly", "@every 6h", "@every 90m"} {
		if msg := checkSchedule(ok); msg != "" {
			t.Errorf("checkSchedule(%q) = %q, want ok", ok, msg)
		}
	}
	for _, bad := range []string{"0 2 * *", "0 2 * * * *", "60 * * * *", "0 0 0 * *", "0 0 * 13 *", "* * * * MON", "*/0 * * * *", "5-1 * * * *", "@every", "@every 0s", "@every soon", "@nightly", "@daily 3"} {
		if msg := checkSchedule(bad); msg == "" {
			t.Errorf("checkSchedule(%q) = ok, want a problem", bad)
		}
	}
}

func TestRenderQuery(t *testing.T) {
	got, err := RenderQuery("m", `rate(x{cohort="{{.Cohort}}"}[{{.Window}}])`, QueryVars{Cohort: "canary", Window: "5m"})
	if err != nil || got != `rate(x{cohort="canary"}[5m])` {
		t.Errorf("RenderQuery = %q, %v", got, err)
	}
	if _, err := RenderQuery("m", `{{.Target}}`, QueryVars{}); err == nil {
		t.Error("RenderQuery with .Target: want an error")
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{File: "checkout.yaml", Problems: []Problem{
		{Field: "params[1].max", Msg: "expected max > min, got min 10 and max 5", Line: 7},
		{Field: "name", Msg: "expected a name"},
		{Msg: `unknown field "colour"`, Line: 4},
	}}
	want := "checkout.yaml:7: params[1].max: expected max > min, got min 10 and max 5\n" +
		"checkout.yaml: name: expected a name\n" +
		`checkout.yaml:4: unknown field "colour"`
	if got := e.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}

func TestParseEdgeCases(t *testing.T) {
	good, err := os.ReadFile("testdata/good/minimal-simulator.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, data, want string // want "" for valid
	}{
		{"leading and trailing document markers", "---\n" + string(good) + "---\n", ""},
		{"document marker only", "---\n", "x.yaml: empty document"},
		{"unknown field through a merge key", string(good) + "canary:\n  <<: {colour: red}\n", `x.yaml:9: canary: unknown field "colour"`},
		{"params not a list", strings.Replace(string(good), "params:\n", "params: {}\nx:\n", 1), "x.yaml:3: params: expected a list, got a mapping"},
		{"tab indentation", "name: a\n\tparams: []\n", "x.yaml:2: invalid YAML"},
		{"bad indentation", "name: a\nparams:\n  - {name: x}\n type: int\n", "x.yaml:4: invalid YAML: did not find expected key"},
		{"unclosed list", "name: a\ncanary: {stages: [5, 100}\n", "x.yaml:2: invalid YAML"},
		{"quoted freeze times with offsets", string(good) + "triggers:\n  freeze:\n    windows:\n      - {from: \"2026-12-20T00:00:00+01:00\", to: 2027-01-04T00:00:00.5-05:00}\n", ""},
		{"freeze time as a mapping", string(good) + "triggers:\n  freeze:\n    windows:\n      - from: {day: 20}\n        to: 2027-01-04T00:00:00Z\n", "x.yaml:11: triggers.freeze.windows[0].from: expected an RFC 3339 time such as 2026-12-20T00:00:00Z, got a mapping"},
		{"freeze time without an offset", string(good) + "triggers:\n  freeze:\n    windows:\n      - {from: 2026-12-20 00:00:00, to: 2027-01-04T00:00:00Z}\n", `x.yaml:11: triggers.freeze.windows[0].from: expected an RFC 3339 time such as 2026-12-20T00:00:00Z, got "2026-12-20 00:00:00"`},
		{"negative jitter", string(good) + "triggers: {jitter: -5m}\n", `x.yaml:8: triggers.jitter: expected a duration such as 30s, 5m, 24h or 30d, got "-5m"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tt.data))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Parse: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Parse = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestValidateFiles(t *testing.T) {
	var stdout, stderr bytes.Buffer
	good, bad := "testdata/good/minimal-simulator.yaml", "testdata/bad/min-ge-max.yaml"
	if code := ValidateFiles([]string{good, "../examples/targets/demo.yaml"}, &stdout, &stderr); code != 0 {
		t.Errorf("ValidateFiles(good) = %d, want 0; stderr:\n%s", code, &stderr)
	}
	if want := good + ": ok\n../examples/targets/demo.yaml: ok\n"; stdout.String() != want {
		t.Errorf("stdout = %q, want %q", &stdout, want)
	}

	stdout.Reset()
	stderr.Reset()
	code := ValidateFiles([]string{good, bad, "testdata/missing.yaml", good}, &stdout, &stderr)
	if code != 2 {
		t.Errorf("ValidateFiles(bad) = %d, want 2", code)
	}
	if stdout.String() != good+": ok\n" {
		t.Errorf("stdout = %q", &stdout)
	}
	for _, want := range []string{
		bad + ":3: params[0].max: expected max > min",
		"testdata/missing.yaml: no such file or directory",
		good + `: name: target "minimal" is already defined in ` + good,
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not contain %q:\n%s", want, &stderr)
		}
	}

	if code := ValidateFiles(nil, &stdout, &stderr); code != 2 {
		t.Errorf("ValidateFiles(nil) = %d, want 2", code)
	}
}

// TestValidateSharedCases runs the shared cases of the constraint and
// trust-region validators (package models/validatetest) through a target.
func TestValidateSharedCases(t *testing.T) {
	spec := func() Spec {
		return Spec{
			Name:      "demo",
			Params:    models.Space{{Name: "x", Type: models.Float, Min: 0, Max: 1}},
			Objective: Objective{Metric: "cost_per_request", Goal: models.Minimize},
			Telemetry: Telemetry{Simulator: &Simulator{}},
			Actuator:  Actuator{Simulator: &Simulator{}},
		}
	}
	has := func(probs []Problem, field, want string) bool {
		return slices.ContainsFunc(probs, func(p Problem) bool { return p.Field == field && strings.Contains(p.Msg, want) })
	}
	for _, tt := range validatetest.Constraints {
		t.Run(tt.Name, func(t *testing.T) {
			s := spec()
			s.Constraints = tt.Constraints
			if probs := Validate(&s); !has(probs, tt.Field, tt.Want) {
				t.Errorf("got %v, want a problem at %s mentioning %q", probs, tt.Field, tt.Want)
			}
		})
	}
	for _, tt := range validatetest.Regions {
		t.Run(tt.Name, func(t *testing.T) {
			s := spec()
			s.Risk.MaxStep, s.Risk.Delta = tt.MaxStep, tt.Delta
			if probs := Validate(&s); !has(probs, "risk."+tt.Field, tt.Want) {
				t.Errorf("got %v, want a problem at risk.%s mentioning %q", probs, tt.Field, tt.Want)
			}
		})
	}
}
