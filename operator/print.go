package operator

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"go.temporal.io/sdk/client"

	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workflows"
)

// TargetFiles expands paths into target files: a directory gives its *.yaml
// and *.yml files, sorted; a file is itself.
func TargetFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(p, pat))
			found = append(found, m...)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("target: %s: expected *.yaml or *.yml target files in the directory, found none", p)
		}
		slices.Sort(found)
		out = append(out, found...)
	}
	return out, nil
}

// ApplyFiles validates and applies target files (directories give their
// YAML files): for each valid file it prints "NAME: created|updated|unchanged";
// an invalid file's problems go to stderr and nothing of it is applied. It
// returns 0 when every file was applied, 2 when a file was invalid, 1 when
// the server refused or failed.
// Settings, when set, replace each tuner's settings.
func ApplyFiles(ctx context.Context, c client.Client, paths []string, by string, settings *workflows.TunerSettings, stdout, stderr io.Writer) int {
	files, err := TargetFiles(paths)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "passflow targets apply: expected one or more target files or directories")
		return 2
	}
	status := 0
	for _, f := range target.LoadFiles(files, func(_ string, err error) {
		fmt.Fprintln(stderr, err)
		status = 2
	}) {
		res, err := Register(ctx, c, workflows.RegisterInput{Spec: f.Spec, Source: f.Path, By: by, Settings: settings})
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", f.Path, err)
			status = max(status, 1)
			continue
		}
		fmt.Fprintf(stdout, "%s: %s\n", res.Name, res.Result)
	}
	return status
}
