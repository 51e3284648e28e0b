// Package optimize runs passflow's Bayesian optimizer as a JSON-Lines
// ask/tell loop over standard input and output (`passflow optimize`), so
// that a program in any language can tune its knobs with it.
//
// The loop writes one line per trial,
//
//	{"trial": 0, "params": {"x1": 1.25, "x2": 7.5}}
//
// (with Batch q, q lines before it reads their results) and reads one line
// per trial in answer, in any order among the trials it is waiting for,
//
//	{"trial": 0, "value": 12.5, "constraints": {"c": 0.2}}
//	{"trial": 1, "failed": true}
//
// After Budget answers, or at the end of the input, it writes the best trial,
//
//	{"best": {"trial": 7, "params": {...}, "value": 0.41}}
//
// and returns 0. A bad space file, a malformed line or an answer to a trial
// it is not waiting for is reported on standard error, naming the file and
// field or the line number, and Run returns 2.
//
// Invariants: every answer is told to the optimizer before the next trial is
// asked; output is flushed before input is read, so the caller never waits
// on buffered lines.
package optimize
