package activities

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the Prometheus series the activities maintain.
type Metrics struct {
	Applies  prometheus.Counter
	Reverts  prometheus.Counter
	Verdicts *prometheus.CounterVec
	Passes   *prometheus.CounterVec
	// Notifications counts notification delivery attempts by result: sent,
	// retried, failed (refused for good, or the last attempt).
	Notifications *prometheus.CounterVec
	// LastOutcome is the time (Unix seconds) of each target's last recorded
	// pass.
	LastOutcome *prometheus.GaugeVec
}

// NewMetrics creates the activity metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Applies: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "passflow_stage_applies_total", Help: "Canary stages applied.",
		}),
		Reverts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "passflow_stage_reverts_total", Help: "Canary stages undone by compensation.",
		}),
		Verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "passflow_stage_verdicts_total", Help: "Stage verdicts by verdict.",
		}, []string{"verdict"}),
		Passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "passflow_passes_total", Help: "Passes recorded, by target and outcome.",
		}, []string{"target", "outcome"}),
		Notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "passflow_notifications_total", Help: "Notification delivery attempts, by result (sent, retried, failed).",
		}, []string{"result"}),
		LastOutcome: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "passflow_last_outcome_timestamp_seconds", Help: "When each target's last pass was recorded (Unix seconds).",
		}, []string{"target"}),
	}
	reg.MustRegister(m.Applies, m.Reverts, m.Verdicts, m.Passes, m.Notifications, m.LastOutcome)
	return m
}
