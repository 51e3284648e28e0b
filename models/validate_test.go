package models_test

import (
	"strings"
	"testing"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/models/validatetest"
)

func TestValidateConstraints(t *testing.T) {
	for _, tt := range validatetest.Constraints {
		t.Run(tt.Name, func(t *testing.T) {
			errs := models.ValidateConstraints("constraints", tt.Constraints)
			if len(errs) != 1 || errs[0].Field != tt.Field || !strings.Contains(errs[0].Msg, tt.Want) {
				t.Errorf("got %v, want one problem at %s mentioning %q", errs, tt.Field, tt.Want)
			}
		})
	}
	if errs := models.ValidateConstraints("constraints", validatetest.ValidConstraints); len(errs) > 0 {
		t.Errorf("valid constraints: %v", errs)
	}
}

func TestTrustRegionValidate(t *testing.T) {
	for _, tt := range validatetest.Regions {
		t.Run(tt.Name, func(t *testing.T) {
			errs := models.TrustRegion{MaxStep: tt.MaxStep, Delta: tt.Delta}.Validate()
			if len(errs) != 1 || errs[0].Field != tt.Field || !strings.Contains(errs[0].Msg, tt.Want) {
				t.Errorf("got %v, want one problem at %s mentioning %q", errs, tt.Field, tt.Want)
			}
		})
	}
	for _, r := range []models.TrustRegion{{MaxStep: 1, Delta: 0.5}, {MaxStep: 0.01}, {MaxStep: 0.25, Delta: 0.05}} {
		if errs := r.Validate(); len(errs) > 0 {
			t.Errorf("%+v: %v", r, errs)
		}
	}
}
