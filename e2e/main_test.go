// Package e2e runs passes end to end on a real Temporal server embedded in
// the test process (in memory), with a real worker and the simulator, and
// tests durability by killing and restarting the passflow binary.
package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/api"
	"github.com/passflow/passflow/app"
	"github.com/passflow/passflow/devserver"
	"github.com/passflow/passflow/simulations"
	"github.com/passflow/passflow/workers"
	"github.com/passflow/passflow/workflows"
)

// The one embedded server, worker and API of this test binary.
var (
	temporalClient client.Client
	sims           *simulations.Connector
	apiServer      *httptest.Server
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "passflow-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	port, err := devserver.FreePortBlock()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer logf.Close()
	srv, err := devserver.Start(ctx, devserver.Options{
		Ephemeral: true, Port: port, SearchAttributes: workflows.SearchAttributeNames, Log: logf,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start the embedded server:", err)
		return 1
	}
	defer srv.Stop()
	temporalClient, err = app.Conn{Address: srv.Address(), Namespace: srv.Namespace()}.Dial(ctx, logf)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer temporalClient.Close()
	sims = simulations.NewConnector(simulations.Options{StateDir: filepath.Join(dir, "sim")}, nil)
	reg := prometheus.NewRegistry()
	w := workers.New(temporalClient, &activities.Activities{
		Connector: sims, Schedules: activities.TemporalSchedules{Client: temporalClient}, Metrics: activities.NewMetrics(reg)}, workers.Options{})
	if err := w.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer w.Stop()
	apiServer = httptest.NewServer(api.New(temporalClient, reg))
	defer apiServer.Close()
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin)) // the passflow binary some tests build
	}
	if code != 0 {
		if b, err := os.ReadFile(logf.Name()); err == nil && len(b) > 0 {
			fmt.Fprintf(os.Stderr, "--- server log (last 4 KiB)\n%s\n", tail(b, 4096))
		}
	}
	return code
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
