package activities

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/passflow/passflow/models"
)

// AuditEvent is what a pass leaves in the audit log when it ends.
type AuditEvent struct {
	Time      time.Time      `json:"time"`
	PassID    string         `json:"pass_id"`
	Target    string         `json:"target"`
	Trigger   string         `json:"trigger,omitempty"`
	Outcome   string         `json:"outcome"`
	Reason    string         `json:"reason,omitempty"`
	Baseline  models.Config  `json:"baseline,omitempty"`
	Candidate models.Config  `json:"candidate,omitempty"`
	RiskBand  models.Band    `json:"risk_band,omitempty"`
	Stages    int            `json:"stages_passed"`
	Reverted  int            `json:"stages_reverted"`
	Measured  map[string]any `json:"measured,omitempty"`
}

// Store keeps what passes learn: each target's observation history (the
// optimizer's warm start) and the audit log. Appends are idempotent per pass.
type Store interface {
	// AddObservation appends o to target's history unless an observation
	// with the same Source is already there.
	AddObservation(ctx context.Context, target string, o models.Observation) error
	// Observations returns target's history, oldest first.
	Observations(ctx context.Context, target string) ([]models.Observation, error)
	// AddAudit appends e unless an event for the same pass is already there.
	AddAudit(ctx context.Context, e AuditEvent) error
}

// FileStore is a Store in a directory of JSON Lines files: one history file
// per target (observations/<target>.jsonl) and one audit.jsonl. Safe for
// concurrent use by one process.
type FileStore struct {
	dir string
	mu  sync.Mutex
}

// NewFileStore returns a FileStore in dir, creating it if needed.
func NewFileStore(dir string) (*FileStore, error) {
	if err := os.MkdirAll(filepath.Join(dir, "observations"), 0o755); err != nil {
		return nil, fmt.Errorf("activities: open store %s: %w", dir, err)
	}
	return &FileStore{dir: dir}, nil
}

func (s *FileStore) historyPath(target string) string {
	return filepath.Join(s.dir, "observations", target+".jsonl")
}

// AddObservation implements Store.
func (s *FileStore) AddObservation(_ context.Context, target string, o models.Observation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := s.historyPath(target)
	var have []models.Observation
	if err := readLines(path, &have); err != nil {
		return err
	}
	for _, h := range have {
		if o.Source != "" && h.Source == o.Source {
			return nil
		}
	}
	return appendLine(path, o)
}

// Observations implements Store.
func (s *FileStore) Observations(_ context.Context, target string) ([]models.Observation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []models.Observation
	err := readLines(s.historyPath(target), &out)
	return out, err
}

// AddAudit implements Store.
func (s *FileStore) AddAudit(_ context.Context, e AuditEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := filepath.Join(s.dir, "audit.jsonl")
	var have []AuditEvent
	if err := readLines(path, &have); err != nil {
		return err
	}
	for _, h := range have {
		if h.PassID == e.PassID {
			return nil
		}
	}
	return appendLine(path, e)
}

// Audit returns the audit log, oldest first.
func (s *FileStore) Audit() ([]AuditEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []AuditEvent
	err := readLines(filepath.Join(s.dir, "audit.jsonl"), &out)
	return out, err
}

func readLines[T any](path string, out *[]T) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("activities: read %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return fmt.Errorf("activities: read %s:%d: %w", path, n, err)
		}
		*out = append(*out, v)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("activities: read %s: %w", path, err)
	}
	return nil
}

func appendLine(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("activities: encode record for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("activities: append to %s: %w", path, err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("activities: append to %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("activities: sync %s: %w", path, err)
	}
	return f.Close()
}
