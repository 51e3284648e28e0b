// Package validatetest holds the cases of the validators of package models,
// shared by the tests of every entry point that validates the same concept
// (a target file, a space file, the optimizer), so that each rule is tested
// once per entry point from one table.
package validatetest

import (
	"math"

	"github.com/passflow/passflow/models"
)

// ConstraintCase is one invalid list of constraints and the problem it
// must raise.
type ConstraintCase struct {
	Name        string
	Constraints []models.Constraint
	// Field is the offending field, relative to the list ("constraints[1].metric").
	Field string
	// Want is a part of the message.
	Want string
}

// Constraints are the cases of models.ValidateConstraints.
var Constraints = []ConstraintCase{
	{"no metric", []models.Constraint{{Max: f(1)}}, "constraints[0].metric", "expected a metric name"},
	{"blank metric", []models.Constraint{{Metric: " ", Max: f(1)}}, "constraints[0].metric", "expected a metric name"},
	{"duplicate metric", []models.Constraint{{Metric: "lat", Max: f(1)}, {Metric: "lat", Min: f(0)}}, "constraints[1].metric", `duplicate metric "lat"`},
	{"no bound", []models.Constraint{{Metric: "lat"}}, "constraints[0]", "expected a bound"},
	{"infinite max", []models.Constraint{{Metric: "lat", Max: f(math.Inf(1))}}, "constraints[0].max", "finite"},
	{"NaN min", []models.Constraint{{Metric: "lat", Min: f(math.NaN())}}, "constraints[0].min", "finite"},
	{"min above max", []models.Constraint{{Metric: "lat", Min: f(2), Max: f(1)}}, "constraints[0].max", "expected max > min"},
	{"min equal to max", []models.Constraint{{Metric: "lat", Min: f(1), Max: f(1)}}, "constraints[0].max", "expected max > min"},
	{"negative margin", []models.Constraint{{Metric: "lat", Max: f(1), Margin: -0.1}}, "constraints[0].margin", "expected a margin"},
	{"whole margin", []models.Constraint{{Metric: "lat", Max: f(1), Margin: 1}}, "constraints[0].margin", "expected a margin"},
}

// ValidConstraints are constraints every entry point accepts.
var ValidConstraints = []models.Constraint{
	{Metric: "lat", Max: f(250), Margin: 0.1},
	{Metric: "hit_ratio", Min: f(0.9)},
	{Metric: "cpu", Min: f(0.1), Max: f(0.8)},
}

// RegionCase is one invalid trust-region shape and the problem it must
// raise. None uses 0, which a target reads as "the default".
type RegionCase struct {
	Name           string
	MaxStep, Delta float64
	// Field is "max_step" or "delta".
	Field string
	Want  string
}

// Regions are the cases of models.TrustRegion.Validate.
var Regions = []RegionCase{
	{"negative max step", -0.1, 0.05, "max_step", "expected max_step in (0, 1]"},
	{"max step past 1", 1.5, 0.05, "max_step", "expected max_step in (0, 1]"},
	{"NaN max step", math.NaN(), 0.05, "max_step", "expected max_step in (0, 1]"},
	{"negative delta", 0.25, -0.01, "delta", "expected delta in (0, 0.5]"},
	{"delta past one half", 0.25, 0.6, "delta", "expected delta in (0, 0.5]"},
}

func f(v float64) *float64 { return &v }
