// Package devserver runs a real Temporal server inside the passflow process:
// SQLite-backed (a file, so passes survive a restart, or memory), frontend
// on loopback, and optionally the Temporal Web UI beside it.
//
// Invariants: everything binds to 127.0.0.1; the namespace is created with
// passflow's search attributes and a retention of Retention; a database file
// is created and migrated on first use and reused as it is afterwards.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Retention is how long closed passes stay in the namespace.
const Retention = 30 * 24 * time.Hour

// Pragmas are the SQLite settings of a file database, chosen for throughput
// with a single writer: write-ahead logging so readers never block the
// writer; synchronous=NORMAL, which in WAL mode is still durable across a
// process crash (only an OS crash can lose the last transactions); a 5 s
// busy timeout instead of immediate "database is locked" errors; a 64 MiB
// page cache, 256 MiB of memory-mapped reads and temp tables in memory.
var Pragmas = map[string]string{
	"journal_mode": "wal",
	"synchronous":  "normal",
	"busy_timeout": "5000",
	"cache_size":   "-65536",
	"mmap_size":    "268435456",
	"temp_store":   "memory",
}

// Options configure the embedded server.
type Options struct {
	// DBPath is the SQLite file; ignored when Ephemeral.
	DBPath    string
	Ephemeral bool
	// Port is the frontend's gRPC port on 127.0.0.1.
	Port int
	// UIPort is the Web UI's HTTP port; 0 disables the UI.
	UIPort    int
	Namespace string
	// SearchAttributes are created in the namespace (all Keyword).
	SearchAttributes []string
	// Pragmas override or add to the default Pragmas of a file database.
	Pragmas map[string]string
	// Log receives the server's own log lines (JSON); nil discards them.
	Log io.Writer
	// LogLevel is debug, info, warn or error; default warn.
	LogLevel string
}

// Server is a running embedded Temporal server.
type Server struct {
	opts     Options
	temporal temporal.Server
	ui       *uiserver.Server
}

// PortInUseError says a port the server needs is taken.
type PortInUseError struct {
	Port int
	What string
	Err  error
}

// Error names the port and what needed it.
func (e *PortInUseError) Error() string {
	return fmt.Sprintf("%s port %d on 127.0.0.1 is not available: %v", e.What, e.Port, e.Err)
}

// Unwrap returns the listen error.
func (e *PortInUseError) Unwrap() error { return e.Err }

// CheckPort returns a *PortInUseError unless 127.0.0.1:port can be bound now.
func CheckPort(port int, what string) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return &PortInUseError{Port: port, What: what, Err: err}
	}
	return l.Close()
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts the server (and the UI when UIPort is set) and returns once
// the frontend accepts connections.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "warn"
	}
	if err := CheckPorts(opts.Port); err != nil {
		return nil, err
	}
	if opts.UIPort != 0 {
		if err := CheckPort(opts.UIPort, "Temporal Web UI"); err != nil {
			return nil, err
		}
	}
	sqlCfg, err := sqlConfig(opts)
	if err != nil {
		return nil, err
	}
	cfg, err := serverConfig(opts, sqlCfg)
	if err != nil {
		return nil, err
	}
	if err := createNamespace(opts, sqlCfg); err != nil {
		return nil, err
	}

	var logger log.Logger = log.NewNoopLogger()
	if opts.Log != nil {
		if logger, err = newWriterLogger(opts.Log, opts.LogLevel); err != nil {
			return nil, err
		}
	}
	dc := dynamicconfig.StaticClient{
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
	}
	ts, err := temporal.NewServer(
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithConfig(cfg),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dc),
	)
	if err != nil {
		return nil, fmt.Errorf("devserver: create Temporal server: %w", err)
	}
	if err := ts.Start(); err != nil {
		return nil, fmt.Errorf("devserver: start Temporal server: %w", err)
	}
	s := &Server{opts: opts, temporal: ts}
	if err := waitForPort(ctx, opts.Port); err != nil {
		_ = ts.Stop()
		return nil, err
	}
	if opts.UIPort != 0 {
		s.ui = uiserver.NewServer(uioptions.WithConfigProvider(&uiConfig{cfg: &uiconfig.Config{
			Host:                "127.0.0.1",
			Port:                opts.UIPort,
			TemporalGRPCAddress: s.Address(),
			EnableUI:            true,
			DefaultNamespace:    opts.Namespace,
			HideLogs:            true,
			CORS:                uiconfig.CORS{CookieInsecure: true},
		}}))
		go func() { _ = s.ui.Start() }()
		if err := waitForPort(ctx, opts.UIPort); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

// Address is the frontend's host:port.
func (s *Server) Address() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.opts.Port)) }

// UIAddress is the Web UI's URL, or "" when the UI is off.
func (s *Server) UIAddress() string {
	if s.ui == nil {
		return ""
	}
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.opts.UIPort))
}

// Namespace is the namespace passes run in.
func (s *Server) Namespace() string { return s.opts.Namespace }

// Stop stops the UI and the server.
func (s *Server) Stop() {
	if s.ui != nil {
		s.ui.Stop()
	}
	_ = s.temporal.Stop()
}

func sqlConfig(opts Options) (*config.SQL, error) {
	c := &config.SQL{
		PluginName:        sqliteplugin.PluginName,
		ConnectAttributes: map[string]string{},
		// One connection: with more, WAL lets reads run beside the writer,
		// but the server's read-then-write transactions then fail with
		// SQLITE_BUSY whenever another connection wrote in between
		// (busy_timeout cannot help a stale snapshot).
		MaxConns:     1,
		MaxIdleConns: 1,
	}
	if opts.Ephemeral {
		c.ConnectAttributes["mode"] = "memory"
		c.ConnectAttributes["cache"] = "shared"
		c.DatabaseName = fmt.Sprintf("passflow-%d-%d", os.Getpid(), time.Now().UnixNano())
		return c, nil
	}
	if opts.DBPath == "" {
		return nil, errors.New("devserver: a database path is needed unless the server is ephemeral")
	}
	c.DatabaseName = opts.DBPath
	c.ConnectAttributes["mode"] = "rwc"
	for k, v := range Pragmas {
		c.ConnectAttributes[k] = v
	}
	for k, v := range opts.Pragmas {
		c.ConnectAttributes[k] = v
	}
	if err := os.MkdirAll(filepath.Dir(opts.DBPath), 0o700); err != nil {
		return nil, fmt.Errorf("devserver: create the directory of %s: %w", opts.DBPath, err)
	}
	if _, err := os.Stat(opts.DBPath); errors.Is(err, os.ErrNotExist) {
		// The database holds every pass and target: readable by its owner
		// alone (SQLite would create it as the umask says).
		f, err := os.OpenFile(opts.DBPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("devserver: create %s: %w", opts.DBPath, err)
		}
		_ = f.Close()
		if err := sqliteschema.SetupSchema(c); err != nil {
			_ = os.Remove(opts.DBPath)
			return nil, fmt.Errorf("devserver: set up the schema in %s: %w", opts.DBPath, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("devserver: %w", err)
	}
	return c, nil
}

func createNamespace(opts Options, c *config.SQL) error {
	sas := map[string]enumspb.IndexedValueType{}
	for _, name := range opts.SearchAttributes {
		sas[name] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, opts.Namespace, false, sas)
	if err != nil {
		return fmt.Errorf("devserver: namespace %s: %w", opts.Namespace, err)
	}
	ns.Detail.Config.Retention = durationpb.New(Retention)
	if err := sqliteschema.CreateNamespaces(c, ns); err != nil {
		return fmt.Errorf("devserver: create namespace %s: %w", opts.Namespace, err)
	}
	return nil
}

const clusterName = "active"

// serviceNames are the server's services, in the order of their ports.
var serviceNames = []string{"frontend", "history", "matching", "worker"}

// Ports returns every port the server binds for a frontend port: the
// services' gRPC ports port..port+3 and their membership ports
// port+10..port+13. They are fixed, not random, so that a restarted server
// has the same identity in the membership table as before: with random
// ports the new process would wait for the old, dead hosts to expire from
// the ring before it could serve ("Not enough hosts to serve the request").
func Ports(port int) (grpc, membership []int) {
	for i := range serviceNames {
		grpc = append(grpc, port+i)
		membership = append(membership, port+10+i)
	}
	return grpc, membership
}

// CheckPorts returns a *PortInUseError for the first port of Ports(port)
// that cannot be bound.
func CheckPorts(port int) error {
	grpc, member := Ports(port)
	for i, name := range serviceNames {
		if err := CheckPort(grpc[i], "Temporal "+name+" gRPC"); err != nil {
			return err
		}
		if err := CheckPort(member[i], "Temporal "+name+" membership"); err != nil {
			return err
		}
	}
	return nil
}

// FreePortBlock returns a frontend port whose whole block (Ports) is free.
func FreePortBlock() (int, error) {
	for range 100 {
		p, err := FreePort()
		if err != nil {
			return 0, err
		}
		if p+20 < 65536 && CheckPorts(p) == nil {
			return p, nil
		}
	}
	return 0, errors.New("devserver: no free block of ports found")
}

func serverConfig(opts Options, sqlCfg *config.SQL) (*config.Config, error) {
	grpc, member := Ports(opts.Port)
	services := map[string]config.Service{}
	for i, name := range serviceNames {
		services[name] = config.Service{RPC: config.RPC{GRPCPort: grpc[i], MembershipPort: member[i], BindOnIP: "127.0.0.1"}}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.Port))
	return &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: "127.0.0.1"},
		},
		Persistence: config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1,
			DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sqlCfg}},
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: addr},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services:            services,
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
			Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
		PublicClient: config.PublicClient{HostPort: addr},
	}, nil
}

func waitForPort(ctx context.Context, port int) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("devserver: %s did not start listening within a minute: %w", addr, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// uiConfig is a fixed ui-server configuration.
type uiConfig struct{ cfg *uiconfig.Config }

func (u *uiConfig) GetConfig() (*uiconfig.Config, error) { return u.cfg, nil }

// newWriterLogger is a JSON logger for the server writing to w.
func newWriterLogger(w io.Writer, level string) (log.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("devserver: log level %q: expected debug, info, warn or error", level)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(w), lvl)
	return log.NewZapLogger(zap.New(core)), nil
}
