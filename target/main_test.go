package target_test

// Package simulations registers its built-in surfaces (the "web" model that
// a target's simulator telemetry defaults to) with package target when it is
// linked, as every passflow binary links it: the tests link it too.
import _ "github.com/passflow/passflow/simulations"
