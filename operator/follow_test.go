package operator

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/passflow/passflow/workflows"
)

// followClient answers Follow's calls for one pass: queries fail with the
// errors in queryErrs first, then return the statuses in turn; the pass
// runs until the last status has been queried.
type followClient struct {
	client.Client // only the methods below are called
	queryErrs     []error
	statuses      []workflows.PassStatus
	queried       int
}

func (f *followClient) DescribeWorkflowExecution(context.Context, string, string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	st := enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	if f.queried >= len(f.statuses)-1 {
		st = enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{Status: st}}, nil
}

func (f *followClient) QueryWorkflow(context.Context, string, string, string, ...any) (converter.EncodedValue, error) {
	if len(f.queryErrs) > 0 {
		err := f.queryErrs[0]
		f.queryErrs = f.queryErrs[1:]
		return nil, err
	}
	st := f.statuses[min(f.queried, len(f.statuses)-1)]
	f.queried++
	return jsonValue{st}, nil
}

// jsonValue is a query's result.
type jsonValue struct{ v any }

func (j jsonValue) HasValue() bool { return true }

func (j jsonValue) Get(ptr any) error {
	raw, err := json.Marshal(j.v)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, ptr)
}

// TestFollowRidesOutPassingFailures: a status query that times out, as
// when the worker holding the pass has just died, is tried again, once
// noted; the follower still sees the pass to its end. Any other error
// ends the follow.
func TestFollowRidesOutPassingFailures(t *testing.T) {
	snaps := snapshots()
	c := &followClient{statuses: snaps, queryErrs: []error{
		serviceerror.NewDeadlineExceeded("context deadline exceeded"),
		serviceerror.NewUnavailable("frontend restarting"),
	}}
	var out strings.Builder
	st, err := Follow(context.Background(), c, "p1", &out, time.Millisecond)
	if err != nil || st.Outcome != workflows.OutcomeRolledBack {
		t.Fatalf("Follow: %s, %v; want the pass's end, rolled back", st.Outcome, err)
	}
	if n := strings.Count(out.String(), "retrying"); n != 1 {
		t.Errorf("%d retry notes in\n%s\nwant one", n, out.String())
	}

	bad := errors.New("permission denied")
	c = &followClient{statuses: snaps, queryErrs: []error{bad}}
	if _, err := Follow(context.Background(), c, "p1", &out, time.Millisecond); !errors.Is(err, bad) {
		t.Errorf("Follow with a lasting error: %v, want it returned", err)
	}
}
