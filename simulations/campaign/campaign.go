package campaign

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/simulations"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workers"
	"github.com/passflow/passflow/workflows"
)

// DefaultPasses is how many passes a campaign runs when its options say
// none.
const DefaultPasses = 30

// Options configure one campaign.
type Options struct {
	// Passes is how many passes the campaign requests (DefaultPasses when 0).
	Passes int
	// Seed draws the world's service (its noise and faults) and truth, and
	// salts every optimizer seed (Activities.SeedSalt): campaigns with
	// different seeds are independent runs, the same seed repeats one.
	Seed uint64
	// Policy is how the passes choose their candidates (PolicyGP when
	// empty).
	Policy Policy
	// Progress, when set, is called with each pass once it has ended, in
	// order, on the goroutine that runs the campaign.
	Progress func(Pass)
}

// The campaign's timing in simulated time.
const (
	// leadIn is how long before the world's Start the tuner starts; the
	// target is registered one second in, and the first pass requested at
	// Start.
	leadIn = time.Minute
	// idleTimeout is how long the test environment waits, in wall time, for
	// an activity with nothing else to do: far more than the optimizer's
	// fit takes, so that only a stuck campaign reaches it.
	idleTimeout = 10 * time.Minute
)

// The names the campaign acts under.
const (
	requester = "campaign"
	answerWhy = "simulated operator"
)

// Run runs one campaign: the real TargetTuner and OptimizationPass
// workflows, with the real activities (the Propose of opts.Policy aside),
// in the SDK's time-skipping test environment, against world's simulated
// service on the environment's clock. It registers world's target (without
// its schedule), requests opts.Passes passes with trigger schedule — the
// first at world.Start(), each next one at the first World.PassEvery() tick
// after the previous pass ended — answers approvals as world.Operator()
// says, deletes the target once the last pass has ended, and measures each
// pass against world's truth.
//
// A campaign takes seconds of wall time for days of simulated time. The
// same world, options and seed give the same Result (but its Wall).
func Run(ctx context.Context, world simulations.World, opts Options) (res Result, err error) {
	if opts.Passes == 0 {
		opts.Passes = DefaultPasses
	}
	if opts.Policy == "" {
		opts.Policy = PolicyGP
	}
	op := fmt.Sprintf("campaign %s/%s/%d", world.Name(), opts.Policy, opts.Seed)
	switch {
	case opts.Passes < 0:
		return Result{}, fmt.Errorf("%s: passes: expected a number >= 1, got %d", op, opts.Passes)
	case !opts.Policy.Valid():
		return Result{}, fmt.Errorf("%s: unknown policy %q: expected one of %v", op, opts.Policy, Policies())
	case world.PassEvery() <= 0:
		return Result{}, fmt.Errorf("%s: the world's pass interval must be > 0, got %s", op, world.PassEvery())
	}
	wall := time.Now()
	c, err := newCampaign(ctx, world, opts)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", op, err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: the test environment gave up: %v", op, r)
		}
	}()
	c.run()
	c.res.Wall = time.Since(wall)
	c.res.Summary = summarize(c.res)
	switch werr := c.env.GetWorkflowError(); {
	case c.err != nil:
		return c.res, fmt.Errorf("%s: %w", op, c.err)
	case werr != nil:
		return c.res, fmt.Errorf("%s: the tuner failed: %w", op, werr)
	case len(c.res.Passes) != opts.Passes:
		return c.res, fmt.Errorf("%s: the tuner ended after %d passes of %d", op, len(c.res.Passes), opts.Passes)
	}
	return c.res, nil
}

// campaign is one run of Run. Its methods run on the test environment's
// main loop (delayed callbacks and listeners), one at a time.
type campaign struct {
	ctx   context.Context
	world simulations.World
	spec  target.Spec // as registered
	opts  Options
	env   *testsuite.TestWorkflowEnvironment
	svc   simulations.SimulatedService
	oper  simulations.Operator

	res       Result
	incumbent models.Config     // the service's baseline after the last pass
	byID      map[string]int    // pass ID → the number of its request
	requested map[int]time.Time // request number → when
	asked     map[string]bool   // passes seen waiting for an approval
	answers   map[string]string // passes answered → the answer
	tick      int               // index of the last schedule tick used
	ended     bool              // the target's deletion was sent
	err       error             // the first error; it ends the campaign
}

// newCampaign builds the test environment, the world's service and the
// activities, and measures where the campaign starts.
func newCampaign(ctx context.Context, world simulations.World, opts Options) (*campaign, error) {
	spec := Registered(world.Target())
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(world.Start().Add(-leadIn))
	env.SetTestTimeout(idleTimeout)
	svc, err := world.NewService(opts.Seed, env.Now)
	if err != nil {
		return nil, fmt.Errorf("start the world's service: %w", err)
	}
	c := &campaign{ctx: ctx, world: world, spec: spec, opts: opts, env: env, svc: svc, oper: world.Operator(),
		byID: map[string]int{}, requested: map[int]time.Time{}, asked: map[string]bool{}, answers: map[string]string{},
		tick: -1}
	c.res = Result{Scenario: world.Name(), Policy: opts.Policy, Seed: opts.Seed, Goal: spec.Objective.Goal,
		Limits: spec.Constraints, Objective: spec.Objective.Metric, Passes: []Pass{}}

	if c.incumbent, err = svc.Baseline(context.Background()); err != nil {
		return nil, fmt.Errorf("read the initial configuration: %w", err)
	}
	start := world.Start()
	initial, err := c.truth(c.incumbent, start)
	if err != nil {
		return nil, err
	}
	opt, err := c.optimum(start)
	if err != nil {
		return nil, err
	}
	c.res.Initial, c.res.InitialGap = initial.Objective, Gap(spec.Objective.Goal, initial.Objective, opt.Objective)
	c.res.InitialBreach = Breach(spec.Constraints, initial)

	workers.RegisterWorkflows(env)
	workers.RegisterActivities(proposeSwap{env, c.proposeOf()}, &activities.Activities{
		Connector: activities.ConnectorFunc(c.connect),
		Schedules: noSchedules{},
		Now:       env.Now,
		SeedSalt:  opts.Seed,
	})
	env.SetOnActivityCompletedListener(c.activityDone)
	env.SetOnChildWorkflowCompletedListener(c.passDone)
	return c, nil
}

// Registered returns spec as a campaign registers it: without its
// schedule, since the campaign's simulated scheduler requests the passes
// (and the test environment has no Temporal Schedules).
func Registered(spec target.Spec) target.Spec {
	spec.Triggers.Schedule, spec.Triggers.Jitter = "", 0
	return spec
}

// connect connects the registered target, and only it, to the world's
// service.
func (c *campaign) connect(spec target.Spec) (activities.TelemetrySource, activities.Actuator, error) {
	if spec.Name != c.spec.Name {
		return nil, nil, fmt.Errorf("campaign: target %s is not this campaign's (%s)", spec.Name, c.spec.Name)
	}
	return c.svc, c.svc, nil
}

// run runs the tuner to its end: the registration a second in, the first
// request at the world's start; the rest follows from the listeners.
func (c *campaign) run() {
	c.env.RegisterDelayedCallback(c.register, time.Second)
	c.env.RegisterDelayedCallback(c.request, c.world.Start().Sub(c.env.Now()))
	// A tuner that never continues as new: a campaign is one run.
	c.env.ExecuteWorkflow(workflows.TunerWorkflowName, workflows.TunerInput{
		Name: c.spec.Name, Settings: workflows.TunerSettings{MaxEvents: 1 << 30}})
}

// register registers the target, as `passflow targets apply` would.
func (c *campaign) register() {
	c.update(workflows.RegisterUpdate, "register", workflows.RegisterInput{Spec: c.spec, Source: "campaign", By: requester},
		func(any) {}, func(err error) { c.fail(fmt.Errorf("register %s: %w", c.spec.Name, err)) })
}

// request requests the next pass, as the target's schedule would.
func (c *campaign) request() {
	if c.ended {
		return
	}
	if err := c.ctx.Err(); err != nil {
		c.fail(err)
		return
	}
	n := len(c.res.Passes) + 1
	now := c.env.Now()
	c.requested[n] = now
	req := workflows.PassRequest{Trigger: workflows.TriggerSchedule, RequestedBy: requester,
		Reason: fmt.Sprintf("simulated schedule: pass %d of %d", n, c.opts.Passes)}
	c.update(workflows.RequestPassUpdate, fmt.Sprintf("request-%d", n), req, func(v any) {
		reply, _ := v.(workflows.RequestReply)
		if reply.PassID != "" && (reply.Status == workflows.ReplyStarted || reply.Status == workflows.ReplyQueued) {
			c.byID[reply.PassID] = n
			return
		}
		// No pass of its own (skipped in a freeze): the request is a pass
		// that changed nothing.
		p, err := c.unchanged(n, now, fmt.Sprintf("%s: %s", reply.Status, reply.Reason))
		if err != nil {
			c.fail(err)
			return
		}
		c.add(p)
	}, func(err error) { c.fail(fmt.Errorf("request pass %d: %w", n, err)) })
}

// update sends an update to the tuner; done gets its result, failed its
// refusal or error.
func (c *campaign) update(name, id string, arg any, done func(any), failed func(error)) {
	c.env.UpdateWorkflow(name, id, &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: failed,
		OnComplete: func(v any, err error) {
			if err != nil {
				failed(err)
				return
			}
			done(v)
		},
	}, arg)
}

// add records pass p and requests the next pass, or ends the campaign.
func (c *campaign) add(p Pass) {
	c.res.Passes = append(c.res.Passes, p)
	if c.opts.Progress != nil {
		c.opts.Progress(p)
	}
	if len(c.res.Passes) >= c.opts.Passes {
		c.end()
		return
	}
	c.env.RegisterDelayedCallback(c.request, c.nextTick().Sub(c.env.Now()))
}

// nextTick returns the first schedule tick (world.Start() + k·PassEvery())
// at or after now that no request has used yet.
func (c *campaign) nextTick() time.Time {
	start, every := c.world.Start(), c.world.PassEvery()
	k := 0
	if since := c.env.Now().Sub(start); since > 0 {
		k = int((since + every - 1) / every)
	}
	k = max(k, c.tick+1)
	c.tick = k
	return start.Add(time.Duration(k) * every)
}

// end deletes the target: the tuner ends once its running pass has.
func (c *campaign) end() {
	if c.ended {
		return
	}
	c.ended = true
	c.update(workflows.DeleteUpdate, "delete", workflows.DeleteInput{By: requester, Reason: "the campaign is over"},
		func(any) {}, func(err error) {
			c.fail(fmt.Errorf("delete %s at the end of the campaign: %w", c.spec.Name, err))
			c.env.CancelWorkflow()
		})
}

// fail keeps the campaign's first error and ends it.
func (c *campaign) fail(err error) {
	if c.err == nil {
		c.err = err
	}
	c.end()
}

// activityDone is the operator's cue: once a pass has proposed, it may be
// waiting for an approval.
func (c *campaign) activityDone(info *activity.Info, _ converter.EncodedValue, err error) {
	if err != nil || info.ActivityType.Name != contract.ProposeName {
		return
	}
	id := info.WorkflowExecution.ID
	// The pass assesses its candidate and starts its wait in the workflow
	// task that this completion starts; the callback runs after it.
	c.env.RegisterDelayedCallback(func() { c.look(id) }, 0)
}

// look is the operator looking at a pass that has proposed: if it waits
// for an approval, the operator answers after Operator.After (or never).
func (c *campaign) look(id string) {
	st, err := c.status(id)
	if err != nil || st.Step != workflows.StepApproval {
		return
	}
	c.asked[id] = true
	switch c.oper.Answer {
	case simulations.AnswerApprove, simulations.AnswerReject:
		c.env.RegisterDelayedCallback(func() { c.answer(id) }, max(c.oper.After, 0))
	}
}

// answer sends the operator's answer to a pass that still waits for it.
func (c *campaign) answer(id string) {
	if st, err := c.status(id); err != nil || st.Step != workflows.StepApproval {
		return
	}
	a := workflows.Approval{Approver: c.oper.Approver, Approved: c.oper.Answer == simulations.AnswerApprove, Reason: answerWhy}
	refused := func(err error) { c.fail(fmt.Errorf("answer the approval of %s: %w", id, err)) }
	if err := c.env.UpdateWorkflowByID(id, workflows.ApprovalUpdate, id+"/answer", &testsuite.TestUpdateCallback{
		OnAccept: func() {}, OnReject: refused,
		OnComplete: func(_ any, err error) {
			if err != nil {
				refused(err)
			}
		},
	}, a); err != nil {
		refused(err)
		return
	}
	c.answers[id] = c.oper.Answer
}

// status queries a running pass's status.
func (c *campaign) status(id string) (workflows.PassStatus, error) {
	var st workflows.PassStatus
	v, err := c.env.QueryWorkflowByID(id, workflows.StatusQuery)
	if err == nil {
		err = v.Get(&st)
	}
	return st, err
}

// passDone measures a pass that has ended, before its tuner goes on.
func (c *campaign) passDone(info *workflow.Info, result converter.EncodedValue, err error) {
	id := info.WorkflowExecution.ID
	n, ok := c.byID[id]
	if !ok {
		return
	}
	delete(c.byID, id)
	st := passStatus(result, err)
	p, merr := c.measure(n, id, st, err)
	if merr != nil {
		c.fail(merr)
		return
	}
	c.add(p)
}

// passStatus is a pass's final status: its result, or the details of its
// error (as the tuner reads them); empty when it ended without its own
// cleanup.
func passStatus(result converter.EncodedValue, err error) workflows.PassStatus {
	var st workflows.PassStatus
	var canceled *temporal.CanceledError
	var app *temporal.ApplicationError
	switch {
	case err == nil && result != nil && result.HasValue():
		_ = result.Get(&st)
	case errors.As(err, &canceled) && canceled.HasDetails():
		_ = canceled.Details(&st)
	case errors.As(err, &app) && app.Type() == workflows.ErrTypePassFailed && app.HasDetails():
		_ = app.Details(&st)
	}
	return st
}

// noSchedules stands in for Temporal Schedules: a campaign's target has
// none (Registered strips it), so the only call is the deletion of an
// absent one.
type noSchedules struct{}

func (noSchedules) Put(ctx context.Context, in contract.ScheduleInput) error {
	return fmt.Errorf("campaign: no Temporal Schedules in a simulated campaign (asked to put %s)", in.ID)
}

func (noSchedules) Delete(ctx context.Context, id string) error { return nil }
