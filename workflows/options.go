package workflows

import (
	"math"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/passflow/passflow/contract"
)

var nonRetryable = []string{contract.ErrTypeInvalidTarget, contract.ErrTypeInvalidChange}

// readCtx is for telemetry reads and checks, retried a few times. An
// attempt may make dozens of reads (analyze looks at each hour of a day per
// guardrail), each with its own timeout and retries against Prometheus: two
// minutes bound the attempt, not one read.
func readCtx(ctx workflow.Context, summary string) workflow.Context {
	return retried(ctx, summary, 2*time.Minute)
}

// writeCtx is for actuator calls and records: idempotent, so retried.
func writeCtx(ctx workflow.Context, summary string) workflow.Context {
	return retried(ctx, summary, time.Minute)
}

// retried runs an activity for at most startToClose an attempt, five
// attempts with exponential backoff, none for the non-retryable errors.
func retried(ctx workflow.Context, summary string, startToClose time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: startToClose,
		Summary:             summary,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
			MaximumAttempts: 5, NonRetryableErrorTypes: nonRetryable,
		},
	})
}

// proposeCtx is for the optimizer's fit: it may take seconds.
func proposeCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		Summary:             "propose a candidate",
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			MaximumAttempts: 3, NonRetryableErrorTypes: nonRetryable,
		},
	})
}

// undoCtx is for compensations: they must get through, so they retry for an
// hour before the pass gives up on one and reports it.
func undoCtx(ctx workflow.Context, summary string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: time.Hour,
		Summary:                summary,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: []string{contract.ErrTypeInvalidTarget},
		},
	})
}

func nan() float64 { return math.NaN() }
