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
	"github.com/passflow/passflow/workflows"
)

// TaskQueue is the task queue passes run on.
const TaskQueue = "passflow"

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
		activities.AnalyzeName: a.Analyze,
		activities.ProposeName: a.Propose,
		activities.NotifyName:  a.Notify,
		activities.ApplyName:   a.ApplyStage,
		activities.RevertName:  a.RevertStage,
		activities.CheckName:   a.Check,
		activities.VerifyName:  a.Verify,
		activities.PromoteName: a.Promote,
		activities.RecordName:  a.Record,

		activities.SyncScheduleName: a.SyncSchedule,
		activities.ReconcileName:    a.Reconcile,
	} {
		r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

// Options tune a worker.
type Options struct {
	// TaskQueue defaults to TaskQueue.
	TaskQueue string
	// MaxConcurrentActivities and MaxConcurrentWorkflowTasks default to the SDK's.
	MaxConcurrentActivities    int
	MaxConcurrentWorkflowTasks int
}

// New returns a worker (not yet started) with everything registered.
func New(c client.Client, a *activities.Activities, opts Options) worker.Worker {
	tq := opts.TaskQueue
	if tq == "" {
		tq = TaskQueue
	}
	w := worker.New(c, tq, worker.Options{
		MaxConcurrentActivityExecutionSize:     opts.MaxConcurrentActivities,
		MaxConcurrentWorkflowTaskExecutionSize: opts.MaxConcurrentWorkflowTasks,
	})
	RegisterWorkflows(w)
	RegisterActivities(w, a)
	return w
}
