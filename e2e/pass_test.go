package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/devserver"
	"github.com/passflow/passflow/operator"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workflows"
)

var record = flag.Bool("record", false, "record the histories of the passes and tuners these tests run into workflows/testdata, for the replay test")

// spec returns a simulated target with short windows and numeric knobs
// only. noise and maxStep steer the outcome: a small step at low noise
// promotes, an injected regression rolls back.
func spec(t *testing.T, name string, noise, maxStep, regression float64) target.Spec {
	t.Helper()
	y := fmt.Sprintf(`
name: %s
params:
  - {name: worker_threads, type: int, min: 4, max: 256, log: true, current: 32}
  - {name: cache_ttl_s, type: float, min: 1, max: 3600, log: true, current: 60}
objective: {metric: cost_per_request, goal: minimize}
constraints:
  - {metric: latency_p95_ms, max: 250}
  - {metric: error_rate, max: 0.01}
telemetry:
  simulator: {model: web, seed: 7, noise: %g, scrape: 100ms, regression: %g}
actuator: {simulator: {}}
canary: {stages: [5, 25, 100], verify_for: 2s, check_every: 1s, tolerance: 0.05}
risk: {approval_from: forbidden, max_step: %g}
`, name, noise, regression, maxStep)
	s, err := target.Parse(name+".yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runPass registers s with its tuner, requests a pass and follows it to
// its end.
func runPass(t *testing.T, s target.Spec) (string, workflows.PassStatus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id := requestPass(t, ctx, s)
	if rep, err := operator.Request(ctx, temporalClient, s.Name, workflows.PassRequest{
		Trigger: workflows.TriggerOperator, RequestedBy: t.Name()}); err != nil || rep.Status != workflows.ReplyQueued {
		// A second request while it runs queues a pass (deleted below).
		t.Fatalf("second request: %+v %v, want queued", rep, err)
	}
	if _, err := operator.Pause(ctx, temporalClient, s.Name, true, t.Name(), "drop the queued pass"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	st, err := operator.Follow(ctx, temporalClient, id, &out, 100*time.Millisecond)
	t.Logf("pass %s:\n%s", id, out.String())
	if err != nil {
		t.Fatal(err)
	}
	return id, st
}

// requestPass applies s and requests a pass; it returns the pass's ID.
func requestPass(t *testing.T, ctx context.Context, s target.Spec) string {
	t.Helper()
	if _, err := operator.Apply(ctx, temporalClient, s, t.Name(), t.Name()); err != nil {
		t.Fatal(err)
	}
	rep, err := operator.Request(ctx, temporalClient, s.Name, workflows.PassRequest{
		Trigger: workflows.TriggerOperator, RequestedBy: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != workflows.ReplyStarted {
		t.Fatalf("request: %+v, want started", rep)
	}
	return rep.PassID
}

// tunerState waits until cond holds of s's tuner state (a pass's result
// reaches its tuner a moment after the pass ends) and returns it.
func tunerState(t *testing.T, name string, cond func(workflows.TunerState) bool) workflows.TunerState {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := operator.TargetStateWithHistory(context.Background(), temporalClient, name)
		if err == nil && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("tuner of %s: condition not met within 30s: %+v (%v)", name, st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// eventsByKey counts the simulator's applied changes per idempotency key.
func eventsByKey(t *testing.T, name string) map[string]int {
	t.Helper()
	svc, ok := sims.Service(name)
	if !ok {
		t.Fatalf("no simulated service %s", name)
	}
	n := map[string]int{}
	for _, e := range svc.Applied() {
		n[e.Key]++
	}
	return n
}

func TestPassPromotesOnSimulator(t *testing.T) {
	s := spec(t, "e2e-promote", 0.002, 0.01, 0)
	id, st := runPass(t, s)
	if st.Outcome != workflows.OutcomePromoted {
		t.Fatalf("outcome %s (%s), want promoted", st.Outcome, st.Reason)
	}
	keys := eventsByKey(t, s.Name)
	for _, k := range []string{"stage-1", "stage-2", "stage-3", "promote"} {
		if keys[id+"/"+k] != 1 {
			t.Errorf("%s applied %d times, want once (all: %v)", k, keys[id+"/"+k], keys)
		}
	}
	svc, _ := sims.Service(s.Name)
	base, _ := svc.Baseline(context.Background())
	if !base.Equal(st.Candidate) {
		t.Errorf("service baseline %s, want the promoted candidate %s", base, st.Candidate)
	}
	ts := tunerState(t, s.Name, func(st workflows.TunerState) bool { return len(st.Recent) == 2 })
	if hist := ts.History; len(hist) != 1 || hist[0].Source != id || hist[0].Failed {
		t.Errorf("history %+v, want one successful observation from %s", hist, id)
	}
	// The plain state query leaves the observations out and counts them.
	if sum, err := operator.TargetState(context.Background(), temporalClient, s.Name); err != nil || sum.History != nil || sum.HistorySize != 1 {
		t.Errorf("state without history: %d observations, size %d (%v); want none and a size of 1", len(sum.History), sum.HistorySize, err)
	}
	// The queued pass was dropped by the pause while the first ran.
	if ts.Recent[1].ID != id || ts.Recent[1].Outcome != workflows.OutcomePromoted || !ts.LastPromoted.Equal(st.Candidate) {
		t.Errorf("tuner's record %+v, last promoted %s; want %s promoted", ts.Recent[1], ts.LastPromoted, id)
	}
	if q := ts.Recent[0]; q.Outcome != workflows.OutcomeSkipped || !strings.Contains(q.Reason, "paused") {
		t.Errorf("the queued pass %+v, want skipped when the target was paused", q)
	}
	if *record {
		saveHistory(t, id, filepath.Join("..", "workflows", "testdata", "pass_promoted.json"))
		saveHistory(t, workflows.TunerID(s.Name), filepath.Join("..", "workflows", "testdata", "tuner_paused.json"))
	}
}

func TestPassRollsBackInjectedRegression(t *testing.T) {
	// The canary runs 5× the latency: about 440 ms against the 250 ms SLO.
	s := spec(t, "e2e-regress", 0.002, 0.01, 4)
	id, st := runPass(t, s)
	if st.Outcome != workflows.OutcomeRolledBack {
		t.Fatalf("outcome %s (%s), want rolled_back", st.Outcome, st.Reason)
	}
	if st.Stages[0].Verdict != "fail" || st.Stages[1].Applied {
		t.Errorf("stages %+v: want stage 1 failed and stage 2 never applied", st.Stages)
	}
	keys := eventsByKey(t, s.Name)
	if keys[id+"/stage-1"] != 1 || keys[id+"/undo-stage-1"] != 1 || keys[id+"/promote"] != 0 {
		t.Errorf("applied %v: want stage-1 and undo-stage-1 once, no promote", keys)
	}
	svc, _ := sims.Service(s.Name)
	if now := svc.State(time.Now()); now.Percent != 0 {
		t.Errorf("canary still at %g%% after rollback", now.Percent)
	}
	hist := tunerState(t, s.Name, func(st workflows.TunerState) bool { return len(st.Recent) == 2 }).History
	if len(hist) != 1 || hist[0].Constraints["latency_p95_ms"] <= 250 || !slices.Contains(hist[0].Violated, "latency_p95_ms") {
		t.Errorf("history %+v: want the rolled-back candidate recorded with its measured latency over 250, labeled violated", hist)
	}
	if *record {
		saveHistory(t, id, filepath.Join("..", "workflows", "testdata", "pass_rolled_back.json"))
	}
}

// TestPassRepairsABrokenBaseline: a baseline over its latency limit (the
// simulated service runs at about 90 ms against 60) makes the pass a repair,
// judged on the guardrails; whatever it ends with, it says what it repaired.
func TestPassRepairsABrokenBaseline(t *testing.T) {
	s := spec(t, "e2e-repair", 0.002, 0.2, 0)
	limit := 60.0
	s.Constraints[0].Max = &limit
	id, st := runPass(t, s)
	if len(st.Repair) != 1 || !strings.Contains(st.Repair[0], "latency_p95_ms") {
		t.Fatalf("repair %v (outcome %s: %s), want the pass a repair of latency_p95_ms", st.Repair, st.Outcome, st.Reason)
	}
	switch st.Outcome {
	case workflows.OutcomePromoted:
		if !strings.HasPrefix(st.Reason, "repaired latency_p95_ms") {
			t.Errorf("promoted as %q, want it to say what it repaired", st.Reason)
		}
	case workflows.OutcomeRolledBack, workflows.OutcomeSkipped:
	default:
		t.Errorf("outcome %s (%s), want promoted, rolled back or skipped", st.Outcome, st.Reason)
	}
	for _, stage := range st.Stages {
		if j := stage.Judgement; j != nil && j.Judge != nil {
			t.Errorf("stage %d of a repair judged the objective's rule: %+v", stage.Index, j.Judge.Metrics)
		}
	}
	if *record {
		saveHistory(t, id, filepath.Join("..", "workflows", "testdata", "pass_repair.json"))
	}
}

// TestPassBakes runs a pass whose deciding stage bakes (canary.bake_for) on
// a real server to its end: after the 25% stage passed, the candidate keeps
// running beside the baseline, the bake is judged on both cohorts, and the
// pass ends by that judgement. The pass starts directly, not through its
// tuner, with a bake of seconds that a tuner refuses (a bake is judged an
// hour at a time: target.MinBakeFor): its steps are the same, and the
// history it leaves is the replay test's record of a bake.
func TestPassBakes(t *testing.T) {
	s := spec(t, "e2e-bake", 0.002, 0.1, 0)
	s.Canary.BakeFor = target.Duration(3 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The fourth pass's seed proposes a candidate about 1% cheaper, a gain
	// the stages show at this noise: the pass bakes.
	id := workflows.PassID(s.Name, 4)
	run, err := temporalClient.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: contract.TaskQueue},
		workflows.PassWorkflowName, workflows.PassInput{PassID: id, Target: s, Trigger: workflows.TriggerOperator, RequestedBy: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	var st workflows.PassStatus
	if err := run.Get(ctx, &st); err != nil {
		t.Fatalf("pass %s: %v", id, err)
	}
	deciding := s.DecidingStage()
	if len(st.Stages) < deciding {
		t.Fatalf("outcome %s (%s) after %d stages, want the deciding stage %d reached", st.Outcome, st.Reason, len(st.Stages), deciding)
	}
	d := st.Stages[deciding-1]
	if d.BakeFrom.IsZero() || d.Judgement == nil || d.Judgement.Bake == nil {
		t.Fatalf("deciding stage %+v (outcome %s: %s), want it baked and judged by its bake", d, st.Outcome, st.Reason)
	}
	if d.To.Sub(d.BakeFrom) < time.Duration(s.Canary.BakeFor) {
		t.Errorf("the bake ran %v–%v, want at least %v", d.BakeFrom, d.To, s.Canary.BakeFor)
	}
	keys := eventsByKey(t, s.Name)
	switch d.Verdict {
	case contract.VerdictPass:
		if st.Outcome != workflows.OutcomePromoted || keys[id+"/promote"] != 1 {
			t.Errorf("the bake passed, outcome %s (%s), applied %v; want promoted once", st.Outcome, st.Reason, keys)
		}
	default:
		if st.Outcome != workflows.OutcomeRolledBack || keys[id+"/undo-stage-2"] != 1 || keys[id+"/promote"] != 0 {
			t.Errorf("the bake ended %s, outcome %s (%s), applied %v; want rolled back, stage 2 undone", d.Verdict, st.Outcome, st.Reason, keys)
		}
	}
	// The observation takes the last verdict: the bake's when the pass
	// ended there, the 100% stage's after a promotion.
	if o := st.Observation; o == nil || o.Baked != (st.Outcome != workflows.OutcomePromoted) {
		t.Errorf("observation %+v after %s, want it marked baked only when the bake's verdict ended the pass", o, st.Outcome)
	}
	t.Logf("pass %s: %s (%s); bake %s", id, st.Outcome, st.Reason, d.Judgement.Bake.Why)
	if *record {
		saveHistory(t, id, filepath.Join("..", "workflows", "testdata", "pass_baked.json"))
	}
}

func TestHTTPAPITargetsPassesCancel(t *testing.T) {
	const name = "e2e-api"
	body := strings.Replace(apiTarget(name), "verify_for: 2s", "verify_for: 1h", 1)
	put := func(body string) *http.Response {
		req, err := http.NewRequest(http.MethodPut, apiServer.URL+"/v1/targets/"+name, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/yaml")
		resp, err := apiHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	post := func(path string) *http.Response {
		resp, err := apiHTTP.Post(apiServer.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	get := func(path string) *http.Response {
		resp, err := apiHTTP.Get(apiServer.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	var reg workflows.RegisterResult
	decode(t, put(body), http.StatusCreated, &reg)
	decode(t, put(body), http.StatusOK, &reg)
	if reg.Result != workflows.Unchanged || reg.Version != 1 {
		t.Errorf("second PUT of the same target: %+v, want unchanged at version 1", reg)
	}

	var first, second workflows.RequestReply
	decode(t, post("/v1/targets/"+name+"/passes?by=alice"), http.StatusAccepted, &first)
	decode(t, post("/v1/targets/"+name+"/passes?by=bob"), http.StatusAccepted, &second)
	if first.Status != workflows.ReplyStarted || second.Status != workflows.ReplyQueued || first.PassID == second.PassID {
		t.Fatalf("requests: %+v then %+v; want started, then queued behind it", first, second)
	}

	// Wait for stage 1 to be applied, then cancel over HTTP (the ID holds
	// slashes: pass/e2e-api/1).
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := apiHTTP.Get(apiServer.URL + "/v1/passes/" + first.PassID)
		if err != nil {
			t.Fatal(err)
		}
		var st workflows.PassStatus
		if resp.StatusCode == http.StatusOK {
			decode(t, resp, http.StatusOK, &st)
		} else {
			resp.Body.Close()
		}
		if len(st.Stages) > 0 && st.Stages[0].Applied {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stage 1 not applied within 30s: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	decode(t, post("/v1/targets/"+name+"/pause?by=carol&reason=test"), http.StatusOK, nil)
	decode(t, post("/v1/passes/"+first.PassID+"/cancel"), http.StatusAccepted, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := operator.Follow(ctx, temporalClient, first.PassID, io.Discard, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if st.Outcome != workflows.OutcomeRolledBack || len(st.Compensations) != 1 || !st.Compensations[0].Done {
		t.Fatalf("outcome %s, compensations %+v: want rolled back with stage 1 undone", st.Outcome, st.Compensations)
	}
	d, err := temporalClient.DescribeWorkflowExecution(ctx, first.PassID, "")
	if err != nil || d.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_CANCELED {
		t.Errorf("workflow status %v (%v), want canceled", d.GetWorkflowExecutionInfo().GetStatus(), err)
	}

	// The history: the cancelled pass rolled back, the queued one dropped by
	// the pause; requested by the caller (admin), not by the ?by= it typed. The list and the state show the target paused.
	tunerState(t, name, func(st workflows.TunerState) bool { return len(st.Recent) == 2 })
	var hist []workflows.PassRecord
	decode(t, get("/v1/targets/"+name+"/history"), http.StatusOK, &hist)
	if len(hist) != 2 || hist[1].Outcome != workflows.OutcomeRolledBack || hist[1].RequestedBy != "admin" ||
		hist[0].ID != second.PassID || hist[0].Outcome != workflows.OutcomeSkipped {
		t.Errorf("history %+v, want the queued pass skipped and the first rolled back", hist)
	}
	var rows []operator.TargetRow
	deadline = time.Now().Add(10 * time.Second)
	for !slices.ContainsFunc(rows, func(r operator.TargetRow) bool { return r.Name == name && r.Paused }) {
		if time.Now().After(deadline) {
			t.Fatalf("targets %+v: want %s listed as paused", rows, name)
		}
		decode(t, get("/v1/targets"), http.StatusOK, &rows)
		time.Sleep(100 * time.Millisecond)
	}
	var paused struct{ Error string }
	decode(t, post("/v1/targets/"+name+"/passes"), http.StatusConflict, &paused)
	// Who did it is the caller's identity, never a name it typed (?by=).
	if !strings.Contains(paused.Error, "paused by admin (test)") {
		t.Errorf("request to a paused target: %q, want it to say who paused it and why", paused.Error)
	}

	// Bad input: a malformed target is refused with its problems; a name
	// that is not the path's, a pass or a target that does not exist.
	var bad struct{ Error string }
	decode(t, put("name: x\nparams: []\n"), http.StatusBadRequest, &bad)
	if !strings.Contains(bad.Error, "request body") || !strings.Contains(bad.Error, "params") {
		t.Errorf("error %q: want it to name the request body and the params field", bad.Error)
	}
	decode(t, put(apiTarget("other-name")), http.StatusBadRequest, &bad)
	if !strings.Contains(bad.Error, `expected "e2e-api"`) {
		t.Errorf("error %q: want it to name the expected target", bad.Error)
	}
	// A command actuator from a request only from the server's allow-list.
	shell := strings.Replace(apiTarget(name), "actuator: {simulator: {}}", `actuator: {command: {argv: [/bin/sh, -c, "id"]}}`, 1)
	shell = strings.Replace(shell, "telemetry: {simulator: {model: web, seed: 3, noise: 0.002, scrape: 100ms}}",
		`telemetry: {prometheus: {url: "http://127.0.0.1:9090"}, queries: {cost_per_request: "c", latency_p95_ms: "l"}}`, 1)
	decode(t, put(shell), http.StatusForbidden, &bad)
	if !strings.Contains(bad.Error, "not on the server's allow-list") {
		t.Errorf("a shell as command actuator: %q, want it refused", bad.Error)
	}
	decode(t, get("/v1/passes/pass/no-such-target/1"), http.StatusNotFound, nil)
	decode(t, get("/v1/targets/no-such-target"), http.StatusNotFound, nil)
	decode(t, post("/v1/targets/no-such-target/passes"), http.StatusNotFound, nil)
	decode(t, post("/v1/passes/"+first.PassID+"/frobnicate"), http.StatusNotFound, nil)
	// A pass that never existed is 404; one that has ended is 409, and says
	// so: nothing to cancel, no approval to give.
	approve := func(id string) *http.Response {
		resp, err := as("alice").Post(apiServer.URL+"/v1/passes/"+id+"/approval", "application/json",
			strings.NewReader(`{"approved": true}`))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	decode(t, approve("pass/no-such-target/1"), http.StatusNotFound, nil)
	decode(t, post("/v1/passes/pass/no-such-target/1/cancel"), http.StatusNotFound, nil)
	var ended struct{ Error string }
	decode(t, post("/v1/passes/"+first.PassID+"/cancel"), http.StatusConflict, &ended)
	if !strings.Contains(ended.Error, "has ended") || !strings.Contains(ended.Error, "nothing to cancel") {
		t.Errorf("cancel of an ended pass: %q, want it to say the pass has ended", ended.Error)
	}
	decode(t, approve(first.PassID), http.StatusConflict, &ended)
	if !strings.Contains(ended.Error, "no approval to give") {
		t.Errorf("approval of an ended pass: %q, want it to say there is none to give", ended.Error)
	}
}

// apiTarget is a small simulated target as the API receives it.
func apiTarget(name string) string {
	return fmt.Sprintf(`
name: %s
params:
  - {name: worker_threads, type: int, min: 4, max: 256, log: true, current: 32}
objective: {metric: cost_per_request, goal: minimize}
constraints: [{metric: latency_p95_ms, max: 250}]
telemetry: {simulator: {model: web, seed: 3, noise: 0.002, scrape: 100ms}}
actuator: {simulator: {}}
canary: {stages: [5, 100], verify_for: 2s, check_every: 1s, tolerance: 0.5}
risk: {approval_from: forbidden, max_step: 0.01}
`, name)
}

func decode(t *testing.T, resp *http.Response, code int, v any) {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != code {
		t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, code, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
	}
}

// saveHistory writes a closed workflow's history as JSON for replay tests.
func saveHistory(t *testing.T, id, path string) {
	t.Helper()
	ctx := context.Background()
	it := temporalClient.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	hist := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		hist.Events = append(hist.Events, ev)
	}
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d events into %s", len(hist.Events), path)
}

// TestNamespaceSetup checks what passflow dev creates: a namespace that keeps
// closed passes for 30 days and has passflow's search attributes.
func TestNamespaceSetup(t *testing.T) {
	ctx := context.Background()
	d, err := temporalClient.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if r := d.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); r < devserver.Retention {
		t.Errorf("retention %s, want at least %s", r, devserver.Retention)
	}
	sa, err := temporalClient.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range workflows.SearchAttributeNames {
		if sa.GetCustomAttributes()[name] != enums.INDEXED_VALUE_TYPE_KEYWORD {
			t.Errorf("search attribute %s: %v, want a keyword", name, sa.GetCustomAttributes()[name])
		}
	}
}
