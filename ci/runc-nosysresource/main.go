// Command runc-nosysresource is an OCI runtime wrapper for Docker hosts whose capability bounding
// set lacks CAP_SYS_RESOURCE (see shared ENVIRONMENT.md): `docker run --privileged` asks runc for
// every capability and fails with "unable to apply caps". Before `create`/`run` it removes
// CAP_SYS_RESOURCE from the bundle's config.json (process.capabilities), before `exec` from the
// process file; then it execs the real runc with the same arguments. kind drives its nodes through
// `docker exec`, so both halves are needed.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

const realRunc = "/usr/bin/runc"
const dropped = "CAP_SYS_RESOURCE"

func main() {
	args := os.Args[1:]
	if err := rewrite(args); err != nil {
		fmt.Fprintf(os.Stderr, "runc-nosysresource: %v\n", err)
		os.Exit(1)
	}
	if err := syscall.Exec(realRunc, append([]string{realRunc}, args...), os.Environ()); err != nil {
		fmt.Fprintf(os.Stderr, "runc-nosysresource: exec %s: %v\n", realRunc, err)
		os.Exit(1)
	}
}

// rewrite edits the spec file the subcommand will read, if it is one that sets capabilities.
func rewrite(args []string) error {
	for i, a := range args {
		switch a {
		case "create", "run":
			bundle := flagValue(args[i+1:], "--bundle", "-b")
			if bundle == "" {
				bundle = "."
			}
			return edit(filepath.Join(bundle, "config.json"), true)
		case "exec":
			if p := flagValue(args[i+1:], "--process", "-p"); p != "" {
				return edit(p, false)
			}
			return nil
		}
	}
	return nil
}

func flagValue(args []string, long, short string) string {
	for i, a := range args {
		if (a == long || a == short) && i+1 < len(args) {
			return args[i+1]
		}
		if strings.HasPrefix(a, long+"=") {
			return strings.TrimPrefix(a, long+"=")
		}
	}
	return ""
}

// edit removes the capability from every list of a spec (nested under "process") or process file.
func edit(path string, nested bool) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	proc := doc
	if nested {
		p, ok := doc["process"].(map[string]any)
		if !ok {
			return nil
		}
		proc = p
	}
	caps, ok := proc["capabilities"].(map[string]any)
	if !ok {
		return nil
	}
	changed := false
	for kind, v := range caps {
		list, ok := v.([]any)
		if !ok {
			continue
		}
		kept := list[:0:0]
		for _, c := range list {
			if c != dropped {
				kept = append(kept, c)
			}
		}
		if len(kept) != len(list) {
			caps[kind] = kept
			changed = true
		}
	}
	if !changed {
		return nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, info.Mode())
}
