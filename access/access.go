// Package access decides who may call passflow's HTTP API. Authentication
// is the Prometheus ecosystem's web configuration (exporter-toolkit: TLS,
// client certificates, basic-auth users with bcrypt hashes), so operators
// configure passflow as they configure Prometheus and Alertmanager;
// authorization is passflow's own access file, which gives identities roles.
//
// Invariants: an identity is a basic-auth user the web configuration lists
// (exporter-toolkit has checked its password before a handler runs) or the
// common name of a verified client certificate, never a name the caller
// types; an identity without a role in the access file may do nothing; a
// password never leaves the web configuration's hash.
package access

import (
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"gopkg.in/yaml.v2"

	"github.com/passflow/passflow/target"
)

// Role is what an identity may do on the API.
type Role string

// The roles of the access file.
const (
	// Viewer reads: targets, passes, history, approvals, metrics.
	Viewer Role = "viewer"
	// Operator registers, pauses, resumes and deletes targets, requests
	// passes and cancels them.
	Operator Role = "operator"
	// Trigger posts alerts (Alertmanager's webhook).
	Trigger Role = "trigger"
	// Approver answers approval requests of the targets that list it (or of
	// every target that lists no approvers).
	Approver Role = "approver"
)

// Roles are every role, in the order the docs list them.
var Roles = []Role{Viewer, Operator, Trigger, Approver}

// Policy is a loaded access file: each identity's roles.
type Policy struct {
	roles map[string][]Role
}

// accessFile is the access file's format.
type accessFile struct {
	// Users maps an identity (a basic-auth user of the web configuration, or
	// a client certificate's common name) to its roles.
	Users map[string][]Role `yaml:"users"`
}

// Load reads an access file. A bad file is an error naming it and what was
// expected.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("access file: %w", err)
	}
	return Parse(path, data)
}

// Parse reads an access file's content; name is for messages.
func Parse(name string, data []byte) (*Policy, error) {
	var f accessFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("access file %s: %v (expected users: {NAME: [viewer|operator|trigger|approver, ...]})", name, err)
	}
	if len(f.Users) == 0 {
		return nil, fmt.Errorf("access file %s: users: expected at least one identity with its roles", name)
	}
	p := &Policy{roles: map[string][]Role{}}
	for _, id := range slices.Sorted(maps.Keys(f.Users)) {
		switch {
		case strings.TrimSpace(id) == "" || id != strings.TrimSpace(id):
			return nil, fmt.Errorf("access file %s: users: expected names without surrounding blanks, got %q", name, id)
		case len(id) > target.MaxIdentity:
			return nil, fmt.Errorf("access file %s: users.%s: expected a name of at most %d bytes", name, id, target.MaxIdentity)
		}
		for i, r := range f.Users[id] {
			if !slices.Contains(Roles, r) {
				return nil, fmt.Errorf("access file %s: users.%s[%d]: expected one of viewer, operator, trigger, approver, got %q", name, id, i, r)
			}
		}
		p.roles[id] = slices.Clone(f.Users[id])
	}
	return p, nil
}

// Format writes an access file giving each identity its roles.
func Format(users map[string][]Role) []byte {
	b, _ := yaml.Marshal(accessFile{Users: users}) // a map of string slices always marshals
	return append([]byte("# passflow access file: the roles of each identity of the web configuration.\n"), b...)
}

// Allows reports whether id holds role.
func (p *Policy) Allows(id string, role Role) bool {
	return id != "" && slices.Contains(p.roles[id], role)
}

// WebConfig is a Prometheus web configuration file (--web.config.file).
type WebConfig string

// Check validates the web configuration as exporter-toolkit does (users'
// hashes, TLS files) and requires a way to authenticate: basic-auth users,
// or client certificates that are verified.
func (w WebConfig) Check() error {
	path := string(w)
	if err := web.Validate(path); err != nil {
		return fmt.Errorf("web config %s: %w", path, err)
	}
	c, err := w.read()
	if err != nil {
		return err
	}
	if len(c.Users) == 0 && !verifiesClients(c) {
		return fmt.Errorf("web config %s: expected basic_auth_users, or tls_server_config with client_auth_type RequireAndVerifyClientCert: without either no request has an identity", path)
	}
	return nil
}

func verifiesClients(c *web.Config) bool {
	return c.TLSConfig.ClientAuth == "RequireAndVerifyClientCert" || c.TLSConfig.ClientAuth == "VerifyClientCertIfGiven"
}

// read parses the web configuration as exporter-toolkit does.
func (w WebConfig) read() (*web.Config, error) {
	data, err := os.ReadFile(string(w))
	if err != nil {
		return nil, fmt.Errorf("web config: %w", err)
	}
	var c web.Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("web config %s: %w", w, err)
	}
	return &c, nil
}

// Identify returns the identity of a request that exporter-toolkit's
// handler let through: its basic-auth user when the web configuration lists
// users (the toolkit checked the password against the user's hash, reading
// the same file for the same request), else the common name of its verified
// client certificate; "" when it has neither.
func (w WebConfig) Identify(r *http.Request) string {
	users, err := w.users()
	if err != nil {
		return ""
	}
	if user, _, ok := r.BasicAuth(); ok && users[user] {
		return user
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		return r.TLS.VerifiedChains[0][0].Subject.CommonName
	}
	return ""
}

// webUsers caches the users of each web configuration by its file's size
// and time of modification: Identify runs on every request, and a stat is
// cheaper than reading and parsing the file again.
var webUsers struct {
	sync.Mutex
	byPath map[string]cachedUsers
}

type cachedUsers struct {
	mod   time.Time
	size  int64
	users map[string]bool
}

// users returns the basic-auth users the web configuration lists now.
func (w WebConfig) users() (map[string]bool, error) {
	fi, err := os.Stat(string(w))
	if err != nil {
		return nil, fmt.Errorf("web config: %w", err)
	}
	webUsers.Lock()
	defer webUsers.Unlock()
	if c, ok := webUsers.byPath[string(w)]; ok && c.mod.Equal(fi.ModTime()) && c.size == fi.Size() {
		return c.users, nil
	}
	cfg, err := w.read()
	if err != nil {
		return nil, err
	}
	users := make(map[string]bool, len(cfg.Users))
	for u := range cfg.Users {
		users[u] = true
	}
	if webUsers.byPath == nil {
		webUsers.byPath = map[string]cachedUsers{}
	}
	webUsers.byPath[string(w)] = cachedUsers{mod: fi.ModTime(), size: fi.Size(), users: users}
	return users, nil
}

// File is an access file read again when it changes (its size or time of
// modification), so that roles are granted and revoked without a restart.
// An edit that does not parse leaves the last good policy in force, and
// Err says why.
type File struct {
	path string
	mu   sync.Mutex
	pol  *Policy
	mod  time.Time
	size int64
	err  error
}

// Open reads an access file that Allows re-reads when it changes.
func Open(path string) (*File, error) {
	f := &File{path: path}
	if err := f.reload(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *File) reload() error {
	fi, err := os.Stat(f.path)
	if err != nil {
		return fmt.Errorf("access file: %w", err)
	}
	if f.pol != nil && fi.ModTime().Equal(f.mod) && fi.Size() == f.size {
		return nil
	}
	pol, err := Load(f.path)
	if err != nil {
		return err
	}
	f.pol, f.mod, f.size = pol, fi.ModTime(), fi.Size()
	return nil
}

// Allows reports whether id holds role in the file as it is now.
func (f *File) Allows(id string, role Role) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.reload()
	if err != nil && (f.err == nil || f.err.Error() != err.Error()) {
		slog.Warn("the access file's last change was not taken; the previous roles stay in force", "error", err)
	}
	f.err = err
	return f.pol.Allows(id, role)
}

// Err is why the last change to the file was not taken, if it was not.
func (f *File) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
