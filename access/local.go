package access

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v2"
)

// Credentials are what the CLI sends to the HTTP API: its address and a
// basic-auth user and password.
type Credentials struct {
	URL      string `json:"url"`
	User     string `json:"user"`
	Password string `json:"password"`
}

// ReadCredentials reads a credentials file (JSON: url, user, password).
func ReadCredentials(path string) (Credentials, error) {
	var c Credentials
	data, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("credentials: %w", err)
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("credentials %s: %v (expected {\"url\": ..., \"user\": ..., \"password\": ...})", path, err)
	}
	if c.User == "" || c.Password == "" {
		return c, fmt.Errorf("credentials %s: expected a user and a password", path)
	}
	return c, nil
}

// The files Local keeps in a state directory.
const (
	WebConfigFile   = "web.yml"
	AccessFile      = "access.yml"
	CredentialsFile = "credentials.json"
	// LocalAdmin is the identity of the local credential: every role.
	LocalAdmin = "admin"
)

// Local is the local admin credential `passflow dev` keeps in its state
// directory: a web configuration with one basic-auth user, an access file
// giving it every role, and the credentials the CLI reads. Each file is
// mode 0600.
type Local struct {
	WebConfig   WebConfig
	AccessFile  string
	Credentials string
	// Created is true when this call made the credential.
	Created bool
}

// EnsureLocal makes the local admin credential in dir unless it is there,
// and points its credentials at url. An existing password is kept, so a
// restarted `passflow dev` serves the CLI's saved credentials.
func EnsureLocal(dir, url string) (Local, error) {
	l := Local{
		WebConfig:   WebConfig(filepath.Join(dir, WebConfigFile)),
		AccessFile:  filepath.Join(dir, AccessFile),
		Credentials: filepath.Join(dir, CredentialsFile),
	}
	cred, err := ReadCredentials(l.Credentials)
	_, webErr := os.Stat(string(l.WebConfig))
	_, accErr := os.Stat(l.AccessFile)
	switch {
	case err == nil && webErr == nil && accErr == nil:
		if cred.URL != url {
			cred.URL = url
			return l, writeJSON(l.Credentials, cred)
		}
		return l, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return l, err
	}
	pw := make([]byte, 24)
	if _, err := rand.Read(pw); err != nil {
		return l, fmt.Errorf("local credential: %w", err)
	}
	cred = Credentials{URL: url, User: LocalAdmin, Password: base64.RawURLEncoding.EncodeToString(pw)}
	hash, err := bcrypt.GenerateFromPassword([]byte(cred.Password), bcrypt.DefaultCost)
	if err != nil {
		return l, fmt.Errorf("local credential: %w", err)
	}
	webYAML, _ := yaml.Marshal(map[string]any{"basic_auth_users": map[string]string{LocalAdmin: string(hash)}})
	header := "# passflow dev's web configuration (Prometheus exporter-toolkit format): the local admin's bcrypt hash.\n"
	if err := writeFile(string(l.WebConfig), append([]byte(header), webYAML...)); err != nil {
		return l, err
	}
	if err := writeFile(l.AccessFile, Format(map[string][]Role{LocalAdmin: Roles})); err != nil {
		return l, err
	}
	l.Created = true
	return l, writeJSON(l.Credentials, cred)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(path, append(b, '\n'))
}

// writeFile writes data to path atomically, mode 0600.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
