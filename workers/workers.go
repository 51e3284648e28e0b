// Package workers assembles a passflow worker: it registers the workflows and
// activities under their stable names on the task queue.
//
// Invariants: every workflow and activity is registered under the name its
// callers use (workflows.*Name, activities.*Name), never a Go function name.
package workers

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/workflows"
)

// RegisterWorkflows registers every workflow under its stable name with a
// worker, a replayer or a test environment.
func RegisterWorkflows(r interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}) {
	r.RegisterWorkflowWithOptions(workflows.OptimizationPass, workflow.RegisterOptions{Name: workflows.PassWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.TargetTuner, workflow.RegisterOptions{Name: workflows.TunerWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.ScheduledRequest, workflow.RegisterOptions{Name: workflows.ScheduledRequestWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.Notify, workflow.RegisterOptions{Name: workflows.NotifyWorkflowName})
}

// RegisterActivities registers every activity of a under its stable name.
func RegisterActivities(r interface {
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}, a *activities.Activities) {
	for name, fn := range map[string]any{
		contract.AnalyzeName: a.Analyze,
		contract.ProposeName: a.Propose,
		contract.NotifyName:  a.Notify,
		contract.ApplyName:   a.ApplyStage,
		contract.RevertName:  a.RevertStage,
		contract.CheckName:   a.Check,
		contract.VerifyName:  a.Verify,
		contract.PromoteName: a.Promote,
		contract.RecordName:  a.Record,

		contract.SyncScheduleName: a.SyncSchedule,
		contract.ReconcileName:    a.Reconcile,
	} {
		r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

// Options tune a worker.
type Options struct {
	// TaskQueue defaults to contract.TaskQueue.
	TaskQueue string
	// MaxConcurrentActivities and MaxConcurrentWorkflowTasks default to the SDK's.
	MaxConcurrentActivities    int
	MaxConcurrentWorkflowTasks int
}

// New returns a worker (not yet started) with everything registered.
func New(c client.Client, a *activities.Activities, opts Options) worker.Worker {
	tq := opts.TaskQueue
	if tq == "" {
		tq = contract.TaskQueue
	}
	w := worker.New(c, tq, worker.Options{
		MaxConcurrentActivityExecutionSize:     opts.MaxConcurrentActivities,
		MaxConcurrentWorkflowTaskExecutionSize: opts.MaxConcurrentWorkflowTasks,
	})
	RegisterWorkflows(w)
	RegisterActivities(w, a)
	return w
}
