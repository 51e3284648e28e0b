package simulations

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/target"
)

// Connector connects targets whose telemetry and actuator are both the
// simulator to their simulated Service (one per target name, kept for the
// connector's life) and hands every other target to a fallback connector.
// It implements activities.Connector and is safe for concurrent use.
type Connector struct {
	opts     Options
	fallback activities.Connector

	mu       sync.Mutex
	services map[string]connected
}

// connected is a service and the fingerprint of the spec it was built from.
type connected struct {
	fingerprint string
	service     *Service
}

var _ activities.Connector = (*Connector)(nil)

// NewConnector returns a connector that builds simulated services with opts
// and sends targets that are not simulated to fallback; a nil fallback makes
// them an error.
func NewConnector(opts Options, fallback activities.Connector) *Connector {
	return &Connector{opts: opts, fallback: fallback, services: map[string]connected{}}
}

// Simulated reports whether spec's telemetry or actuator is the simulator.
func Simulated(spec target.Spec) bool {
	return spec.Telemetry.Simulator != nil || spec.Actuator.Simulator != nil
}

// Connect returns the simulated service of spec as both its telemetry
// source and its actuator, or what the fallback returns for a target that is
// not simulated. A target that simulates only one of the two is an error.
//
// The service is cached by target name. When the same name comes back with
// different parameters or simulator settings, a new service replaces the
// cached one and continues its timeline (the same event log).
func (c *Connector) Connect(spec target.Spec) (activities.TelemetrySource, activities.Actuator, error) {
	switch {
	case spec.Telemetry.Simulator != nil && spec.Actuator.Simulator != nil:
	case Simulated(spec):
		return nil, nil, fmt.Errorf("simulations: connect %s: telemetry and actuator must both use the simulator", spec.Name)
	case c.fallback != nil:
		return c.fallback.Connect(spec)
	default:
		return nil, nil, fmt.Errorf("simulations: target %s does not use the simulator", spec.Name)
	}
	fp, err := fingerprint(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("simulations: connect %s: %w", spec.Name, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.services[spec.Name]
	if ok && old.fingerprint == fp {
		return old.service, old.service, nil
	}
	var prior []Event
	if ok {
		prior = old.service.Applied()
	}
	s, err := newService(spec, c.opts, prior)
	if err != nil {
		return nil, nil, err
	}
	c.services[spec.Name] = connected{fingerprint: fp, service: s}
	return s, s, nil
}

// Service returns the simulated service connected for target name, if any.
func (c *Connector) Service(name string) (*Service, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.services[name]
	return s.service, ok
}

// fingerprint identifies what a simulated service is built from.
func fingerprint(spec target.Spec) (string, error) {
	b, err := json.Marshal(struct {
		Params    any
		Simulator any
	}{spec.Params, spec.Telemetry.Simulator})
	return string(b), err
}
