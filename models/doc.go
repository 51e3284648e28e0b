// Package models holds passflow's decision math: the parameter space and its
// encoding to the unit cube, the optimizers behind the propose step (the
// Gaussian-process optimizer, GPOptimizer, and the random-search baseline it
// is measured against), the risk bands, the canary judge with its sequential
// checks and window sizing, and the error-budget math.
//
// Invariants: nothing here does I/O, reads the wall clock or imports Temporal;
// every function is deterministic given its inputs and an explicit seed, so the
// same history and seed always yield the same suggestion.
package models
