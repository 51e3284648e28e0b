package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/actuators"
	"github.com/passflow/passflow/app"
	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/webhook"
)

// BenchmarkRealService measures the real-service paths against a real
// Prometheus scraping the real demo service: one judge look (the Check
// activity: every metric of both cohorts from Prometheus, then the
// sequential check), and one actuator apply of each kind (webhook to the
// demo service, a command, a file). Each reports min, p50, p99 and max over
// its b.N iterations (200 in make bench-real), each iteration one run.
func BenchmarkRealService(b *testing.B) {
	bin := demoServiceBinary(b)
	b.Setenv("E2E_DEMO_SECRET", "bench-s3cret")
	_, addr := startDemoService(b, "demo-service", bin, "bench-s3cret", 100)
	_, prom := startPrometheus(b, addr)
	awaitScrapes(b, prom, 30)

	spec, err := target.Parse("bench", []byte(promTarget("bench-real", prom, "http://"+addr)))
	if err != nil {
		b.Fatal(err)
	}
	acts := &activities.Activities{Connector: app.NewRealServices()}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(acts.Check)

	b.Run("judge-look", func(b *testing.B) {
		from := time.Now().Add(-20 * time.Second)
		in := contract.WindowInput{Target: spec, Stage: 1, Percent: 50, From: from, To: time.Now()}
		lat := measure(b, func() error {
			in.To = time.Now()
			_, err := env.ExecuteActivity(acts.Check, in)
			return err
		})
		report(b, lat)
	})

	cand := models.Config{"worker_threads": models.Num(24)}
	apply := func(b *testing.B, act activities.Actuator) {
		n := 0
		lat := measure(b, func() error {
			n++
			_, err := act.Change(context.Background(), activities.Change{Key: fmt.Sprintf("bench/%d/apply", n), PassID: "bench",
				Stage: 1, Action: webhook.ActionApply, Percent: float64(1 + n%50), Config: cand})
			return err
		})
		report(b, lat)
	}
	b.Run("apply-webhook", func(b *testing.B) {
		act, err := actuators.NewWebhook(spec)
		if err != nil {
			b.Fatal(err)
		}
		apply(b, act)
	})
	dir := b.TempDir()
	b.Run("apply-command", func(b *testing.B) {
		prog := filepath.Join(dir, "apply-config")
		if err := os.WriteFile(prog, []byte("#!/bin/sh\ncat >/dev/null\necho '{\"replaced\": null}'\n"), 0o755); err != nil {
			b.Fatal(err)
		}
		s := spec
		s.Actuator = target.Actuator{Command: &target.Command{Argv: []string{prog}, Timeout: target.Duration(10 * time.Second)}}
		act, err := actuators.NewCommand(s)
		if err != nil {
			b.Fatal(err)
		}
		apply(b, act)
	})
	b.Run("apply-file", func(b *testing.B) {
		s := spec
		s.Actuator = target.Actuator{File: &target.File{Path: filepath.Join(dir, "passflow.yaml"), Format: "yaml", Timeout: target.Duration(10 * time.Second)}}
		act, err := actuators.NewFile(s)
		if err != nil {
			b.Fatal(err)
		}
		apply(b, act)
	})
}

// measure times f b.N times.
func measure(b *testing.B, f func() error) []time.Duration {
	b.Helper()
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		began := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(began))
	}
	return lat
}

// report reports the min, p50, p99 and max of lat in milliseconds.
func report(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	q := func(p float64) float64 {
		return ms(lat[min(len(lat)-1, int(p*float64(len(lat))))])
	}
	b.ReportMetric(ms(lat[0]), "min-ms")
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	b.ReportMetric(0, "ns/op")
}
