// Package workflows holds the Temporal workflows of passflow; today the
// OptimizationPass, which takes one candidate configuration of one target
// from analysis to promotion or rollback.
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
//   - changes to the order of commands are versioned with workflow.GetVersion.
package workflows
