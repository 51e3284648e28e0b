package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/passflow/passflow/webhook"
)

var (
	testSecret   = []byte("s3cret")
	testNow      = time.Unix(1_800_000_000, 0)
	testBaseline = Config{WorkerThreads: 32, CacheTTL: 60, GCMode: gcThroughput}
)

// newTestController returns a controller over a fresh service, signing
// with testSecret at testNow.
func newTestController(t *testing.T, secret []byte) *controller {
	t.Helper()
	svc, err := NewService(Options{Baseline: testBaseline, Seed: 1, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	c := newController(svc, secret, slog.New(slog.DiscardHandler))
	c.now = func() time.Time { return testNow }
	return c
}

// request is one /config request; its zero value is a signed GET.
type request struct {
	method   string // GET when empty
	body     string
	key      string // Idempotency-Key
	unsigned bool
	secret   []byte    // testSecret when nil
	at       time.Time // testNow when zero
	tamper   bool      // sign one body and send another
}

func (rq request) do(t *testing.T, h http.Handler) (int, map[string]any) {
	t.Helper()
	method := rq.method
	if method == "" {
		method = http.MethodGet
	}
	r := httptest.NewRequest(method, "/config", strings.NewReader(rq.body))
	if rq.key != "" {
		r.Header.Set(webhook.HeaderIdempotency, rq.key)
	}
	if !rq.unsigned {
		secret, at, signed := rq.secret, rq.at, []byte(rq.body)
		if secret == nil {
			secret = testSecret
		}
		if at.IsZero() {
			at = testNow
		}
		if rq.tamper {
			signed = append(signed, ' ')
		}
		r.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
		r.Header.Set(webhook.HeaderSignature, webhook.Sign(secret, at, signed))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s /config: %d with a body that is not a JSON object: %q", method, w.Code, w.Body)
	}
	return w.Code, out
}

// change is the body of a webhook.Change.
func change(action string, percent float64, config map[string]any) string {
	b, _ := json.Marshal(webhook.Change{PassID: "pass/demo/1", Target: "demo-checkout", Action: action, Percent: percent, Config: config})
	return string(b)
}

// state is what GET /config reports, as JSON would carry it.
func state(t *testing.T, h http.Handler) map[string]any {
	t.Helper()
	code, st := request{}.do(t, h)
	if code != http.StatusOK {
		t.Fatalf("GET /config: %d %v", code, st)
	}
	return st
}

// jsonOf is v as it comes back from JSON.
func jsonOf(v any) any {
	b, _ := json.Marshal(v)
	var out any
	json.Unmarshal(b, &out)
	return out
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(jsonOf(a))
	y, _ := json.Marshal(jsonOf(b))
	return bytes.Equal(x, y)
}

var (
	cfgA = map[string]any{knobThreads: 8, knobTTL: 600.0, knobGCMode: gcLowLatency}
	cfgB = map[string]any{knobThreads: 16, knobTTL: 3600.0, knobGCMode: gcThroughput}
)

func TestConfigRefusesUnsignedRequests(t *testing.T) {
	body := change(webhook.ActionApply, 5, cfgA)
	for name, rq := range map[string]request{
		"no signature":          {method: http.MethodPost, body: body, unsigned: true},
		"another secret":        {method: http.MethodPost, body: body, secret: []byte("guess")},
		"another body":          {method: http.MethodPost, body: body, tamper: true},
		"signed 6 minutes ago":  {method: http.MethodPost, body: body, at: testNow.Add(-6 * time.Minute)},
		"signed 6 minutes on":   {method: http.MethodPost, body: body, at: testNow.Add(6 * time.Minute)},
		"GET with no signature": {unsigned: true},
		"GET with another key":  {secret: []byte("guess")},
	} {
		t.Run(name, func(t *testing.T) {
			h := newTestController(t, testSecret)
			before := state(t, h)
			code, out := rq.do(t, h)
			if code != http.StatusUnauthorized || out["error"] == "" || out["error"] == nil {
				t.Fatalf("got %d %v, want 401 with an error", code, out)
			}
			if strings.Contains(fmt.Sprint(out), string(testSecret)) {
				t.Fatalf("the answer holds the secret: %v", out)
			}
			if after := state(t, h); !equalJSON(before, after) {
				t.Fatalf("a refused request changed the state: %v → %v", before, after)
			}
		})
	}
	t.Run("signed 4 minutes ago", func(t *testing.T) {
		h := newTestController(t, testSecret)
		if code, out := (request{method: http.MethodPost, body: body, at: testNow.Add(-4 * time.Minute)}).do(t, h); code != http.StatusOK {
			t.Fatalf("got %d %v, want 200", code, out)
		}
	})
	t.Run("insecure", func(t *testing.T) {
		h := newTestController(t, nil)
		if code, out := (request{method: http.MethodPost, body: body, unsigned: true}).do(t, h); code != http.StatusOK {
			t.Fatalf("got %d %v, want 200 with no secret", code, out)
		}
	})
}

// TestConfigActions walks a canary's life: each step's answer is the
// configuration the changed cohort ran before and the canary's share then,
// and GET reports the result.
func TestConfigActions(t *testing.T) {
	base := testBaseline.Map()
	h := newTestController(t, testSecret)
	if st := state(t, h); !equalJSON(st, webhook.State{Baseline: base}) {
		t.Fatalf("at start: %v", st)
	}
	bFew := map[string]any{knobThreads: 16, knobTTL: 60, knobGCMode: gcThroughput}
	for i, step := range []struct {
		name     string
		body     string
		replaced map[string]any
		percent  float64 // the canary's share before
		want     webhook.State
	}{
		{"apply A at 5%: there was no canary", change(webhook.ActionApply, 5, cfgA), nil, 0,
			webhook.State{Baseline: base, Canary: cfgA, Percent: 5}},
		{"apply A at 25%", change(webhook.ActionApply, 25, cfgA), cfgA, 5,
			webhook.State{Baseline: base, Canary: cfgA, Percent: 25}},
		{"revert to 5%: the canary keeps A", change(webhook.ActionRevert, 5, cfgA), cfgA, 25,
			webhook.State{Baseline: base, Canary: cfgA, Percent: 5}},
		{"revert to 0: no canary", change(webhook.ActionRevert, 0, cfgA), cfgA, 5,
			webhook.State{Baseline: base}},
		{"apply B, naming one knob: the others are the baseline's", change(webhook.ActionApply, 5, map[string]any{knobThreads: 16}), nil, 0,
			webhook.State{Baseline: base, Canary: bFew, Percent: 5}},
		{"apply B at 25%", change(webhook.ActionApply, 25, cfgB), bFew, 5,
			webhook.State{Baseline: base, Canary: cfgB, Percent: 25}},
		{"apply A over B's canary", change(webhook.ActionApply, 5, cfgA), cfgB, 25,
			webhook.State{Baseline: base, Canary: cfgA, Percent: 5}},
		{"revert restores B's canary from the change's config", change(webhook.ActionRevert, 25, cfgB), cfgA, 5,
			webhook.State{Baseline: base, Canary: cfgB, Percent: 25}},
		{"promote B: the baseline was replaced", change(webhook.ActionPromote, 100, cfgB), base, 0,
			webhook.State{Baseline: cfgB}},
		{"revert to 0 with no canary", change(webhook.ActionRevert, 0, cfgB), nil, 0,
			webhook.State{Baseline: cfgB}},
		{"revert to 5% brings back a removed canary from the change's config", change(webhook.ActionRevert, 5, cfgA), nil, 0,
			webhook.State{Baseline: cfgB, Canary: cfgA, Percent: 5}},
	} {
		t.Run(step.name, func(t *testing.T) {
			code, out := request{method: http.MethodPost, body: step.body, key: fmt.Sprintf("pass/demo/1/%d", i)}.do(t, h)
			if want := (webhook.ChangeReply{Replaced: step.replaced, Percent: step.percent}); code != http.StatusOK || !equalJSON(out, want) {
				t.Fatalf("got %d %v, want 200 %v", code, out, jsonOf(want))
			}
			if st := state(t, h); !equalJSON(st, step.want) {
				t.Fatalf("GET /config: %v, want %v", st, jsonOf(step.want))
			}
		})
	}
}

func TestConfigIdempotent(t *testing.T) {
	h := newTestController(t, testSecret)
	first := request{method: http.MethodPost, body: change(webhook.ActionApply, 5, cfgA), key: "pass/demo/1/apply-1"}
	code, reply := first.do(t, h)
	if code != http.StatusOK {
		t.Fatalf("first: %d %v", code, reply)
	}
	// Undo it, then replay the first: it must not apply again.
	if code, out := (request{method: http.MethodPost, body: change(webhook.ActionRevert, 0, cfgA), key: "pass/demo/1/undo-1"}).do(t, h); code != http.StatusOK {
		t.Fatalf("revert: %d %v", code, out)
	}
	for _, again := range []request{
		first,
		// The same key with another body gets the first answer too.
		{method: http.MethodPost, body: change(webhook.ActionApply, 50, cfgB), key: first.key},
		// The body's key stands in for a missing header.
		{method: http.MethodPost, body: strings.Replace(change(webhook.ActionApply, 50, cfgB), `"key":""`, `"key":"pass/demo/1/apply-1"`, 1)},
	} {
		code, out := again.do(t, h)
		if code != http.StatusOK || !equalJSON(out, reply) {
			t.Fatalf("repeated key: %d %v, want the first answer %v", code, out, reply)
		}
		if st := state(t, h); !equalJSON(st, webhook.State{Baseline: testBaseline.Map()}) {
			t.Fatalf("a repeated key had an effect: %v", st)
		}
	}
}

func TestConfigRefusesBadChanges(t *testing.T) {
	with := func(k string, v any) map[string]any {
		m := maps.Clone(cfgA)
		m[k] = v
		return m
	}
	for _, tc := range []struct {
		name, body, field string
		code              int
	}{
		{"unknown knob", change(webhook.ActionApply, 5, with("heap_mb", 512)), "config.heap_mb", 400},
		{"threads as a string", change(webhook.ActionApply, 5, with(knobThreads, "8")), "config.worker_threads", 400},
		{"threads not whole", change(webhook.ActionApply, 5, with(knobThreads, 8.5)), "config.worker_threads", 400},
		{"threads 0", change(webhook.ActionApply, 5, with(knobThreads, 0)), "config.worker_threads", 400},
		{"threads 1025", change(webhook.ActionPromote, 100, with(knobThreads, 1025)), "config.worker_threads", 400},
		{"ttl 0", change(webhook.ActionApply, 5, with(knobTTL, 0)), "config.cache_ttl_s", 400},
		{"ttl negative", change(webhook.ActionPromote, 100, with(knobTTL, -1)), "config.cache_ttl_s", 400},
		{"ttl as a string", change(webhook.ActionApply, 5, with(knobTTL, "60s")), "config.cache_ttl_s", 400},
		{"gc_mode unknown", change(webhook.ActionApply, 5, with(knobGCMode, "fast")), "config.gc_mode", 400},
		{"gc_mode not a string", change(webhook.ActionApply, 5, with(knobGCMode, 1)), "config.gc_mode", 400},
		{"no config to apply", change(webhook.ActionApply, 5, nil), "config", 400},
		{"no config to promote", change(webhook.ActionPromote, 100, nil), "config", 400},
		{"percent above 100", change(webhook.ActionApply, 101, cfgA), "percent", 400},
		{"percent negative", change(webhook.ActionRevert, -5, cfgA), "percent", 400},
		{"unknown action", change("rollback", 0, cfgA), "action", 400},
		{"not JSON", `{"action": "apply",`, "body", 400},
		{"percent as a string", `{"action": "apply", "percent": "5", "config": {"worker_threads": 8}}`, "percent", 400},
		{"revert with nothing to bring back", change(webhook.ActionRevert, 5, nil), "percent", 409},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestController(t, testSecret)
			before := state(t, h)
			code, out := request{method: http.MethodPost, body: tc.body, key: "k"}.do(t, h)
			msg, _ := out["error"].(string)
			if code != tc.code || out["field"] != tc.field || !strings.HasPrefix(msg, tc.field+": ") {
				t.Fatalf("got %d %v, want %d naming %s", code, out, tc.code, tc.field)
			}
			if after := state(t, h); !equalJSON(before, after) {
				t.Fatalf("a refused change had an effect: %v → %v", before, after)
			}
			// A refusal is not remembered: the same key may carry a good change.
			if code, out := (request{method: http.MethodPost, body: change(webhook.ActionApply, 5, cfgA), key: "k"}).do(t, h); code != http.StatusOK {
				t.Fatalf("then a good change with the same key: %d %v", code, out)
			}
		})
	}
}

func TestRepliesForgetTheOldest(t *testing.T) {
	r := replies{max: 3}
	for _, k := range []string{"a", "b", "c", "a", "d"} {
		r.put(k, []byte(k))
	}
	for k, want := range map[string]bool{"a": false, "b": true, "c": true, "d": true, "": false} {
		if _, ok := r.get(k); ok != want {
			t.Errorf("key %q remembered: %t, want %t", k, ok, want)
		}
	}
	if len(r.byKey) != 3 {
		t.Errorf("%d keys remembered, want 3", len(r.byKey))
	}
}

func TestConfigMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	svc, err := NewService(Options{Baseline: testBaseline, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Apply(cfgA, 25); err != nil {
		t.Fatal(err)
	}
	info := func() map[string]string {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, mf := range mfs {
			if mf.GetName() == "demo_canary_percent" {
				got["percent"] = fmt.Sprint(mf.GetMetric()[0].GetGauge().GetValue())
			}
			if mf.GetName() != "demo_config_info" {
				continue
			}
			for _, m := range mf.GetMetric() {
				l := map[string]string{}
				for _, p := range m.GetLabel() {
					l[p.GetName()] = p.GetValue()
				}
				got[l["cohort"]] = l[knobThreads] + " " + l[knobTTL] + " " + l[knobGCMode]
			}
		}
		return got
	}
	if got, want := info(), map[string]string{"baseline": "32 60 throughput", "canary": "8 600 low-latency", "percent": "25"}; !maps.Equal(got, want) {
		t.Fatalf("after apply: %v, want %v", got, want)
	}
	if _, err := svc.Promote(cfgB); err != nil {
		t.Fatal(err)
	}
	if got, want := info(), map[string]string{"baseline": "16 3600 throughput", "percent": "0"}; !maps.Equal(got, want) {
		t.Fatalf("after promote: %v, want %v", got, want)
	}
}
