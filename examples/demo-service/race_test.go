//go:build race

package main

// raceEnabled: the race detector slows instrumented Go code (fill) and not
// assembly (sha256), so measured compute is not what it is in production.
const raceEnabled = true
