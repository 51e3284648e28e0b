package actuators

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/webhook"
)

// What the actuators share: configurations as JSON and YAML carry them,
// read back keeping the target's knobs only, and one classification of
// failures.

// toMap is a configuration as JSON carries it: numbers and strings.
func toMap(c models.Config) map[string]any {
	if c == nil {
		return nil
	}
	m := make(map[string]any, len(c))
	for k, v := range c {
		if v.IsStr() {
			m[k] = v.String()
		} else {
			m[k] = v.Float()
		}
	}
	return m
}

// knobs reads configurations back from a program's answer or a file,
// keeping the target's knobs only, as the webhook actuator does: a service
// may have more.
type knobs struct{ names []string }

func newKnobs(params models.Space) knobs {
	var k knobs
	for _, p := range params {
		k.names = append(k.names, p.Name)
	}
	return k
}

// changeBody is the JSON of ch as the webhook receives it in its POST and
// a command program on its standard input.
func changeBody(target string, ch activities.Change) ([]byte, error) {
	return json.Marshal(webhook.Change{PassID: ch.PassID, Target: target, Stage: ch.Stage, Percent: ch.Percent,
		Config: toMap(ch.Config), Key: ch.Key, Action: ch.Action})
}

// replaced reads a webhook receiver's or a program's answer to a change.
func (k knobs) replaced(r webhook.ChangeReply) (activities.Replaced, error) {
	if math.IsNaN(r.Percent) || r.Percent < 0 || r.Percent > 100 {
		return activities.Replaced{}, fmt.Errorf("percent: expected the canary's share of the traffic before the change, in [0, 100], got %v", r.Percent)
	}
	c, err := k.config(r.Replaced, false)
	if err != nil {
		return activities.Replaced{}, err
	}
	return activities.Replaced{Config: c, Percent: r.Percent}, nil
}

// config reads m, each value a number or a string (YAML's integers and
// booleans too); whole requires every knob of the target.
func (k knobs) config(m map[string]any, whole bool) (models.Config, error) {
	if m == nil {
		return nil, nil
	}
	c := make(models.Config, len(k.names))
	var missing []string
	for _, name := range k.names {
		raw, ok := m[name]
		if !ok || raw == nil {
			missing = append(missing, name)
			continue
		}
		v, ok := value(raw)
		if !ok {
			return nil, fmt.Errorf("configuration: %s: expected a finite number or a string, got %v", name, raw)
		}
		c[name] = v
	}
	if whole && len(missing) > 0 {
		return nil, fmt.Errorf("the service's configuration has no %s, which the target tunes", strings.Join(missing, ", "))
	}
	return c, nil
}

// value reads one knob's value as JSON or YAML decoded it.
func value(raw any) (models.Value, bool) {
	var f float64
	switch x := raw.(type) {
	case string:
		return models.Str(x), true
	case bool: // as models.Value reads YAML
		return models.Str(fmt.Sprint(x)), true
	case float64:
		f = x
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint64:
		f = float64(x)
	default:
		return models.Value{}, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return models.Value{}, false
	}
	return models.Num(f), true
}

// classify turns an actuator's failure into the activity's error: one that
// says it is not worth retrying (a webhook refusal, a program's lasting
// failure, a malformed file) becomes a non-retryable InvalidChange; any
// other stays retryable.
func classify(what string, err error) error {
	var r interface{ Retryable() bool }
	if errors.As(err, &r) && !r.Retryable() {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v", what, err), contract.ErrTypeInvalidChange, nil)
	}
	return fmt.Errorf("%s: %w", what, err)
}
