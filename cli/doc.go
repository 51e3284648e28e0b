// Package cli is what passflow's commands do beyond their flags, which
// cmd/passflow parses and wires: `passflow judge` (Judge), `passflow
// optimize` (Optimize), and the tables the operator commands print
// (PrintTargets, PrintState, PrintHistory, PrintApprovals, PrintAudit).
//
// Judge runs the canary judge of package models/judge standalone on sample
// files, for the retrospective analysis of a canary; it decides with
// judge.Judge, so its verdict is the one a pass would have reached on the
// same samples and rules.
//
// Optimize runs passflow's Bayesian optimizer (models/bo) as a JSON-Lines
// ask/tell loop over standard input and output, so that a program in any
// language can tune its knobs with it. The loop writes one line per trial,
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
// and returns ExitOK. A bad space file, a malformed line or an answer to a
// trial it is not waiting for is reported on standard error, naming the file
// and field or the line number, and it returns ExitBadInput.
//
// Invariants: Judge reads only the three files it is given; every command
// writes only to the writers it is given; Optimize tells every answer to the
// optimizer before it asks the next trial, and flushes its output before it
// reads input, so the caller never waits on buffered lines.
package cli

// The exit codes of the commands.
const (
	ExitOK       = 0 // judge: the verdict is pass; optimize: the budget was spent or the input ended
	ExitFail     = 1 // judge: the verdict is marginal or fail; optimize: the optimizer failed
	ExitBadInput = 2 // a file, option or input line is missing or malformed
)
