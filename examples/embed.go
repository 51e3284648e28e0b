// Package examples ships the example targets inside the binary, so that
// `passflow dev --demo` runs from anywhere.
package examples

import _ "embed"

// DemoTarget is examples/targets/demo.yaml.
//
//go:embed targets/demo.yaml
var DemoTarget []byte
