// Package campaign runs passflow's real workflows (TargetTuner and
// OptimizationPass, with the real activities) against a simulated world in
// the SDK's time-skipping test environment, pass after pass, and measures
// the loop against the world's ground truth.
//
// A campaign (Run) registers the world's target with a tuner (without its
// schedule), plays the schedule itself — a pass requested at World.Start,
// each next one at the first World.PassEvery tick after the previous pass
// ended — plays the operator, who answers a pass's approval as
// World.Operator says, and deletes the target after the last pass, which
// ends the tuner. Days of simulated time take seconds: time skips whenever
// no activity runs. RunAll runs many campaigns in parallel, one test
// environment each; Goals measures a batch against the goals;
// Command is `passflow simulate`; Demo is a short campaign to watch.
//
// Invariants:
//   - everything but Propose is passflow's own code, registered by package
//     workers: the random, hold and oracle policies replace Propose and
//     nothing else;
//   - the campaign learns what a pass did from the pass itself (its status
//     query while it runs, its final status when it ends) and from the
//     service's actuator state, never from its own guesses;
//   - the operator signals a pass only while the pass waits for an
//     approval (its status says so when the operator looks and again when
//     it answers);
//   - every figure is measured against World.Truth and World.Optimum on the
//     day the pass started; a stage's breach along the stage when the world
//     tells true values at an instant, else on its days' worst hours;
//   - the same world, options and seed give the same Result, but for its
//     wall time: nothing reads the wall clock or draws randomness outside
//     the seeded activities and the test environment's clock.
package campaign
