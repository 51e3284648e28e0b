package app

import (
	"context"
	"fmt"
	"io"
	"os"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/workers"
	"github.com/passflow/passflow/workflows"
)

// WorkerOptions configure `passflow worker`.
type WorkerOptions struct {
	Conn     Conn
	StateDir string
	HTTPAddr string
	// Auth guards the HTTP API; empty takes the pair passflow dev keeps in
	// StateDir.
	Auth    APIConfig
	Workers workers.Options
}

// Worker runs a worker and the HTTP API against an existing cluster until
// ctx ends. It creates passflow's search attributes in the namespace when
// they are missing and it is allowed to.
func Worker(ctx context.Context, opts WorkerOptions, out io.Writer) error {
	ln, err := listen(opts.HTTPAddr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if err := os.MkdirAll(opts.StateDir, 0o700); err != nil { // passflow's own: nobody else reads it
		return fmt.Errorf("--state: %w", err)
	}
	reg, sdkMetrics, stopMetrics := metricsRegistry()
	defer stopMetrics.Close()
	conn := opts.Conn
	conn.Metrics = sdkMetrics
	c, err := conn.Dial(ctx, os.Stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := EnsureSearchAttributes(ctx, c, opts.Conn.Namespace); err != nil {
		fmt.Fprintf(out, "warning: %v; passes need them, ask the cluster's operator to add them\n", err)
	}
	rt, err := startRuntime(c, reg, opts.StateDir, ln, opts.Auth.inState(opts.StateDir), opts.Workers, false)
	if err != nil {
		return err
	}
	defer rt.stop()
	fmt.Fprintf(out, "passflow worker on task queue %s at %s (namespace %s); HTTP API http://%s\n",
		contract.TaskQueue, opts.Conn.Address, opts.Conn.Namespace, ln.Addr())
	<-ctx.Done()
	return nil
}

// EnsureSearchAttributes adds passflow's search attributes to namespace
// when they are missing.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes of %s: %w", namespace, err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for _, name := range workflows.SearchAttributeNames {
		if _, ok := have.GetCustomAttributes()[name]; !ok {
			missing[name] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	}); err != nil {
		return fmt.Errorf("add search attributes %v to %s: %w", workflows.SearchAttributeNames, namespace, err)
	}
	return nil
}
