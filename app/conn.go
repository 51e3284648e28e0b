// Package app assembles passflow's processes from its packages: the dev
// process (embedded server, UI, worker, HTTP API), a worker for an existing
// cluster, and the client connections operator commands use. cmd/passflow
// only parses flags into these options and calls in.
package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
)

// Conn is how to reach a Temporal cluster.
type Conn struct {
	Address   string
	Namespace string
	// TLS turns on TLS with the system roots (or CAFile); CertFile and
	// KeyFile add a client certificate (mTLS).
	TLS           bool
	CAFile        string
	CertFile      string
	KeyFile       string
	ServerName    string
	TLSSkipVerify bool
	// APIKey authenticates to Temporal Cloud or any API-key cluster; it
	// implies TLS. Empty, Dial takes $TEMPORAL_API_KEY.
	APIKey string
	// Metrics, when set, receives the SDK's client and worker metrics.
	Metrics client.MetricsHandler
}

// APIKeyEnv is the environment variable Dial reads the API key from when
// Conn.APIKey is empty. Its value is read when dialling, never shown as a
// flag's default: `--help` must not print a secret.
const APIKeyEnv = "TEMPORAL_API_KEY"

// Dial connects to the cluster. Logs of the SDK go to logw at warn level
// (nil discards them).
func (c Conn) Dial(ctx context.Context, logw io.Writer) (client.Client, error) {
	if c.APIKey == "" {
		c.APIKey = os.Getenv(APIKeyEnv)
	}
	opts := client.Options{
		HostPort:  c.Address,
		Namespace: c.Namespace,
		Logger:    quietLogger(logw),
	}
	if c.Metrics != nil {
		opts.MetricsHandler = c.Metrics
	}
	tlsCfg, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	opts.ConnectionOptions.TLS = tlsCfg
	if c.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(c.APIKey)
	}
	cl, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (namespace %s): %w", c.Address, c.Namespace, err)
	}
	return cl, nil
}

func (c Conn) tlsConfig() (*tls.Config, error) {
	if !c.TLS && c.APIKey == "" && c.CertFile == "" && c.CAFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{ServerName: c.ServerName, InsecureSkipVerify: c.TLSSkipVerify, MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: expected PEM certificates, found none", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case c.CertFile != "" && c.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case c.CertFile != "" || c.KeyFile != "":
		return nil, errors.New("--tls-cert and --tls-key go together: expected both or neither")
	}
	return cfg, nil
}

func quietLogger(w io.Writer) sdklog.Logger {
	if w == nil {
		w = io.Discard
	}
	return sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})))
}
