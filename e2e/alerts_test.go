package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passflow/passflow/api"
	"github.com/passflow/passflow/operator"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workflows"
)

// alertSpec is a simulated target whose stages wait an hour, so its pass
// stays in its canary for the length of a test. With alert set, the target
// lists it in triggers.alerts (cooldown 1h); without, alerts reach it by
// their passflow_target label only.
func alertSpec(t *testing.T, name, alert string) target.Spec {
	t.Helper()
	y := strings.Replace(apiTarget(name), "verify_for: 2s", "verify_for: 1h", 1)
	if alert != "" {
		y += fmt.Sprintf("triggers: {alerts: [%s], cooldown: 1h}\n", alert)
	}
	s, err := target.Parse(name+".yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// awaitRouted waits until the tuners' listing, which the webhook routes
// alerts by, shows target name (routing alert, when set). The listing reads
// visibility, which lags a registration by a moment.
func awaitRouted(t *testing.T, name, alert string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		tuners, err := operator.Tuners(context.Background(), temporalClient)
		if err == nil && slices.ContainsFunc(tuners, func(ti operator.TunerInfo) bool {
			return ti.Name == name && (alert == "" || slices.Contains(ti.Alerts, alert))
		}) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tuner of %s (alert %q) not listed within 30s: %+v (%v)", name, alert, tuners, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// amAlert is one alert of Alertmanager's webhook payload.
type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// webhookBody is a webhook payload (version 4) as Alertmanager sends it.
func webhookBody(t *testing.T, alerts ...amAlert) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"version": "4", "groupKey": `{}:{alertname="` + alerts[0].Labels["alertname"] + `"}`, "truncatedAlerts": 0,
		"status": alerts[0].Status, "receiver": "passflow",
		"groupLabels": map[string]string{"alertname": alerts[0].Labels["alertname"]}, "commonLabels": alerts[0].Labels,
		"commonAnnotations": alerts[0].Annotations, "externalURL": "http://alertmanager.invalid:9093",
		"alerts": alerts,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// postWebhook posts a webhook body to the API; it may run on any goroutine.
func postWebhook(body []byte) (api.AlertsReply, error) {
	var rep api.AlertsReply
	resp, err := apiHTTP.Post(apiServer.URL+"/v1/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		return rep, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return rep, err
	}
	if resp.StatusCode != http.StatusOK {
		return rep, fmt.Errorf("POST /v1/alerts: status %d, want 200: %s", resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return rep, fmt.Errorf("POST /v1/alerts: decode %s: %v", b, err)
	}
	return rep, nil
}

// TestAlertStormRequestsOnePass posts the same firing alert a hundred times
// at once, as a flapping rule or several Alertmanagers would: the first
// requests the one pass, the 99 others are coalesced into it by the
// target's cooldown and leave the tuner's history as it was.
func TestAlertStormRequestsOnePass(t *testing.T) {
	const name, alert = "e2e-alert-storm", "PassflowE2EStorm"
	cleanup(t, name)
	if _, err := operator.Apply(context.Background(), temporalClient, alertSpec(t, name, alert), t.Name(), t.Name()); err != nil {
		t.Fatal(err)
	}
	awaitRouted(t, name, alert)
	before, err := operator.TargetState(context.Background(), temporalClient, name)
	if err != nil {
		t.Fatal(err)
	}

	// It fired before the pass: it asks for a pass, it cannot abort it.
	body := webhookBody(t, amAlert{
		Status: "firing", Labels: map[string]string{"alertname": alert, "severity": "page"},
		Annotations: map[string]string{"summary": "checkout p95 latency above 250ms"},
		StartsAt:    time.Now().Add(-time.Minute).UTC(), Fingerprint: "5708a1e27c0ffee1",
		GeneratorURL: "http://prometheus.invalid:9090/graph?g0.expr=latency_p95_ms+%3E+250",
	})
	const senders, each = 10, 10
	replies := make([]api.AlertsReply, senders*each)
	errs := make([]error, senders*each)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			<-gate
			for i := range each {
				replies[s*each+i], errs[s*each+i] = postWebhook(body)
			}
		})
	}
	close(gate)
	wg.Wait()
	var requested, coalesced, others []api.AlertResult
	for i, r := range replies {
		if errs[i] != nil {
			t.Fatalf("post %d of %d: %v", i+1, len(replies), errs[i])
		}
		requested = append(requested, r.Requested...)
		coalesced = append(coalesced, r.Coalesced...)
		others = append(append(others, r.Delivered...), r.Ignored...)
	}
	if len(requested) != 1 || len(coalesced) != senders*each-1 || len(others) != 0 {
		t.Fatalf("%d requested, %d coalesced, %d delivered or ignored (%+v); want 1 requested and %d coalesced into it",
			len(requested), len(coalesced), len(others), others, senders*each-1)
	}
	id := requested[0].PassID
	if id != workflows.PassID(name, 1) || requested[0].Target != name || requested[0].Alert != alert {
		t.Errorf("requested %+v, want %s of %s by %s", requested[0], workflows.PassID(name, 1), name, alert)
	}
	for _, c := range coalesced {
		if c.PassID != id || c.Target != name {
			t.Errorf("coalesced %+v, want it to name %s of %s", c, id, name)
			break
		}
	}

	st := tunerState(t, name, func(st workflows.TunerState) bool { return st.Running != nil })
	if st.Passes != 1 || st.Queued != nil || st.Running.ID != id || st.Running.Trigger != workflows.TriggerAlert ||
		st.LastAlertPass != id {
		t.Fatalf("tuner: %d passes, running %+v, queued %+v, last alert pass %q; want the one pass %s, running, nothing queued",
			st.Passes, st.Running, st.Queued, st.LastAlertPass, id)
	}
	if r := st.Running.Requests[0]; r.Alert == nil || r.Alert.Name != alert || r.RequestedBy != "alertmanager" {
		t.Errorf("the pass's request %+v, want %s's from alertmanager", r, alert)
	}
	// Coalesced requests are refused by the update's validator, which
	// writes nothing; a few that raced the first past it are answered by
	// its handler. Either way the storm costs far less than an event per
	// alert.
	if grown := st.Events - before.Events; grown >= senders*each {
		t.Errorf("the tuner's history grew by %d events over the storm of %d alerts, want far fewer", grown, senders*each)
	}
	t.Logf("tuner history: %d events before the storm, %d after", before.Events, st.Events)
}

// TestAlertDuringCanaryRollsBack posts an alert that started while stage 1
// of a pass was applied: the webhook delivers it to the pass, whose stage
// fails on it, and the canary rolls back.
func TestAlertDuringCanaryRollsBack(t *testing.T) {
	const name, alert = "e2e-alert-canary", "PassflowE2ECanaryErrors"
	cleanup(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id := requestPass(t, ctx, alertSpec(t, name, ""))
	awaitRouted(t, name, "")
	waitStage(t, id, 1)
	// The pass tells its tuner when its canary is applied; alerts that start
	// from then on go to the pass.
	tunerState(t, name, func(st workflows.TunerState) bool { return st.Running != nil && !st.Running.Canary.IsZero() })

	body := webhookBody(t, amAlert{
		Status: "firing", Labels: map[string]string{"alertname": alert, api.TargetLabel: name, "severity": "page"},
		Annotations: map[string]string{"summary": "5xx rate above 1% on checkout"},
		StartsAt:    time.Now().UTC(), Fingerprint: "ca7a1e27deadbeef",
	})
	rep, err := postWebhook(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Delivered) != 1 || len(rep.Requested)+len(rep.Coalesced)+len(rep.Ignored) != 0 {
		t.Fatalf("reply %+v, want the alert delivered and nothing else", rep)
	}
	if d := rep.Delivered[0]; d.PassID != id || d.Target != name || d.Alert != alert {
		t.Errorf("delivered %+v, want %s to %s of %s", d, alert, id, name)
	}

	st, err := operator.Follow(ctx, temporalClient, id, io.Discard, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if st.Outcome != workflows.OutcomeRolledBack || !strings.Contains(st.Reason, alert) {
		t.Fatalf("outcome %s (%s), want rolled_back with %s in the reason", st.Outcome, st.Reason, alert)
	}
	if st.Stages[0].Verdict != "fail" || st.Stages[1].Applied {
		t.Errorf("stages %+v: want stage 1 failed on the alert and stage 2 never applied", st.Stages)
	}
	if len(st.Alerts) != 1 || !st.Alerts[0].Aborted || st.Alerts[0].Alert.Name != alert {
		t.Errorf("alerts %+v, want %s noted as having aborted the pass", st.Alerts, alert)
	}
	svc, ok := sims.Service(name)
	if !ok {
		t.Fatalf("no simulated service %s", name)
	}
	if now := svc.State(time.Now()); now.Percent != 0 {
		t.Errorf("canary still at %g%% after the rollback", now.Percent)
	}
	if keys := eventsByKey(t, name); keys[id+"/stage-1"] != 1 || keys[id+"/undo-stage-1"] != 1 {
		t.Errorf("applied %v: want stage-1 and undo-stage-1 once each", keys)
	}
	// The delivered alert asked for no pass of its own.
	ts := tunerState(t, name, func(st workflows.TunerState) bool { return st.Running == nil && len(st.Recent) == 1 })
	if ts.Passes != 1 || ts.Queued != nil || ts.Recent[0].Outcome != workflows.OutcomeRolledBack ||
		!strings.Contains(ts.Recent[0].Reason, alert) {
		t.Errorf("tuner: %d passes, queued %+v, record %+v; want only %s, rolled back on %s",
			ts.Passes, ts.Queued, ts.Recent[0], id, alert)
	}
}

// TestRealAlertmanagerRequestsOnePass sends an alert through a real
// Alertmanager whose webhook receiver is the API: it notifies once per
// group (group_wait), re-evaluates every second (group_interval) and
// repeats only after an hour, and the target gets exactly one pass.
func TestRealAlertmanagerRequestsOnePass(t *testing.T) {
	bin := tool(t, "prometheus-alertmanager")
	const name, alert = "e2e-alertmanager", "PassflowE2EAlertmanager"
	cleanup(t, name)
	if _, err := operator.Apply(context.Background(), temporalClient, alertSpec(t, name, alert), t.Name(), t.Name()); err != nil {
		t.Fatal(err)
	}
	awaitRouted(t, name, alert)
	am := startAlertmanager(t, bin, apiServer.URL+"/v1/alerts")

	b, err := json.Marshal([]map[string]any{{
		"labels":      map[string]string{"alertname": alert, "severity": "page", "instance": "checkout-1:8080"},
		"annotations": map[string]string{"summary": "checkout error budget burning"},
		"startsAt":    time.Now().UTC(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(am+"/api/v2/alerts", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s/api/v2/alerts: status %d: %s", am, resp.StatusCode, msg)
	}

	tunerState(t, name, func(st workflows.TunerState) bool { return st.Passes > 0 })
	// Several group intervals later, still one pass: Alertmanager did not
	// notify again, or its notifications were coalesced.
	time.Sleep(5 * time.Second)
	st := tunerState(t, name, func(workflows.TunerState) bool { return true })
	if st.Passes != 1 || st.Running == nil || st.Running.ID != workflows.PassID(name, 1) || st.Queued != nil {
		t.Fatalf("tuner: %d passes, running %+v, queued %+v; want exactly one pass, running", st.Passes, st.Running, st.Queued)
	}
	r := st.Running.Requests[0]
	if r.Trigger != workflows.TriggerAlert || r.RequestedBy != "alertmanager" || r.Alert == nil ||
		r.Alert.Name != alert || r.Alert.Fingerprint == "" || r.Alert.Summary != "checkout error budget burning" {
		t.Errorf("the pass's request %+v (alert %+v), want %s from alertmanager with its fingerprint and summary", r, r.Alert, alert)
	}
}

// startAlertmanager runs Alertmanager on a free loopback port, without
// clustering, routing every alert to webhook; it returns its base URL. The
// process is killed when the test ends.
func startAlertmanager(t *testing.T, bin, webhook string) string {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`route:
  receiver: passflow
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: passflow
    webhook_configs:
      - url: %s
        send_resolved: true
        http_config:
          basic_auth: {username: am, password: pw-am}
`, webhook)), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	startDaemon(t, "alertmanager", bin, nil, "http://"+addr+"/-/ready", "--config.file="+config,
		"--storage.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--cluster.listen-address=")
	return "http://" + addr
}
