package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/passflow/passflow/access"
	"github.com/passflow/passflow/api"
)

// APIConfig says how the HTTP API authenticates callers (a Prometheus web
// configuration), what each may do (passflow's access file), and which
// actuators a target sent to it may name.
type APIConfig struct {
	// WebConfig is --web.config.file: TLS, client certificates, basic-auth
	// users with bcrypt hashes, as for Prometheus and Alertmanager.
	WebConfig string
	// AccessFile is --access.file: each identity's roles.
	AccessFile string
	// AllowCommands (--actuator.allow-command) and AllowDirs
	// (--actuator.allow-dir): see api.Options.
	AllowCommands []string
	AllowDirs     []string
}

// inState returns h, or when h names neither file, the pair passflow dev
// keeps in stateDir.
func (h APIConfig) inState(stateDir string) APIConfig {
	if h.WebConfig == "" && h.AccessFile == "" {
		h.WebConfig, h.AccessFile = filepath.Join(stateDir, access.WebConfigFile), filepath.Join(stateDir, access.AccessFile)
	}
	return h
}

// load checks both files and the allow-lists, and returns the API's
// options.
func (h APIConfig) load() (access.WebConfig, api.Options, error) {
	if h.WebConfig == "" || h.AccessFile == "" {
		return "", api.Options{}, errors.New("the HTTP API needs --web.config.file and --access.file together")
	}
	for _, c := range h.AllowCommands {
		if !filepath.IsAbs(c) {
			return "", api.Options{}, fmt.Errorf("--actuator.allow-command: expected an absolute path to an executable, got %q", c)
		}
	}
	for _, d := range h.AllowDirs {
		if !filepath.IsAbs(d) {
			return "", api.Options{}, fmt.Errorf("--actuator.allow-dir: expected an absolute directory, got %q", d)
		}
	}
	for flag, path := range map[string]string{"--web.config.file": h.WebConfig, "--access.file": h.AccessFile} {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return "", api.Options{}, fmt.Errorf("%s %s: no such file (passflow dev writes a local pair into its state directory; see README, \"Access\")", flag, path)
		}
	}
	web := access.WebConfig(h.WebConfig)
	if err := web.Check(); err != nil {
		return "", api.Options{}, fmt.Errorf("--web.config.file: %w", err)
	}
	pol, err := access.Open(h.AccessFile)
	if err != nil {
		return "", api.Options{}, fmt.Errorf("--access.file: %w", err)
	}
	return web, api.Options{Auth: api.Auth{Identify: web.Identify, Policy: pol},
		Commands: h.AllowCommands, FileDirs: h.AllowDirs}, nil
}
