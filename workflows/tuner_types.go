package workflows

import (
	"fmt"
	"time"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
)

// Stable names of the TargetTuner workflow, its handlers, and the workflow
// a target's schedule starts.
const (
	TunerWorkflowName = "passflow.TargetTuner"
	// ScheduledRequestWorkflowName is the workflow a target's Temporal
	// Schedule starts at each run; it asks the tuner for a pass.
	ScheduledRequestWorkflowName = "passflow.ScheduledRequest"

	// RegisterUpdate registers a target's spec, or updates it (RegisterInput
	// → RegisterResult).
	RegisterUpdate = "register"
	// RequestPassUpdate asks for a pass (PassRequest → RequestReply).
	RequestPassUpdate = "request_pass"
	// RequestPassSignal is the same request without a reply, for senders
	// that cannot wait for one (the scheduled-request workflow).
	RequestPassSignal = "request_pass"
	// PauseUpdate pauses or resumes the target (PauseInput → PauseResult).
	PauseUpdate = "pause"
	// DeleteUpdate deletes the target (DeleteInput → DeleteResult).
	DeleteUpdate = "delete"
	// StateQuery returns the tuner's TunerState (StateOptions → TunerState;
	// without options, the state without its observation history).
	StateQuery = "state"
	// AlertSignal delivers an alert about the target to its running pass.
	AlertSignal = "alert"
	// CanarySignal tells a pass's tuner that the pass applied its first
	// stage (CanaryStarted): from then on an alert that starts may concern
	// its change.
	CanarySignal = "canary"
)

// CanaryStarted says when a pass applied its first canary stage; the pass
// sends it to its tuner as the CanarySignal.
type CanaryStarted struct {
	PassID string    `json:"pass_id"`
	At     time.Time `json:"at"`
}

// Error types of the tuner's refusals (non-retryable application errors).
const (
	ErrTypeNotRegistered  = "TargetNotRegistered"
	ErrTypePaused         = "TargetPaused"
	ErrTypeDeleted        = "TargetDeleted"
	ErrTypeInvalidRequest = "InvalidRequest"
	// ErrTypeCoalesced refuses an alert's request inside the target's
	// cooldown (the pass that served the earlier alert stands for it), or
	// any request once the queued pass has maxCoalesced requests joined. A
	// refused update writes nothing to the tuner's history, so a storm of
	// requests cannot grow it.
	ErrTypeCoalesced = "Coalesced"
)

// TunerID is the workflow ID of a target's tuner.
func TunerID(name string) string { return "tuner/" + name }

// ScheduleID is the ID of a target's Temporal Schedule.
func ScheduleID(name string) string { return "schedule/" + name }

// PassID is the workflow ID of a target's n-th pass.
func PassID(name string, n int) string { return fmt.Sprintf("pass/%s/%d", name, n) }

// Trigger is what asked for a pass.
type Trigger string

// The triggers of a pass.
const (
	TriggerOperator   Trigger = "operator"
	TriggerSchedule   Trigger = "schedule"
	TriggerAlert      Trigger = "alert"
	TriggerSimulation Trigger = "simulation"
)

// Valid reports whether t is one of the triggers.
func (t Trigger) Valid() bool {
	switch t {
	case TriggerOperator, TriggerSchedule, TriggerAlert, TriggerSimulation:
		return true
	}
	return false
}

// TunerSettings bound what a tuner keeps.
type TunerSettings struct {
	// HistoryLimit is how many observations the tuner keeps, the most
	// recent ones (default 500).
	HistoryLimit int `json:"history_limit,omitempty"`
	// AuditLimit is how many records of ended passes it keeps (default 100).
	AuditLimit int `json:"audit_limit,omitempty"`
	// MaxEvents is the history length at which the tuner continues as new,
	// between two passes (default 2000; sooner when the server suggests it).
	MaxEvents int `json:"max_events,omitempty"`
}

// The settings' defaults.
const (
	DefaultHistoryLimit = 500
	// MaxHistoryLimit keeps the payloads that carry the history (a pass's
	// input, the propose input, the tuner's continue-as-new state) far
	// under Temporal's 2 MiB payload limit: about 370 bytes an observation
	// make 0.75 MB at 2,000 (BENCHMARKS.md).
	MaxHistoryLimit   = 2000
	DefaultAuditLimit = 100
	DefaultMaxEvents  = 2000
	// maxRequestsKept bounds the requests recorded against one pass; the
	// rest are counted.
	maxRequestsKept = 20
	// maxCoalesced bounds the requests that join one queued pass by an
	// update: past it a request is refused as coalesced, which writes
	// nothing, so no storm of requests can grow the tuner's history.
	maxCoalesced = 50
)

func (s TunerSettings) withDefaults() TunerSettings {
	if s.HistoryLimit <= 0 {
		s.HistoryLimit = DefaultHistoryLimit
	}
	if s.AuditLimit <= 0 {
		s.AuditLimit = DefaultAuditLimit
	}
	if s.MaxEvents <= 0 {
		s.MaxEvents = DefaultMaxEvents
	}
	return s
}

// TunerInput starts a tuner, or continues one as new with its state.
type TunerInput struct {
	Name     string        `json:"name"`
	Settings TunerSettings `json:"settings,omitzero"`
	// State is the state carried over by continue-as-new; nil for a new
	// tuner.
	State *TunerState `json:"state,omitempty"`
}

// RegisterInput registers a target's spec with its tuner.
type RegisterInput struct {
	Spec target.Spec `json:"spec"`
	// Source is where the spec came from (a file name, "HTTP PUT").
	Source string `json:"source,omitempty"`
	By     string `json:"by,omitempty"`
	// Settings, when set, replace the tuner's settings (e.g. a new
	// HistoryLimit, which trims the history at once).
	Settings *TunerSettings `json:"settings,omitempty"`
}

// Registration results.
const (
	Created   = "created"
	Updated   = "updated"
	Unchanged = "unchanged"
)

// RegisterResult says what a registration changed.
type RegisterResult struct {
	Name string `json:"name"`
	// Result is created, updated or unchanged.
	Result  string `json:"result"`
	Version int    `json:"version"`
	Hash    string `json:"hash"`
}

// Alert is an alert about a target, as Alertmanager reported it.
type Alert struct {
	Name        string            `json:"name"`
	Fingerprint string            `json:"fingerprint,omitempty"`
	StartsAt    time.Time         `json:"starts_at,omitzero"`
	Labels      map[string]string `json:"labels,omitempty"`
	Summary     string            `json:"summary,omitempty"`
}

// Key identifies one firing of an alert.
func (a Alert) Key() string {
	return a.Name + "/" + a.Fingerprint + "@" + a.StartsAt.UTC().Format(time.RFC3339)
}

func (a Alert) String() string {
	s := "alert " + a.Name
	if a.Summary != "" {
		s += " (" + a.Summary + ")"
	}
	if !a.StartsAt.IsZero() {
		s += " firing since " + a.StartsAt.UTC().Format(time.RFC3339)
	}
	return s
}

// PassRequest asks a tuner for a pass.
type PassRequest struct {
	Trigger     Trigger `json:"trigger"`
	RequestedBy string  `json:"requested_by,omitempty"`
	Reason      string  `json:"reason,omitempty"`
	// Alert is the alert behind a request with trigger alert.
	Alert *Alert `json:"alert,omitempty"`
	// At is when the tuner took the request (set by the tuner).
	At time.Time `json:"at,omitzero"`
}

// How a tuner served a request.
const (
	// ReplyStarted: no pass was running; the request's pass starts now.
	ReplyStarted = "started"
	// ReplyQueued: a pass is running (or a freeze holds); the request's pass
	// is queued behind it.
	ReplyQueued = "queued"
	// ReplyCoalesced: a pass was queued already; the request joined it.
	ReplyCoalesced = "coalesced"
	// ReplyDelivered: the alert went to the running pass, which rolls its
	// canary back if the alert started after its first change.
	ReplyDelivered = "delivered"
	// ReplySkipped: the request came inside a freeze and the target skips
	// such requests.
	ReplySkipped = "skipped"
)

// RequestReply is a tuner's answer to a request.
type RequestReply struct {
	Target string `json:"target"`
	// PassID is the pass that will serve the request (empty when skipped).
	PassID string `json:"pass_id,omitempty"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// NotBefore is when a pass queued behind a freeze may start.
	NotBefore time.Time `json:"not_before,omitzero"`
}

// PauseInput pauses (Paused true) or resumes a target.
type PauseInput struct {
	Paused bool   `json:"paused"`
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// PauseResult says whether the pause changed anything.
type PauseResult struct {
	Changed bool `json:"changed"`
	// Skipped is the queued pass dropped by the pause, if any.
	Skipped string `json:"skipped,omitempty"`
}

// DeleteInput deletes a target: its schedule goes at once, its tuner ends
// after its running pass.
type DeleteInput struct {
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// DeleteResult names the pass the tuner waits for before it ends.
type DeleteResult struct {
	Running string `json:"running,omitempty"`
}

// PassRef is a running or queued pass.
type PassRef struct {
	ID          string    `json:"id"`
	Trigger     Trigger   `json:"trigger"`
	RequestedBy string    `json:"requested_by,omitempty"`
	Requested   time.Time `json:"requested"`
	Started     time.Time `json:"started,omitzero"`
	// NotBefore is when a queued pass may start (the end of a freeze).
	NotBefore time.Time `json:"not_before,omitzero"`
	// Requests are the requests this pass serves, the first one first;
	// Coalesced counts those beyond the first (kept or not).
	Requests  []PassRequest `json:"requests"`
	Coalesced int           `json:"coalesced"`
	// Canary is when the running pass applied its first stage (zero
	// before); Delivered is the alert delivered to it, if any: one is
	// enough to roll the canary back, so later ones are not delivered.
	Canary    time.Time `json:"canary,omitzero"`
	Delivered []string  `json:"delivered,omitempty"`
}

// PassRecord is the tuner's audit record of one ended pass.
type PassRecord struct {
	ID          string        `json:"id"`
	Trigger     Trigger       `json:"trigger"`
	RequestedBy string        `json:"requested_by,omitempty"`
	Coalesced   int           `json:"coalesced,omitempty"`
	Outcome     Outcome       `json:"outcome"`
	Reason      string        `json:"reason,omitempty"`
	Requested   time.Time     `json:"requested,omitzero"`
	Started     time.Time     `json:"started,omitzero"`
	Ended       time.Time     `json:"ended,omitzero"`
	Baseline    models.Config `json:"baseline,omitempty"`
	Candidate   models.Config `json:"candidate,omitempty"`
	RiskBand    models.Band   `json:"risk_band,omitempty"`
	Approval    *Approval     `json:"approval,omitempty"`
	// Approvals are every answer the pass took (more than one with a
	// quorum).
	Approvals []Approval `json:"approvals,omitempty"`
	// Change is the measured relative change of the objective on the canary.
	Change *float64 `json:"change,omitempty"`
	// Reconciled says what the tuner restored after a pass that ended
	// without its own cleanup.
	Reconciled string `json:"reconciled,omitempty"`
	// SpecVersion is the version of the spec the pass ran with.
	SpecVersion int `json:"spec_version,omitempty"`
	// Trail is what the pass added to the audit: proposed, risk, the
	// approval asked and each answer, each stage's verdict with its
	// evidence, each compensation (Audit adds the request and the outcome).
	Trail []AuditEntry `json:"trail,omitempty"`
}

// FreezeState is the target's freeze as the tuner sees it now.
type FreezeState struct {
	Frozen bool      `json:"frozen"`
	Until  time.Time `json:"until,omitzero"`
	Why    string    `json:"why,omitempty"`
	// NextStart and NextEnd are the next freeze, when one is coming.
	NextStart time.Time `json:"next_start,omitzero"`
	NextEnd   time.Time `json:"next_end,omitzero"`
}

// StateOptions ask the state query for more than the summary.
type StateOptions struct {
	// History includes the observation history (up to HistoryLimit
	// observations, ~370 bytes each).
	History bool `json:"history,omitempty"`
}

// TunerState is everything a tuner holds; the state query returns it (with
// the derived fields filled) and continue-as-new carries it.
type TunerState struct {
	Name string `json:"name"`
	// Spec is the registered spec; nil until the first registration.
	Spec        *target.Spec `json:"spec,omitempty"`
	SpecHash    string       `json:"spec_hash,omitempty"`
	SpecVersion int          `json:"spec_version"`
	SpecSource  string       `json:"spec_source,omitempty"`
	Registered  time.Time    `json:"registered,omitzero"`
	Updated     time.Time    `json:"updated,omitzero"`

	Paused      bool   `json:"paused"`
	PausedBy    string `json:"paused_by,omitempty"`
	PauseReason string `json:"pause_reason,omitempty"`
	Deleted     bool   `json:"deleted,omitempty"`

	// Passes counts the passes this tuner has numbered (the n of the last
	// pass/<target>/<n>).
	Passes  int      `json:"passes"`
	Running *PassRef `json:"running,omitempty"`
	Queued  *PassRef `json:"queued,omitempty"`

	// History is the optimizer's observations, oldest first, at most
	// Settings.HistoryLimit.
	History []models.Observation `json:"history,omitempty"`
	// Recent is the audit of ended passes, oldest first, at most
	// Settings.AuditLimit.
	Recent []PassRecord `json:"recent,omitempty"`
	// LastPromoted is the configuration the tuner restores when a pass ends
	// without its own cleanup: the last promoted candidate, or the spec's
	// current values.
	LastPromoted models.Config `json:"last_promoted,omitempty"`
	// BaselineSince is when the baseline's configuration took it over: the
	// end of the last pass that promoted, or of the restore after a pass
	// that ended without its cleanup; zero before either. A pass's analyze
	// looks for broken guardrails only since then.
	BaselineSince time.Time `json:"baseline_since,omitzero"`
	// LastAlertRequest is when an alert last requested a pass; the target's
	// cooldown counts from it. LastAlertPass is the pass it requested.
	LastAlertRequest time.Time `json:"last_alert_request,omitzero"`
	LastAlertPass    string    `json:"last_alert_pass,omitempty"`
	// Refused counts requests refused by a paused or deleted target that
	// came as signals (a refused update is answered, not counted).
	Refused int `json:"refused,omitempty"`

	Settings TunerSettings `json:"settings"`

	// Derived at query time, not carried.
	HistorySize int          `json:"history_size"`
	NextRun     time.Time    `json:"next_run,omitzero"`
	Freeze      *FreezeState `json:"freeze,omitempty"`
	Events      int          `json:"events,omitempty"`
}
