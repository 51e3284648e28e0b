package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// tool finds an installed program the tests need: missing, the test skips,
// or fails under CI=true (.ci/run installs it through make test-deps).
func tool(t testing.TB, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("%s not found (%v); CI must install it (.ci/run does)", name, err)
		}
		t.Skipf("%s not installed: `make test-deps` installs it", name)
	}
	return bin
}

// freeAddr is a loopback address nothing listens on now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// daemon is a process a test runs, logging into a file shown when the test
// fails.
type daemon struct {
	name   string
	cmd    *exec.Cmd
	log    string
	once   sync.Once
	exited chan struct{}
	err    error
}

// startDaemon starts bin with args and env (added to the test's), and
// waits until GET ready answers 200.
func startDaemon(t testing.TB, name, bin string, env []string, ready string, args ...string) *daemon {
	t.Helper()
	d := &daemon{name: name, log: filepath.Join(t.TempDir(), name+".log"), exited: make(chan struct{})}
	logf, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.Env = append(os.Environ(), env...)
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	go func() { d.err = d.cmd.Wait(); logf.Close(); close(d.exited) }()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			if b, err := os.ReadFile(d.log); err == nil {
				t.Logf("%s log (last 4 KiB):\n%s", name, tail(b, 4096))
			}
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-d.exited:
			t.Fatalf("%s exited before it was ready: %v", name, d.err)
		default:
		}
		if resp, err := http.Get(ready); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within 60s at %s", name, ready)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop kills the process and waits for it.
func (d *daemon) stop() {
	d.once.Do(func() { _ = d.cmd.Process.Kill() })
	<-d.exited
}

// startPrometheus runs a real Prometheus scraping targets (host:port) every
// second; it returns the process and its base URL.
func startPrometheus(t testing.TB, targets ...string) (*daemon, string) {
	t.Helper()
	bin := tool(t, "prometheus")
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	list := ""
	for _, tg := range targets {
		list += fmt.Sprintf("%q, ", tg)
	}
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: demo
    static_configs: [{targets: [%s]}]
`, list)), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	d := startDaemon(t, "prometheus", bin, nil, "http://"+addr+"/-/ready",
		"--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	return d, "http://" + addr
}

// startDemoService runs the demo service binary bin on a free loopback
// address with the shared secret and --rate rate, and args besides (a
// --regression, a --seed); it returns the daemon and its address.
func startDemoService(t testing.TB, name, bin, secret string, rate int, args ...string) (*daemon, string) {
	t.Helper()
	addr := freeAddr(t)
	d := startDaemon(t, name, bin, []string{"DEMO_SERVICE_SECRET=" + secret}, "http://"+addr+"/metrics",
		append([]string{"--listen", addr, "--rate", strconv.Itoa(rate), "--secret-env", "DEMO_SERVICE_SECRET"}, args...)...)
	return d, addr
}

// demoServiceBinary builds examples/demo-service into dir.
func demoServiceBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "demo-service")
	if out, err := exec.Command("go", "build", "-o", bin, "../examples/demo-service").CombinedOutput(); err != nil {
		t.Fatalf("build the demo service: %v\n%s", err, out)
	}
	return bin
}

// promTarget is a one-knob target on the demo service at demo, measured by
// prom: every candidate has fewer worker threads than the baseline's 32,
// so it costs less at the same latency (the service's latency does not
// change above about 6 threads at this load).
func promTarget(name, prom, demo string) string {
	return promTargetOf(name, prom, demo, "", "20s", "5s")
}

// promTargetOf is promTarget reading the series of one scraped instance
// (all when empty), with the canary's verify_for and check_every.
func promTargetOf(name, prom, demo, instance, verify, every string) string {
	sel := ""
	if instance != "" {
		sel = fmt.Sprintf(`instance=%q,`, instance)
	}
	return fmt.Sprintf(`
name: %[1]s
params:
  - {name: worker_threads, type: int, min: 8, max: 32, current: 32}
objective: {metric: cost_per_request, goal: minimize}
constraints:
  - {metric: latency_p95_ms, max: 250}
  - {metric: error_rate, max: 0.05}
telemetry:
  prometheus: {url: %[2]q, scrape_interval: 1s, timeout: 5s}
  queries:
    cost_per_request: sum(rate(demo_cost_units_total{%[4]scohort="{{.Cohort}}"}[{{.Window}}])) / sum(rate(demo_requests_total{%[4]scohort="{{.Cohort}}"}[{{.Window}}]))
    latency_p95_ms: 1000 * histogram_quantile(0.95, sum by (le) (rate(demo_request_duration_seconds_bucket{%[4]scohort="{{.Cohort}}"}[{{.Window}}])))
    error_rate: sum(rate(demo_requests_total{%[4]scohort="{{.Cohort}}",code=~"5.."}[{{.Window}}])) / sum(rate(demo_requests_total{%[4]scohort="{{.Cohort}}"}[{{.Window}}]))
actuator:
  webhook: {url: %[3]q, secret_env: E2E_DEMO_SECRET}
canary:
  stages: [50, 100]
  verify_for: %[5]s
  check_every: %[6]s
  judge:
    metrics:
      - {metric: latency_p95_ms, direction: increase, allowed_effect: 10%%, critical: true}
risk: {approval_from: forbidden, max_step: 1}
`, name, prom, demo+"/config", sel, verify, every)
}

// awaitScrapes waits until Prometheus at prom has scraped its job n times
// in the last minute, so that a pass's analyze finds a baseline to read.
func awaitScrapes(t testing.TB, prom string, n int) {
	t.Helper()
	q := url.QueryEscape(fmt.Sprintf(`count_over_time(up{job="demo"}[1m]) >= %d`, n))
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(prom + "/api/v1/query?query=" + q)
		if err == nil {
			var r struct {
				Data struct {
					Result []json.RawMessage `json:"result"`
				} `json:"data"`
			}
			err = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if err == nil && len(r.Data.Result) > 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus at %s did not scrape %d times within 2 minutes (%v)", prom, n, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
