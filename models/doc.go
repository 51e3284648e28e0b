// Package models holds passflow's decision math: the parameter space and its
// encoding to the unit cube, the optimizers behind the propose step (a
// random-search baseline and, later, the Gaussian-process optimizer), the risk
// bands and the canary verification rules.
//
// Invariants: nothing here does I/O, reads the wall clock or imports Temporal;
// every function is deterministic given its inputs and an explicit seed, so the
// same history and seed always yield the same suggestion.
package models
