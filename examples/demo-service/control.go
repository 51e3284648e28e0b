package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/passflow/passflow/webhook"
)

// The /config protocol's limits.
const (
	maxSignatureAge = 5 * time.Minute // how far X-Passflow-Timestamp may be from now
	maxChangeBody   = 1 << 20
	maxReplies      = 10000 // idempotency keys remembered, the oldest forgotten first
)

// controller serves /config, passflow's webhook actuator:
//
//   - every request is signed (package webhook): X-Passflow-Signature is the
//     HMAC-SHA256 of X-Passflow-Timestamp, a dot and the raw body, and the
//     timestamp is within 5 minutes of now. A request that is not is
//     refused with 401 and changes nothing. With no secret (--insecure)
//     unsigned requests are accepted.
//   - GET (an empty body, signed) answers a webhook.State.
//   - POST takes a webhook.Change and answers 200 with a
//     webhook.ChangeReply holding the configuration the changed cohort ran
//     before: the canary's for apply and revert (null when there was no
//     canary), the baseline's for promote. apply puts percent of the
//     traffic on a canary running config (0 removes it); revert puts the
//     canary back to percent (0 removes it and forgets its config; above 0
//     it keeps running what it ran, and the change's config serves only to
//     bring back a canary that was removed, 409 without one); promote makes
//     config the baseline for all traffic and removes the canary. A config
//     may name only some knobs: the others keep the baseline's values.
//   - a change is idempotent: a repeated Idempotency-Key (or, without the
//     header, the body's key) gets the first answer again and has no second
//     effect. Only successful answers are remembered.
//   - a bad change is refused with 400 and {"error", "field"} naming what is
//     wrong (config.worker_threads, percent, action, ...), and changes
//     nothing.
type controller struct {
	svc    *Service
	secret []byte // empty: unsigned requests are accepted
	now    func() time.Time
	log    *slog.Logger

	mu      sync.Mutex // one change at a time, so a repeated key sees the first's answer
	replies replies
}

func newController(svc *Service, secret []byte, log *slog.Logger) *controller {
	return &controller{svc: svc, secret: secret, now: time.Now, log: log, replies: replies{max: maxReplies}}
}

// errorReply is the body of a refusal.
type errorReply struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func (h *controller) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeJSON(w, http.StatusMethodNotAllowed, errorReply{Error: "expected GET or POST, got " + r.Method})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxChangeBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorReply{Error: fmt.Sprintf("body: expected at most %d bytes", maxChangeBody)})
			return
		}
		writeJSON(w, http.StatusBadRequest, errorReply{Error: "body: " + err.Error()})
		return
	}
	if err := h.verify(r.Header, body); err != nil {
		h.log.Warn("refused an unsigned or badly signed /config request", "method", r.Method, "remote", r.RemoteAddr, "reason", err)
		writeJSON(w, http.StatusUnauthorized, errorReply{Error: err.Error()})
		return
	}
	if r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, h.svc.State())
		return
	}

	var ch webhook.Change
	if err := json.Unmarshal(body, &ch); err != nil {
		reply := errorReply{Error: "body: expected a JSON webhook change: " + err.Error(), Field: "body"}
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
			reply = errorReply{Error: fmt.Sprintf("%s: expected a JSON %s, got %s", te.Field, te.Type, te.Value), Field: te.Field}
		}
		writeJSON(w, http.StatusBadRequest, reply)
		return
	}
	key := r.Header.Get(webhook.HeaderIdempotency)
	if key == "" {
		key = ch.Key
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if reply, ok := h.replies.get(key); ok {
		h.log.Info("repeated change answered again", "key", key, "action", ch.Action)
		w.Header().Set("Idempotent-Replayed", "true")
		writeRaw(w, http.StatusOK, reply)
		return
	}
	replaced, replacedPercent, err := h.change(ch)
	if err != nil {
		status, fe := http.StatusBadRequest, (*FieldError)(nil)
		reply := errorReply{Error: err.Error()}
		if errors.As(err, &fe) {
			reply.Field = fe.Field
		}
		if errors.Is(err, errNoCanary) {
			status, reply.Field, reply.Error = http.StatusConflict, "percent", "percent: "+err.Error()
		}
		h.log.Warn("refused a change", "key", key, "action", ch.Action, "pass_id", ch.PassID, "error", reply.Error)
		writeJSON(w, status, reply)
		return
	}
	reply, _ := json.Marshal(webhook.ChangeReply{Replaced: mapOf(replaced), Percent: replacedPercent})
	reply = append(reply, '\n')
	if key != "" {
		h.replies.put(key, reply)
	}
	st := h.svc.State()
	h.log.Info("changed", "action", ch.Action, "key", key, "pass_id", ch.PassID, "stage", ch.Stage,
		"percent", st.Percent, "baseline", fmt.Sprint(st.Baseline), "canary", fmt.Sprint(st.Canary), "replaced", fmt.Sprint(mapOf(replaced)))
	writeRaw(w, http.StatusOK, reply)
}

// change carries out ch. It returns what the changed cohort ran before,
// and the canary's share of the traffic then.
func (h *controller) change(ch webhook.Change) (*Config, float64, error) {
	switch ch.Action {
	case webhook.ActionApply, webhook.ActionRevert:
		if !(ch.Percent >= 0 && ch.Percent <= 100) {
			return nil, 0, fieldErr("percent", "expected 0 to 100, got %g", ch.Percent)
		}
		if ch.Action == webhook.ActionApply {
			if len(ch.Config) == 0 {
				return nil, 0, fieldErr("config", "expected the canary's knobs (%s, %s, %s), got none", knobThreads, knobTTL, knobGCMode)
			}
			return h.svc.Apply(ch.Config, ch.Percent)
		}
		return h.svc.Revert(ch.Config, ch.Percent)
	case webhook.ActionPromote:
		if len(ch.Config) == 0 {
			return nil, 0, fieldErr("config", "expected the knobs to promote (%s, %s, %s), got none", knobThreads, knobTTL, knobGCMode)
		}
		replaced, err := h.svc.Promote(ch.Config)
		return replaced, 0, err
	}
	return nil, 0, fieldErr("action", "expected %s, %s or %s, got %q", webhook.ActionApply, webhook.ActionRevert, webhook.ActionPromote, ch.Action)
}

// verify checks a request's signature; with no secret it accepts any.
func (h *controller) verify(hd http.Header, body []byte) error {
	if len(h.secret) == 0 {
		return nil
	}
	ts, sig := hd.Get(webhook.HeaderTimestamp), hd.Get(webhook.HeaderSignature)
	if sig == "" {
		return fmt.Errorf("%s: missing; /config takes only requests signed with the shared secret", webhook.HeaderSignature)
	}
	if ts == "" {
		return fmt.Errorf("%s: missing; expected the Unix seconds the request was signed at", webhook.HeaderTimestamp)
	}
	return webhook.Verify(h.secret, ts, sig, body, h.now(), maxSignatureAge)
}

// replies remembers the answers to the last max idempotency keys.
type replies struct {
	max   int
	byKey map[string][]byte
	order []string // a ring of the keys, oldest at next once full
	next  int
}

func (r *replies) get(key string) ([]byte, bool) {
	b, ok := r.byKey[key]
	return b, ok && key != ""
}

func (r *replies) put(key string, reply []byte) {
	if r.byKey == nil {
		r.byKey = make(map[string][]byte)
	}
	if _, ok := r.byKey[key]; ok {
		return
	}
	if len(r.order) < r.max {
		r.order = append(r.order, key)
	} else {
		delete(r.byKey, r.order[r.next])
		r.order[r.next] = key
		r.next = (r.next + 1) % r.max
	}
	r.byKey[key] = reply
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
	}
	writeRaw(w, status, append(b, '\n'))
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
