package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/webhook"
)

// Schedules keeps Temporal Schedules in a given state. Both calls are
// idempotent.
type Schedules interface {
	// Put creates the schedule, or updates it to in.
	Put(ctx context.Context, in contract.ScheduleInput) error
	// Delete removes the schedule; a missing one is no error.
	Delete(ctx context.Context, id string) error
}

// SyncSchedule puts a target's schedule in the state in asks for, or
// deletes it.
func (a *Activities) SyncSchedule(ctx context.Context, in contract.ScheduleInput) error {
	if a.Schedules == nil {
		return temporal.NewNonRetryableApplicationError("this worker has no schedule client", contract.ErrTypeNoSchedules, nil)
	}
	if in.Delete {
		return a.Schedules.Delete(ctx, in.ID)
	}
	return a.Schedules.Put(ctx, in)
}

// TemporalSchedules is Schedules on a Temporal cluster.
type TemporalSchedules struct{ Client client.Client }

// CatchupWindow is how late a missed run of a schedule may still start (a
// server that was down at 02:00 runs the 02:00 pass if it is back by 03:00).
const CatchupWindow = time.Hour

// Put implements Schedules. Runs that would overlap a running one are
// skipped: the tuner queues passes itself.
func (s TemporalSchedules) Put(ctx context.Context, in contract.ScheduleInput) error {
	spec := client.ScheduleSpec{CronExpressions: []string{in.Cron}, Jitter: in.Jitter, TimeZoneName: in.Timezone}
	action := &client.ScheduleWorkflowAction{
		ID: in.ID + "/run", Workflow: in.Workflow, TaskQueue: in.TaskQueue,
		Args: []any{map[string]string{"target": in.Target}},
	}
	h := s.Client.ScheduleClient().GetHandle(ctx, in.ID)
	err := h.Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(u client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			sch := u.Description.Schedule
			sch.Spec, sch.Action = &spec, action
			sch.Policy.Overlap = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP
			sch.Policy.CatchupWindow = CatchupWindow
			sch.State.Paused, sch.State.Note = in.Paused, in.Note
			return &client.ScheduleUpdate{Schedule: &sch}, nil
		},
	})
	var nf *serviceerror.NotFound
	if !errors.As(err, &nf) {
		if err != nil {
			return wrap(err, "update schedule %s", in.ID)
		}
		return nil
	}
	_, err = s.Client.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: in.ID, Spec: spec, Action: action, Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow: CatchupWindow, Paused: in.Paused, Note: in.Note,
	})
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create schedule %s: created concurrently; retrying updates it", in.ID)
	}
	if err != nil {
		return wrap(err, "create schedule %s", in.ID)
	}
	return nil
}

// Delete implements Schedules.
func (s TemporalSchedules) Delete(ctx context.Context, id string) error {
	err := s.Client.ScheduleClient().GetHandle(ctx, id).Delete(ctx)
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		return wrap(err, "delete schedule %s", id)
	}
	return nil
}

// Reconcile restores config on every cohort: it becomes the baseline for
// all traffic and any canary is removed.
func (a *Activities) Reconcile(ctx context.Context, in contract.ReconcileInput) (contract.ChangeResult, error) {
	_, act, err := a.connect(in.Target)
	if err != nil {
		return contract.ChangeResult{}, err
	}
	replaced, err := act.Change(ctx, Change{Key: in.Key, PassID: in.PassID, Action: webhook.ActionPromote, Config: in.Config})
	if err != nil {
		return contract.ChangeResult{}, wrap(err, "restore %s on %s after %s", in.Config, in.Target.Name, in.PassID)
	}
	if a.Metrics != nil {
		a.Metrics.Reverts.Inc()
	}
	return contract.ChangeResult{At: a.now(), Replaced: replaced.Config}, nil
}
