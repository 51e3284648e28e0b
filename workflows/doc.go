// Package workflows holds the Temporal workflows of passflow: the
// TargetTuner, one per registered target, which owns the target's spec,
// observation history, audit and queue and runs its passes one at a time;
// the OptimizationPass, its child, which takes one candidate configuration
// from analysis to promotion or rollback; and the ScheduledRequest a
// target's Temporal Schedule starts.
//
// Invariants:
//   - workflow code is deterministic: no I/O, no wall clock (workflow.Now
//     only), no randomness outside the SDK, no map iteration that decides an
//     order; expensive maths runs in activities;
//   - activities are called by their stable names (package activities'
//     *Name constants), whose payload types this package imports; it imports
//     nothing of activities that does I/O;
//   - every stage applied is undone on failure, cancellation or timeout, in
//     reverse order, on a disconnected context, before the pass records its
//     outcome;
//   - a target has at most one pass running and one queued: passes start
//     only in its tuner, as children with IDs pass/<target>/<n>;
//   - a pass that ends without its own cleanup is reconciled by its tuner,
//     which restores the last promoted configuration;
//   - requests refused by a validator write nothing to a tuner's history,
//     so storms of requests or alerts cannot grow it;
//   - changes to the order of commands are versioned with workflow.GetVersion.
package workflows
