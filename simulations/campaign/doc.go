// Package campaign runs passflow's real workflows (TargetTuner and
// OptimizationPass, with the real activities) against a simulated world in
// the SDK's time-skipping test environment, pass after pass, and measures
// the loop against the world's ground truth.
package campaign
