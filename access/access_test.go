package access

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/exporter-toolkit/web"
)

func TestParseRefusesBadAccessFiles(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown role", "users: {alice: [admin]}", "users.alice[0]: expected one of viewer, operator, trigger, approver, got \"admin\""},
		{"no users", "users: {}", "users: expected at least one identity"},
		{"unknown field", "users: {alice: [viewer]}\nroles: {}", "field roles not found"},
		{"blank name", "users: {' alice': [viewer]}", "expected names without surrounding blanks"},
		{"not a list", "users: {alice: viewer}", "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("access.yml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "access.yml") {
				t.Fatalf("error %v, want one naming the file and saying %q", err, tt.want)
			}
		})
	}
	p, err := Parse("access.yml", []byte("users: {alice: [viewer, approver], am: [trigger]}"))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Allows("alice", Approver) || p.Allows("alice", Operator) || !p.Allows("am", Trigger) || p.Allows("", Viewer) || p.Allows("bob", Viewer) {
		t.Error("roles not as the file gives them")
	}
}

// TestLocalCredentialAuthenticates: the local admin credential's files are
// private, its password is kept across restarts, and behind exporter-toolkit
// it names the caller only with the right password.
func TestLocalCredentialAuthenticates(t *testing.T) {
	dir := t.TempDir()
	l, err := EnsureLocal(dir, "http://old")
	if err != nil || !l.Created {
		t.Fatalf("EnsureLocal: %v (created %v)", err, l.Created)
	}
	for _, f := range []string{string(l.WebConfig), l.AccessFile, l.Credentials} {
		fi, err := os.Stat(f)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", f, err, fi.Mode().Perm())
		}
	}
	first, _ := ReadCredentials(l.Credentials)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	if l, err = EnsureLocal(dir, url); err != nil || l.Created {
		t.Fatalf("second EnsureLocal: %v (created %v), want the same credential", err, l.Created)
	}
	cred, _ := ReadCredentials(l.Credentials)
	if cred.Password != first.Password || cred.URL != url {
		t.Fatalf("credentials %+v: want the first password at the new URL", cred)
	}
	if err := l.WebConfig.Check(); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "id="+l.WebConfig.Identify(r))
	})}
	path := string(l.WebConfig)
	go web.Serve(ln, srv, &web.FlagConfig{WebConfigFile: &path}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { srv.Close() })
	for _, tt := range []struct {
		user, password string
		code           int
		body           string
	}{
		{"", "", http.StatusUnauthorized, ""},
		{LocalAdmin, "wrong", http.StatusUnauthorized, ""},
		{"mallory", cred.Password, http.StatusUnauthorized, ""},
		{LocalAdmin, cred.Password, http.StatusOK, "id=" + LocalAdmin},
	} {
		req, _ := http.NewRequest(http.MethodGet, url+"/", nil)
		if tt.user != "" {
			req.SetBasicAuth(tt.user, tt.password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.code || (tt.body != "" && string(body) != tt.body) {
			t.Errorf("as %q: %d %q, want %d %q", tt.user, resp.StatusCode, body, tt.code, tt.body)
		}
	}
}

func TestWebConfigWithoutIdentitiesRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(path, []byte("http_server_config: {http2: true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WebConfig(path).Check(); err == nil || !strings.Contains(err.Error(), "expected basic_auth_users") {
		t.Fatalf("Check: %v, want a refusal naming basic_auth_users", err)
	}
}

// TestAccessFileReloads: a role granted or revoked in the file applies to
// the next request; an edit that does not parse keeps the last good policy.
func TestAccessFileReloads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.yml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("users: {alice: [viewer]}\n")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Allows("alice", Viewer) || f.Allows("alice", Approver) {
		t.Fatal("roles not as written")
	}
	write("users: {alice: [viewer, approver]}\n")
	if !f.Allows("alice", Approver) {
		t.Error("a granted role not taken")
	}
	write("users: {alice: [viewer, approver, root]}\n")
	if !f.Allows("alice", Approver) || f.Err() == nil || !strings.Contains(f.Err().Error(), "root") {
		t.Errorf("a broken edit: allows %v, err %v; want the last good policy and the reason", f.Allows("alice", Approver), f.Err())
	}
	write("users: {bob: [viewer]}\n")
	if f.Allows("alice", Viewer) || !f.Allows("bob", Viewer) || f.Err() != nil {
		t.Error("a revoked role still held")
	}
}
