package simulations

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
)

// eventLog is a service's event log on disk: one JSON event per line,
// appended and fsync'd one event at a time. A torn last line (a crash in the
// middle of an append) is dropped when the log is opened. Several worker
// processes may share one log (the same state directory): each appends with
// O_APPEND and reads what the others appended before it acts, so they all
// simulate one service.
type eventLog struct {
	path string
	size int64 // bytes of complete events in the file
	// dirSynced records that the directory entry of the file is durable.
	dirSynced bool
}

// eventLogPath returns the file of target name's events under dir.
func eventLogPath(dir, name string) string {
	return filepath.Join(dir, url.PathEscape(name)+".events.jsonl")
}

// openEventLog opens (creating dir if needed) the event log of target name
// and returns the events it holds, oldest first.
func openEventLog(dir, name string) (*eventLog, []Event, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("open event log: %w", err)
	}
	l := &eventLog{path: eventLogPath(dir, name)}
	data, err := os.ReadFile(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open event log: %w", err)
	}
	l.dirSynced = true
	events, n, err := parseEvents(l.path, 0, data)
	if err != nil {
		return nil, nil, fmt.Errorf("open event log: %w", err)
	}
	if n < len(data) {
		// A torn last append: drop it so the next append starts a line.
		if err := os.Truncate(l.path, int64(n)); err != nil {
			return nil, nil, fmt.Errorf("open event log: drop torn last line of %s: %w", l.path, err)
		}
	}
	l.size = int64(n)
	return l, events, nil
}

// parseEvents parses the complete lines of data, which starts at byte base
// of the log at path, and returns their events and the bytes they span; a
// last line without its newline is left out.
func parseEvents(path string, base int64, data []byte) ([]Event, int, error) {
	var events []Event
	off := 0
	for line := 1; ; line++ {
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			return events, off, nil
		}
		raw := bytes.TrimSpace(data[off : off+end])
		where := fmt.Sprintf("%s:%d", path, line) // whole file: FILE:LINE
		if base > 0 {
			where = fmt.Sprintf("%s at byte %d", path, base+int64(off))
		}
		off += end + 1
		if len(raw) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, 0, fmt.Errorf("%s: %w", where, err)
		}
		if e.Key == "" || (e.Kind != EventCanary && e.Kind != EventPromote) {
			return nil, 0, fmt.Errorf("%s: expected a key and a kind (canary or promote), got key %q kind %q", where, e.Key, e.Kind)
		}
		events = append(events, e)
	}
}

// readNew returns the events appended to the file since the log last read
// it, by this process or another one sharing the state directory. A line
// still being written (no newline yet) is left for the next read.
func (l *eventLog) readNew() ([]Event, error) {
	f, err := os.Open(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read event log: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() <= l.size {
		return nil, err
	}
	data := make([]byte, fi.Size()-l.size)
	if _, err := f.ReadAt(data, l.size); err != nil {
		return nil, fmt.Errorf("read event log: %w", err)
	}
	events, n, err := parseEvents(l.path, l.size, data)
	if err != nil {
		return nil, fmt.Errorf("read event log: %w", err)
	}
	l.size += int64(n)
	return events, nil
}

// append writes e as the log's last line and syncs it to disk; the log's
// next readNew returns it, after any event another process appended first.
// On failure the file is cut back to its last complete event.
func (l *eventLog) append(e Event) (err error) {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	b = append(b, '\n')
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("append event: %w", cerr)
		}
		if err != nil {
			_ = os.Truncate(l.path, l.size) // best effort; a torn line is also dropped on open
		}
	}()
	if _, err := f.Write(b); err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	if !l.dirSynced {
		if err := syncDir(filepath.Dir(l.path)); err != nil {
			return fmt.Errorf("append event: %w", err)
		}
		l.dirSynced = true
	}
	return nil
}

// syncDir makes the entries of directory dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
