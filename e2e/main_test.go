// Package e2e runs passes end to end on a real Temporal server embedded in
// the test process (in memory), with a real worker and the simulator, and
// tests durability by killing and restarting the passflow binary.
package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"
	"go.temporal.io/sdk/client"
	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v2"

	"github.com/passflow/passflow/access"
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
	apiServer      *httpServer
	// apiHTTP calls the API as admin, who holds every role.
	apiHTTP *http.Client
)

// httpServer is the API served as passflow serves it: behind
// exporter-toolkit, with the test's web configuration and access file.
type httpServer struct{ URL string }

// e2eUsers are the API's identities in these tests, with their roles; each
// one's password is "pw-" and its name.
var e2eUsers = map[string][]access.Role{
	"admin":   access.Roles,
	"alice":   {access.Viewer, access.Approver},
	"bob":     {access.Viewer, access.Approver},
	"mallory": {access.Viewer, access.Approver}, // an approver, of no target here
	"carol":   {access.Viewer},
	"am":      {access.Trigger},
}

// as returns a client that calls the API as user.
func as(user string) *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: basicAuth{user: user, password: "pw-" + user}}
}

// basicAuth sends each request with a user and password, over base (the
// default transport when nil).
type basicAuth struct {
	user, password string
	base           http.RoundTripper
}

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.password)
	if b.base == nil {
		return http.DefaultTransport.RoundTrip(r)
	}
	return b.base.RoundTrip(r)
}

// serveAPI serves the API on a free port behind exporter-toolkit, with a
// web configuration and an access file for e2eUsers written into dir.
func serveAPI(dir string, h func(api.Options) http.Handler) (*httpServer, func(), error) {
	users := map[string]string{}
	for u := range e2eUsers {
		hash, err := bcrypt.GenerateFromPassword([]byte("pw-"+u), bcrypt.MinCost)
		if err != nil {
			return nil, nil, err
		}
		users[u] = string(hash)
	}
	webYAML, _ := yaml.Marshal(map[string]any{"basic_auth_users": users})
	webPath, accessPath := filepath.Join(dir, "web.yml"), filepath.Join(dir, "access.yml")
	if err := os.WriteFile(webPath, webYAML, 0o600); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(accessPath, access.Format(e2eUsers), 0o600); err != nil {
		return nil, nil, err
	}
	pol, err := access.Load(accessPath)
	if err != nil {
		return nil, nil, err
	}
	wc := access.WebConfig(webPath)
	if err := wc.Check(); err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: h(api.Options{Auth: api.Auth{Identify: wc.Identify, Policy: pol}, Commands: []string{"/usr/local/bin/apply-config"}})}
	go web.Serve(ln, srv, &web.FlagConfig{WebConfigFile: &webPath}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return &httpServer{URL: "http://" + ln.Addr().String()}, func() { srv.Close() }, nil
}

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
	sims = simulations.NewConnector(simulations.Options{StateDir: filepath.Join(dir, "sim")}, app.NewRealServices())
	reg := prometheus.NewRegistry()
	w := workers.New(temporalClient, &activities.Activities{
		Connector: sims, Schedules: activities.TemporalSchedules{Client: temporalClient}, Metrics: activities.NewMetrics(reg)}, workers.Options{})
	if err := w.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer w.Stop()
	var stopAPI func()
	apiServer, stopAPI, err = serveAPI(dir, func(o api.Options) http.Handler { return api.New(temporalClient, reg, o) })
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve the API:", err)
		return 1
	}
	defer stopAPI()
	apiHTTP = as("admin")
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
