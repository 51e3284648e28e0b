package app

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/actuators"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/telemetry"
)

// NewRealServices returns the connector of the targets that are not
// simulated (see realServices); simulations.NewConnector takes it as its
// fallback.
func NewRealServices() activities.Connector { return &realServices{} }

// realServices connects the targets that are not simulated: Prometheus
// telemetry and the webhook, command and file actuators. It keeps one
// client pair per target, so
// that activities reuse their connections, and builds a new pair when the
// target's telemetry or actuator block changes.
type realServices struct {
	mu    sync.Mutex
	conns map[string]realConn
}

type realConn struct {
	blocks string // the telemetry and actuator blocks the pair was built from, as JSON
	tel    activities.TelemetrySource
	act    activities.Actuator
}

// Connect implements activities.Connector.
func (r *realServices) Connect(spec target.Spec) (activities.TelemetrySource, activities.Actuator, error) {
	blocks, err := json.Marshal([]any{spec.Telemetry, spec.Actuator})
	if err != nil {
		return nil, nil, fmt.Errorf("target %s: %w", spec.Name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.conns[spec.Name]; ok && c.blocks == string(blocks) {
		return c.tel, c.act, nil
	}
	if spec.Telemetry.Prometheus == nil {
		return nil, nil, fmt.Errorf("target %s: telemetry: expected prometheus or simulator", spec.Name)
	}
	tel, err := telemetry.NewPrometheus(spec)
	if err != nil {
		return nil, nil, err
	}
	var act activities.Actuator
	switch a := spec.Actuator; {
	case a.Webhook != nil:
		if act, err = actuators.NewWebhook(spec); err != nil {
			return nil, nil, err
		}
	case a.Command != nil:
		if act, err = actuators.NewCommand(spec); err != nil {
			return nil, nil, err
		}
	case a.File != nil:
		if act, err = actuators.NewFile(spec); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, fmt.Errorf("target %s: actuator: expected webhook, command, file or simulator", spec.Name)
	}
	if r.conns == nil {
		r.conns = map[string]realConn{}
	}
	r.conns[spec.Name] = realConn{blocks: string(blocks), tel: tel, act: act}
	return tel, act, nil
}
