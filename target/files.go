package target

import (
	"fmt"
	"io"
)

// ValidateFiles loads each target file in paths and reports on it: "FILE: ok"
// on stdout when it is valid, else every problem on stderr, one a line, as
// FILE:LINE: FIELD: MSG. Two files that name the same target are an error
// too, since a target's name keys its workflows. It returns the exit status
// of `passflow validate`: 0 when every file is valid, 2 otherwise (also when
// paths is empty).
func ValidateFiles(paths []string, stdout, stderr io.Writer) int {
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "passflow validate: expected one or more target files")
		return 2
	}
	status := 0
	names := map[string]string{} // target name → first file defining it
	for _, path := range paths {
		spec, err := Load(path)
		if err != nil {
			fmt.Fprintln(stderr, err)
			status = 2
			continue
		}
		if first, dup := names[spec.Name]; dup {
			fmt.Fprintf(stderr, "%s: name: target %q is already defined in %s; expected unique names\n", path, spec.Name, first)
			status = 2
			continue
		}
		names[spec.Name] = path
		fmt.Fprintf(stdout, "%s: ok\n", path)
	}
	return status
}
