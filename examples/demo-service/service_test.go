package main

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestKnobsMatter offers the same load to a cohort with 2 worker threads
// and one with 64, side by side (a canary at 50%), and reads the outcome
// from the metrics as Prometheus would: the 2-thread cohort queues, so its
// p95 latency is far higher; the 64-thread cohort reserves 32 times the
// capacity, so its cost per request is higher.
func TestKnobsMatter(t *testing.T) {
	if testing.Short() {
		t.Skip("offers load for about 2 s")
	}
	reg := prometheus.NewRegistry()
	svc, err := NewService(Options{Baseline: Config{WorkerThreads: 2, CacheTTL: 60, GCMode: gcThroughput}, Seed: 7, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Apply(map[string]any{knobThreads: 64}, 50); err != nil {
		t.Fatal(err)
	}

	// 200 requests/s for 1 s, open loop: each cohort gets about 100/s,
	// where 2 threads serve about 25/s.
	const rps, n = 200, 200
	r := rand.New(rand.NewPCG(7, 7))
	keys := rand.NewZipf(r, zipfS, 1, numKeys-1)
	var wg sync.WaitGroup
	start := time.Now()
	at := start
	for range n {
		time.Sleep(time.Until(at))
		key := int(keys.Uint64())
		wg.Go(func() { svc.Handle(context.Background(), key) })
		at = at.Add(time.Duration(r.ExpFloat64() / rps * float64(time.Second)))
	}
	wg.Wait()
	svc.mu.Lock()
	svc.accrueLocked(time.Now())
	svc.mu.Unlock()
	t.Logf("offered %d requests in %v, all answered after %v", n, at.Sub(start).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	p95 := map[string]float64{}
	cpr := map[string]float64{}
	for _, c := range []string{cohortBaseline, cohortCanary} {
		reqs, errs := counter(mfs, "demo_requests_total", c, ""), counter(mfs, "demo_requests_total", c, "503")
		p95[c] = 1000 * quantile(0.95, histogram(mfs, "demo_request_duration_seconds", c))
		cpr[c] = counter(mfs, "demo_cost_units_total", c, "") / reqs
		t.Logf("%s (%d threads): %g requests, %g with 503, p95 %.0f ms, cost per request %.3f", c, map[string]int{cohortBaseline: 2, cohortCanary: 64}[c], reqs, errs, p95[c], cpr[c])
		if reqs < n/4 {
			t.Fatalf("%s got %g of %d requests, want about half", c, reqs, n)
		}
	}
	if p95[cohortBaseline] < 2*p95[cohortCanary] {
		t.Errorf("p95 with 2 threads %.0f ms, with 64 %.0f ms: want 2 threads clearly slower", p95[cohortBaseline], p95[cohortCanary])
	}
	if p95[cohortCanary] > 250 {
		t.Errorf("p95 with 64 threads %.0f ms: want no queueing", p95[cohortCanary])
	}
	if cpr[cohortCanary] < 2*cpr[cohortBaseline] {
		t.Errorf("cost per request with 64 threads %.3f, with 2 %.3f: want it to rise with threads", cpr[cohortCanary], cpr[cohortBaseline])
	}
}

// TestGCModes renders under each gc_mode: low-latency computes more per
// request (which the cost counter charges); throughput pauses once every
// pauseEvery bytes (and its pause, a one-off, is left out of the
// comparison).
func TestGCModes(t *testing.T) {
	const n = 200 // 6.4 MiB under throughput: one pause
	cpu := map[string]time.Duration{}
	pauses := map[string]int{}
	for _, mode := range []string{gcThroughput, gcLowLatency} {
		h := newHeap()
		for i := range n {
			_, d, paused := h.render(mode, uint64(i), 1)
			if paused {
				pauses[mode]++
				continue
			}
			cpu[mode] += d
		}
	}
	t.Logf("compute per request: throughput %v, low-latency %v", cpu[gcThroughput]/n, cpu[gcLowLatency]/n)
	if pauses[gcThroughput] != 1 || pauses[gcLowLatency] != 0 {
		t.Errorf("pauses %v, want 1 under throughput and none under low-latency", pauses)
	}
	if !raceEnabled && cpu[gcLowLatency] < cpu[gcThroughput]*3/2 {
		t.Errorf("compute: throughput %v, low-latency %v: want low-latency clearly more", cpu[gcThroughput], cpu[gcLowLatency])
	}
}

// TestCacheTTL serves one hot key under two TTLs: the longer one hits more
// and calls the backend less, and a hit past the key's update serves stale
// data.
func TestCacheTTL(t *testing.T) {
	b := backend{seed: 1}
	c := newCache()
	now := time.Unix(1_800_000_000, 0)
	period, phase := b.schedule(42)
	// Cached just after an update; read just before and just after the next.
	fetched := time.Unix(0, 0).Add(time.Duration((math.Ceil((float64(now.Unix())+phase)/period)*period - phase + 1) * float64(time.Second)))
	c.put(42, entry{fetched: fetched, version: b.version(42, fetched)})
	justBefore := fetched.Add(time.Duration((period - 2) * float64(time.Second)))
	justAfter := fetched.Add(time.Duration((period + 1) * float64(time.Second)))
	if e, ok := c.get(42, justBefore, 24*time.Hour); !ok || e.version != b.version(42, justBefore) {
		t.Errorf("before the key's update: hit %t, version %d, want a fresh hit (%d)", ok, e.version, b.version(42, justBefore))
	}
	if e, ok := c.get(42, justAfter, 24*time.Hour); !ok || e.version == b.version(42, justAfter) {
		t.Errorf("after the key's update with a long TTL: hit %t, want a stale hit", ok)
	}
	if _, ok := c.get(42, justAfter, time.Second); ok {
		t.Errorf("an entry older than the TTL was served")
	}
	if p := time.Duration(period * float64(time.Second)); p < updateMin || p > updateMax {
		t.Errorf("update period %v, want %v to %v", p, updateMin, updateMax)
	}
}

// counter sums the counter's series of cohort (and code, when not empty).
func counter(mfs []*dto.MetricFamily, name, cohort, code string) float64 {
	var sum float64
	for _, m := range series(mfs, name, cohort) {
		if code == "" || label(m, "code") == code {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func histogram(mfs []*dto.MetricFamily, name, cohort string) *dto.Histogram {
	for _, m := range series(mfs, name, cohort) {
		return m.GetHistogram()
	}
	return nil
}

func series(mfs []*dto.MetricFamily, name, cohort string) []*dto.Metric {
	var out []*dto.Metric
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label(m, "cohort") == cohort {
				out = append(out, m)
			}
		}
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, p := range m.GetLabel() {
		if p.GetName() == name {
			return p.GetValue()
		}
	}
	return ""
}

// quantile is PromQL's histogram_quantile over one histogram: linear
// interpolation inside the bucket the rank falls in.
func quantile(q float64, h *dto.Histogram) float64 {
	if h == nil || h.GetSampleCount() == 0 {
		return math.NaN()
	}
	rank := q * float64(h.GetSampleCount())
	lower, below := 0.0, 0.0
	for _, b := range h.GetBucket() {
		count := float64(b.GetCumulativeCount())
		if count >= rank {
			return lower + (b.GetUpperBound()-lower)*(rank-below)/(count-below)
		}
		lower, below = b.GetUpperBound(), count
	}
	return lower // in the +Inf bucket: PromQL answers the highest finite bound
}
