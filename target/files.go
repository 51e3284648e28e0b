package target

import (
	"fmt"
	"io"
)

// Loaded is a target file that loaded: its path and its spec.
type Loaded struct {
	Path string
	Spec Spec
}

// LoadFiles loads each target file in paths, in order, and returns those
// that are valid. A file that is not (its *Error lists every problem), or
// that names a target an earlier file named (a target's name keys its
// workflows), is passed to bad instead.
func LoadFiles(paths []string, bad func(path string, err error)) []Loaded {
	var out []Loaded
	names := map[string]string{} // target name → first file defining it
	for _, path := range paths {
		spec, err := Load(path)
		if err != nil {
			bad(path, err)
			continue
		}
		if first, dup := names[spec.Name]; dup {
			bad(path, fmt.Errorf("%s: name: target %q is already defined in %s; expected unique names", path, spec.Name, first))
			continue
		}
		names[spec.Name] = path
		out = append(out, Loaded{Path: path, Spec: spec})
	}
	return out
}

// ValidateFiles loads each target file in paths and reports on it: "FILE: ok"
// on stdout when it is valid, else every problem on stderr, one a line, as
// FILE:LINE: FIELD: MSG. Two files that name the same target are an error
// too. It returns the exit status of `passflow validate`: 0 when every file
// is valid, 2 otherwise (also when paths is empty).
func ValidateFiles(paths []string, stdout, stderr io.Writer) int {
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "passflow validate: expected one or more target files")
		return 2
	}
	status := 0
	for _, f := range LoadFiles(paths, func(_ string, err error) {
		fmt.Fprintln(stderr, err)
		status = 2
	}) {
		fmt.Fprintf(stdout, "%s: ok\n", f.Path)
	}
	return status
}
