// Package judge is `passflow judge`: the canary judge of package models run
// standalone on sample files, for retrospective analysis of a canary.
//
// Invariants: Run reads only the three files it is given and writes only to
// the writers it is given; it decides with models.Judge, so a verdict here is
// the verdict a pass would have reached on the same samples and rules.
package judge
