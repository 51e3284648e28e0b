package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/passflow/passflow/api"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/operator"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workflows"
)

// The alert storm: stormRequests webhooks over the bench window to
// stormTargets targets, from stormSenders senders.
const (
	stormTargets  = 10
	stormRequests = 1000
	stormSenders  = 10
)

// BenchmarkAlertStorm posts 1,000 Alertmanager webhooks, evenly paced over
// the bench window (PASSFLOW_BENCH_WINDOW, default 1m) from 10 senders, to
// the HTTP API of one `passflow dev`, each with one firing alert about one
// of 10 targets picked at random: half routed by the passflow_target label,
// half by an alertname that only that target lists (cooldown 1h). Every
// alert is new (its own fingerprint); the targets' canary stages wait 10
// minutes, so a pass outlasts the storm unless an alert rolls it back.
//
//   - fresh: each alert started 1–60 s before it was sent, as in an
//     incident. The first alert of a target requests its pass; an alert that
//     started after the pass's canary was applied is delivered to it and
//     rolls the canary back; the rest fall in the cooldown.
//   - firing-before: each alert started 1–60 s before the storm began, so
//     none may abort the passes: they run through the storm, and every alert
//     after a target's first falls in the cooldown.
//
// Each reports the API's latency, how the alerts were answered and the
// passes the storm started, and fails unless every webhook was answered 200
// with every alert routed, no target ever had more than one pass running or
// queued, none numbered more than two passes (one running, one queued), and
// every pass that ended did so with a decision (Outcome.Decided).
func BenchmarkAlertStorm(b *testing.B) {
	window := benchWindow(b, time.Minute)
	httpAddr := freeAddr(b)
	p := startDevProcess(b, b.TempDir(), "--http", httpAddr)
	defer p.stop()
	for _, v := range []struct {
		name  string
		fresh bool
	}{{"fresh", true}, {"firing-before", false}} {
		b.Run(v.name, func(b *testing.B) { alertStorm(b, p.client, p.auth, "http://"+httpAddr, v.name, v.fresh, window) })
	}
}

// alertStorm runs one storm on new targets storm-<variant>-<i>.
func alertStorm(b *testing.B, c client.Client, auth basicAuth, baseURL, variant string, fresh bool, window time.Duration) {
	ctx := context.Background()
	names := make([]string, stormTargets)
	for i := range names {
		spec := stormSpec(b, variant, i)
		names[i] = spec.Name
		if _, err := operator.Apply(ctx, c, spec, "BenchmarkAlertStorm", "BenchmarkAlertStorm"); err != nil {
			b.Fatal(err)
		}
	}
	awaitStormRoutable(b, c, names)

	// Every webhook is planned before the storm, from a fixed seed.
	rng := rand.New(rand.NewPCG(20261127, 1))
	plan := make([]stormPost, stormRequests)
	for i := range plan {
		plan[i] = stormPost{variant: variant, target: rng.IntN(stormTargets), byLabel: i%2 == 0,
			age: time.Second + time.Duration(rng.Int64N(int64(59*time.Second))), fingerprint: rng.Uint64()}
	}

	mon := startStormMonitor(c, names)
	auth.base = &http.Transport{MaxIdleConnsPerHost: stormSenders}
	hc := &http.Client{Timeout: time.Minute, Transport: auth}
	results := make([]stormResult, stormRequests)
	interval := window / stormRequests
	began := time.Now()
	var wg sync.WaitGroup
	for s := range stormSenders {
		wg.Go(func() {
			for i := s; i < stormRequests; i += stormSenders {
				due := began.Add(time.Duration(i) * interval)
				time.Sleep(time.Until(due))
				startsAt := time.Now().Add(-plan[i].age)
				if !fresh {
					startsAt = began.Add(-plan[i].age)
				}
				results[i] = plan[i].send(hc, baseURL+"/v1/alerts", names, startsAt, due)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	maxRunning, maxQueued, monErrors := mon.stop()

	// How the storm was answered.
	var lat, latCoalesced, latOther []float64
	var errs, requested, coalesced, delivered, ignored int
	var lagMax time.Duration
	var notes []string
	for i, r := range results {
		lagMax = max(lagMax, r.lag)
		if r.err != nil {
			if errs++; errs <= 5 {
				notes = append(notes, fmt.Sprintf("webhook %d: %v", i, r.err))
			}
			continue
		}
		ms := float64(r.latency.Microseconds()) / 1000
		lat = append(lat, ms)
		if len(r.reply.Coalesced) > 0 {
			latCoalesced = append(latCoalesced, ms)
		} else {
			latOther = append(latOther, ms)
		}
		requested += len(r.reply.Requested)
		coalesced += len(r.reply.Coalesced)
		delivered += len(r.reply.Delivered)
		for _, ig := range r.reply.Ignored {
			if ignored++; ignored <= 5 {
				notes = append(notes, fmt.Sprintf("webhook %d: alert %s ignored: %s", i, ig.Alert, ig.Reason))
			}
		}
	}

	// What the targets did with it.
	started, maxPerTarget, maxEvents, endRunning := 0, 0, 0, 0
	outcomes := map[string]int{}
	undecided := 0 // passes that ended without a decision
	for _, name := range names {
		st, err := operator.TargetState(ctx, c, name)
		if err != nil {
			b.Fatal(err)
		}
		open, err := openPasses(ctx, c, name, st.Passes)
		if err != nil {
			b.Fatal(err)
		}
		maxRunning = max(maxRunning, open)
		if st.Queued != nil {
			maxQueued = max(maxQueued, 1)
		}
		started += st.Passes
		maxPerTarget = max(maxPerTarget, st.Passes)
		maxEvents = max(maxEvents, st.Events)
		endRunning += open
		for _, r := range st.Recent {
			outcomes[string(r.Outcome)]++
			if !r.Outcome.Decided() {
				undecided++
			}
		}
	}
	b.Logf("%d webhooks in %s (latest send %s after its slot): %d alerts requested a pass, %d coalesced, %d delivered to a running pass, %d ignored, %d errors; %d passes started, %d still running, ended: %v; longest tuner history %d events",
		len(results), elapsed.Round(time.Millisecond), lagMax.Round(time.Millisecond), requested, coalesced, delivered,
		ignored, errs, started, endRunning, outcomes, maxEvents)
	b.Logf("latency p50/p99/max: coalesced alerts %.1f/%.1f/%.1f ms (%d), the others (requested, delivered) %.1f/%.1f/%.1f ms (%d)",
		pct(latCoalesced, 0.5), pct(latCoalesced, 0.99), pct(latCoalesced, 1), len(latCoalesced),
		pct(latOther, 0.5), pct(latOther, 0.99), pct(latOther, 1), len(latOther))
	for _, n := range notes {
		b.Log(n)
	}
	if monErrors > 0 {
		b.Logf("%d state polls during the storm failed", monErrors)
	}

	b.ReportMetric(pct(lat, 0.5), "p50-ms")
	b.ReportMetric(pct(lat, 0.99), "p99-ms")
	b.ReportMetric(pct(lat, 1), "max-ms")
	b.ReportMetric(float64(started), "passes-started")
	b.ReportMetric(float64(maxPerTarget), "max-per-target")
	b.ReportMetric(float64(maxRunning), "max-running")
	b.ReportMetric(float64(maxQueued), "max-queued")
	b.ReportMetric(float64(delivered), "delivered")
	b.ReportMetric(float64(maxEvents), "max-tuner-events")
	b.ReportMetric(float64(errs), "errors")
	b.ReportMetric(float64(ignored), "ignored")

	// The gate (make bench).
	if errs > 0 {
		b.Errorf("%d of %d webhooks failed", errs, stormRequests)
	}
	if ignored > 0 {
		b.Errorf("%d alerts were ignored, want every alert routed to its target", ignored)
	}
	if undecided > 0 {
		b.Errorf("%d passes ended without a decision (failed or abandoned): %v", undecided, outcomes)
	}
	if maxRunning > 1 || maxQueued > 1 {
		b.Errorf("a target had %d passes running and %d queued at once, want at most 1 and 1", maxRunning, maxQueued)
	}
	if maxPerTarget > 2 {
		b.Errorf("a target numbered %d passes during the storm, want at most 2 (one running, one queued)", maxPerTarget)
	}
}

// BenchmarkAlertsDuringApproval posts 300 fresh alerts (20 a second, each
// started a second before it was sent) about a target whose pass waits for
// an approval, so no canary is applied: the storm's case in which an alert
// started after the pass did. None may reach the pass (one that started
// after its canary was applied would roll it back); each must be refused as
// coalesced, which writes nothing. It fails unless every webhook was
// answered 200, the tuner's history grew by fewer than one event per ten
// alerts, and the running pass holds at most one delivered alert. Before
// commit 6d36e9a each such alert was delivered and added 10 events to the
// tuner's history (BENCHMARKS.md).
func BenchmarkAlertsDuringApproval(b *testing.B) {
	const alerts, every = 300, 50 * time.Millisecond
	httpAddr := freeAddr(b)
	p := startDevProcess(b, b.TempDir(), "--http", httpAddr)
	defer p.stop()
	ctx := context.Background()
	spec := stormSpec(b, "approval", 0)
	spec.Risk.ApprovalFrom, spec.Risk.Approvers = models.BandLow, []string{"alice"}
	if _, err := operator.Apply(ctx, p.client, spec, "BenchmarkAlertsDuringApproval", "BenchmarkAlertsDuringApproval"); err != nil {
		b.Fatal(err)
	}
	names := []string{spec.Name}
	awaitStormRoutable(b, p.client, names)
	hc := &http.Client{Timeout: time.Minute, Transport: p.auth}
	url := "http://" + httpAddr + "/v1/alerts"
	first := stormPost{variant: "approval", age: time.Minute, fingerprint: 1}.send(hc, url, names, time.Now().Add(-time.Minute), time.Now())
	if first.err != nil || len(first.reply.Requested) != 1 {
		b.Fatalf("first alert: %+v %v, want it to request a pass", first.reply, first.err)
	}
	id := first.reply.Requested[0].PassID
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := operator.Status(ctx, p.client, id)
		if err == nil && st.Step == workflows.StepApproval {
			break
		}
		if err == nil && st.Step == workflows.StepDone || time.Now().After(deadline) {
			b.Fatalf("pass %s: step %s (%v), want it waiting for an approval", id, st.Step, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	before, err := operator.TargetState(ctx, p.client, spec.Name)
	if err != nil {
		b.Fatal(err)
	}
	var lat []float64
	errs, delivered := 0, 0
	for i := range alerts {
		sent := time.Now()
		r := stormPost{variant: "approval", fingerprint: uint64(100 + i)}.send(hc, url, names, sent.Add(-time.Second), sent)
		if r.err != nil {
			errs++
			continue
		}
		delivered += len(r.reply.Delivered)
		lat = append(lat, float64(r.latency.Microseconds())/1000)
		time.Sleep(time.Until(sent.Add(every)))
	}
	after, err := operator.TargetState(ctx, p.client, spec.Name)
	if err != nil {
		b.Fatal(err)
	}
	tuner, err := p.client.DescribeWorkflowExecution(ctx, workflows.TunerID(spec.Name), "")
	if err != nil {
		b.Fatal(err)
	}
	pass, err := p.client.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		b.Fatal(err)
	}
	kept := 0
	if after.Running != nil {
		kept = len(after.Running.Delivered)
	}
	grown := after.Events - before.Events
	b.Logf("%d fresh alerts during %s's approval wait: %d delivered, %d errors; the tuner's history grew from %d to %d events (%d bytes), the running pass keeps %d alert keys; the pass's history has %d events (%d bytes)",
		alerts, id, delivered, errs, before.Events, after.Events, tuner.GetWorkflowExecutionInfo().GetHistorySizeBytes(), kept,
		pass.GetWorkflowExecutionInfo().GetHistoryLength(), pass.GetWorkflowExecutionInfo().GetHistorySizeBytes())
	b.ReportMetric(float64(grown)/alerts, "tuner-events/alert")
	b.ReportMetric(float64(tuner.GetWorkflowExecutionInfo().GetHistorySizeBytes())/1024, "tuner-history-KiB")
	b.ReportMetric(float64(kept), "keys-kept")
	b.ReportMetric(float64(pass.GetWorkflowExecutionInfo().GetHistoryLength()), "pass-events")
	b.ReportMetric(float64(delivered), "delivered")
	b.ReportMetric(pct(lat, 0.5), "p50-ms")
	b.ReportMetric(pct(lat, 0.99), "p99-ms")

	// The gate (make bench).
	if errs > 0 {
		b.Errorf("%d of %d webhooks failed", errs, alerts)
	}
	if grown*10 >= alerts {
		b.Errorf("the tuner's history grew by %d events over %d alerts, want fewer than one per ten", grown, alerts)
	}
	if kept > 1 {
		b.Errorf("the running pass holds %d delivered alerts, want at most one", kept)
	}
}

// stormSpec is target i of a storm: a simulated service whose canary
// stages wait 10 minutes, so a pass outlasts the storm. Alerts named
// StormAlert-<variant>-<i> select it, at most one request an hour.
func stormSpec(b *testing.B, variant string, i int) target.Spec {
	y := fmt.Sprintf(`
name: storm-%s-%d
params:
  - {name: worker_threads, type: int, min: 4, max: 256, log: true, current: 32}
  - {name: cache_ttl_s, type: float, min: 1, max: 3600, log: true, current: 60}
objective: {metric: cost_per_request, goal: minimize}
constraints: [{metric: latency_p95_ms, max: 250}, {metric: error_rate, max: 0.01}]
telemetry: {simulator: {model: web, seed: %d, noise: 0.02, scrape: 1s}}
actuator: {simulator: {}}
canary: {stages: [5, 25, 100], verify_for: 10m, check_every: 1m}
risk: {approval_from: forbidden, max_step: 0.05}
triggers: {alerts: [StormAlert-%s-%d], cooldown: 1h}
`, variant, i, i, variant, i)
	s, err := target.Parse("storm.yaml", []byte(y))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// awaitStormRoutable waits until the tuners' listing, which the webhook
// routes alerts by, names every target with its alert.
func awaitStormRoutable(b *testing.B, c client.Client, names []string) {
	deadline := time.Now().Add(time.Minute)
	for {
		tuners, err := operator.Tuners(context.Background(), c)
		missing := slices.DeleteFunc(slices.Clone(names), func(name string) bool {
			return slices.ContainsFunc(tuners, func(t operator.TunerInfo) bool { return t.Name == name && len(t.Alerts) > 0 })
		})
		if err == nil && len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("targets %v not listed with their alerts within a minute (%v)", missing, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stormPost is one planned webhook.
type stormPost struct {
	variant     string
	target      int
	byLabel     bool          // routed by the passflow_target label, or else by its alertname
	age         time.Duration // how long before the send, or the storm, the alert started
	fingerprint uint64
}

type stormResult struct {
	latency time.Duration
	lag     time.Duration // how late after its slot it was sent
	reply   api.AlertsReply
	err     error
}

// send posts the webhook, its alert firing since startsAt, and times it.
func (sp stormPost) send(hc *http.Client, url string, names []string, startsAt, due time.Time) stormResult {
	labels := map[string]string{"alertname": fmt.Sprintf("StormAlert-%s-%d", sp.variant, sp.target), "severity": "page"}
	if sp.byLabel {
		labels = map[string]string{"alertname": "StormLatencyHigh", api.TargetLabel: names[sp.target], "severity": "page"}
	}
	now := time.Now()
	alert := map[string]any{
		"status": "firing", "labels": labels,
		"annotations":  map[string]string{"summary": "p95 latency above 250ms on " + names[sp.target]},
		"startsAt":     startsAt.UTC().Format(time.RFC3339Nano),
		"endsAt":       "0001-01-01T00:00:00Z",
		"generatorURL": "http://prometheus.invalid:9090/graph?g0.expr=latency_p95_ms+%3E+250",
		"fingerprint":  strconv.FormatUint(sp.fingerprint, 16),
	}
	body, err := json.Marshal(map[string]any{
		"version": "4", "groupKey": `{}:{alertname="` + labels["alertname"] + `"}`, "truncatedAlerts": 0,
		"status": "firing", "receiver": "passflow", "groupLabels": map[string]string{"alertname": labels["alertname"]},
		"commonLabels": labels, "commonAnnotations": alert["annotations"], "externalURL": "http://alertmanager.invalid:9093",
		"alerts": []any{alert},
	})
	if err != nil {
		return stormResult{err: err}
	}
	res := stormResult{lag: now.Sub(due)}
	resp, err := hc.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		res.err = err
		return res
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	res.latency = time.Since(now)
	switch {
	case err != nil:
		res.err = err
	case resp.StatusCode != http.StatusOK:
		res.err = fmt.Errorf("status %d: %s", resp.StatusCode, data)
	default:
		res.err = json.Unmarshal(data, &res.reply)
	}
	return res
}

// stormMonitor polls the targets during the storm and keeps the most passes
// it saw running (open pass workflows, as the server describes them) and
// queued (in the tuner's state) on one target at once.
type stormMonitor struct {
	done    chan struct{}
	stopped chan struct{}
	running int
	queued  int
	errors  int
}

func startStormMonitor(c client.Client, names []string) *stormMonitor {
	m := &stormMonitor{done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(m.stopped)
		ctx := context.Background()
		for {
			for _, name := range names {
				st, err := operator.TargetState(ctx, c, name)
				if err != nil {
					m.errors++
					continue
				}
				n, err := openPasses(ctx, c, name, st.Passes)
				if err != nil {
					m.errors++
					continue
				}
				m.running = max(m.running, n)
				if st.Queued != nil {
					m.queued = max(m.queued, 1)
				}
			}
			select {
			case <-m.done:
				return
			case <-time.After(2 * time.Second):
			}
		}
	}()
	return m
}

func (m *stormMonitor) stop() (running, queued, errors int) {
	close(m.done)
	<-m.stopped
	return m.running, m.queued, m.errors
}

// openPasses counts the target's passes 1..n whose workflows are open.
func openPasses(ctx context.Context, c client.Client, name string, n int) (int, error) {
	open := 0
	for i := 1; i <= n; i++ {
		d, err := c.DescribeWorkflowExecution(ctx, workflows.PassID(name, i), "")
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
			continue // queued, not started yet
		case err != nil:
			return 0, err
		}
		if d.GetWorkflowExecutionInfo().GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
			open++
		}
	}
	return open, nil
}
