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

// HTTPAuth says how the HTTP API authenticates callers (a Prometheus web
// configuration) and what each may do (passflow's access file).
type HTTPAuth struct {
	// WebConfig is --web.config.file: TLS, client certificates, basic-auth
	// users with bcrypt hashes, as for Prometheus and Alertmanager.
	WebConfig string
	// AccessFile is --access.file: each identity's roles.
	AccessFile string
}

// inState returns h, or when h names neither file, the pair passflow dev
// keeps in stateDir.
func (h HTTPAuth) inState(stateDir string) HTTPAuth {
	if h.WebConfig == "" && h.AccessFile == "" {
		return HTTPAuth{WebConfig: filepath.Join(stateDir, access.WebConfigFile), AccessFile: filepath.Join(stateDir, access.AccessFile)}
	}
	return h
}

// load checks both files and returns the API's Auth.
func (h HTTPAuth) load() (access.WebConfig, api.Auth, error) {
	switch {
	case h.WebConfig == "" || h.AccessFile == "":
		return "", api.Auth{}, errors.New("the HTTP API needs --web.config.file and --access.file together")
	}
	for flag, path := range map[string]string{"--web.config.file": h.WebConfig, "--access.file": h.AccessFile} {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return "", api.Auth{}, fmt.Errorf("%s %s: no such file (passflow dev writes a local pair into its state directory; see README, \"Access\")", flag, path)
		}
	}
	web := access.WebConfig(h.WebConfig)
	if err := web.Check(); err != nil {
		return "", api.Auth{}, fmt.Errorf("--web.config.file: %w", err)
	}
	pol, err := access.Load(h.AccessFile)
	if err != nil {
		return "", api.Auth{}, fmt.Errorf("--access.file: %w", err)
	}
	return web, api.Auth{Identify: web.Identify, Policy: pol}, nil
}
