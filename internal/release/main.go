// Command release builds the Go module proxy a release would publish, from
// the working tree: every published module of go.work (those whose path has
// no /internal/), in dependency order, at one scratch version, with the
// modules' requirements of each other set to that version, as the phases of a
// release set them to the version just tagged.
//
//	go run ./internal/release modules
//	go run ./internal/release proxy -o DIR -version v0.0.0-releasecheck
//	go run ./internal/release tidy
//	go run ./internal/release pin -version v0.1.0
//
// modules prints the published modules in dependency order, one "dir path"
// line each (scripts/release.sh tags them in that order).
//
// proxy writes a file-based module proxy to DIR (use it as
// GOPROXY=file://DIR). It fails at once, naming every file, where a module's
// zip cannot be created (names Windows or the zip format refuse, files over
// the size limits), where a module has no LICENSE file, and where a module's
// go.mod or go.sum is not what `go mod tidy` makes of it.
//
// tidy runs `go mod tidy` on every published module against that proxy and
// writes go.mod and go.sum back into the working tree, keeping the versions
// at which the modules require each other and leaving out their go.sum lines
// (go.work ties the working trees; the release fills them in). Outside
// go.work, a module that requires a version of the root that is not yet
// published cannot be tidied by the go command itself.
//
// pin is the release's step (scripts/release.sh): with every module's
// requirements of the others already set to the version being released
// (and go.work's replaces with them), it tidies each module, in dependency
// order, against a proxy of the working tree at that version, and writes
// go.mod and go.sum back with the others' real go.sum lines: the hashes the
// Go module proxy will compute from the tags, since the tags are made on the
// commit of these very files. One commit then holds every module as
// released, and every tag goes on it.
//
// Files are those git would commit: tracked and untracked files that no
// .gitignore excludes, as they are in the working tree.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/zip"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: release modules | proxy -o DIR -version V | tidy | pin -version V")
	}
	fs := flag.NewFlagSet(args[0], flag.ExitOnError)
	out := fs.String("o", "", "proxy directory to write (proxy); a temporary one by default")
	version := fs.String("version", "v0.0.0-releasecheck", "scratch version of every module")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	mods, err := published(root)
	if err != nil {
		return err
	}
	switch args[0] {
	case "modules":
		for _, m := range mods {
			fmt.Printf("%s %s\n", m.dir, m.path)
		}
		return nil
	case "proxy", "tidy", "pin":
		if !semverOK(*version) {
			return fmt.Errorf("-version %q is not a canonical semantic version", *version)
		}
		dir := *out
		if dir == "" {
			if dir, err = os.MkdirTemp("", "release-proxy-"); err != nil {
				return err
			}
			defer os.RemoveAll(dir)
		}
		b := builder{root: root, proxy: dir, version: *version, tidy: args[0] == "tidy", pin: args[0] == "pin"}
		return b.build(mods)
	}
	return fmt.Errorf("unknown command %q", args[0])
}

func semverOK(v string) bool {
	return module.CheckPathMajor(v, "") == nil && v == module.CanonicalVersion(v)
}

// mod is one module of go.work.
type mod struct {
	dir   string // relative to the repository root, slash-separated; "." for the root
	path  string
	gomod *modfile.File
}

func repoRoot() (string, error) {
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", fmt.Errorf("git rev-parse --show-toplevel: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// published reads go.work and returns its modules without /internal/ in
// their path, each after the modules it requires.
func published(root string) ([]*mod, error) {
	data, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		return nil, err
	}
	work, err := modfile.ParseWork("go.work", data, nil)
	if err != nil {
		return nil, err
	}
	byPath := map[string]*mod{}
	var all []*mod
	for _, u := range work.Use {
		dir := path.Clean(filepath.ToSlash(u.Path))
		name := filepath.Join(root, filepath.FromSlash(dir), "go.mod")
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f, err := modfile.Parse(name, data, nil)
		if err != nil {
			return nil, err
		}
		if f.Module == nil {
			return nil, fmt.Errorf("%s: no module line", name)
		}
		m := &mod{dir: dir, path: f.Module.Mod.Path, gomod: f}
		if len(f.Replace) > 0 {
			return nil, fmt.Errorf("%s: replace directive (go.work ties the modules; published go.mod files must resolve alone)", name)
		}
		for _, r := range f.Require {
			if strings.HasPrefix(r.Mod.Version, "v0.0.0-00010101000000-") {
				return nil, fmt.Errorf("%s: %s required at the placeholder %s", name, r.Mod.Path, r.Mod.Version)
			}
		}
		if strings.Contains(m.path+"/", "/internal/") {
			continue
		}
		byPath[m.path] = m
		all = append(all, m)
	}
	// Each version at which a module requires another of go.work needs a
	// replace in go.work pointing at that module's directory.
	replaced := map[module.Version]string{}
	for _, r := range work.Replace {
		replaced[r.Old] = path.Clean(filepath.ToSlash(r.New.Path))
	}
	for _, m := range all {
		for _, r := range m.gomod.Require {
			dep := byPath[r.Mod.Path]
			if dep == nil {
				continue
			}
			if dir, ok := replaced[r.Mod]; !ok || dir != dep.dir {
				return nil, fmt.Errorf("%s/go.mod requires %s %s: go.work needs `replace %s %s => ./%s`", m.dir, r.Mod.Path, r.Mod.Version, r.Mod.Path, r.Mod.Version, dep.dir)
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].dir < all[j].dir })
	var order []*mod
	state := map[*mod]int{} // 1 visiting, 2 done
	var visit func(m *mod) error
	visit = func(m *mod) error {
		switch state[m] {
		case 1:
			return fmt.Errorf("modules require each other in a cycle through %s", m.path)
		case 2:
			return nil
		}
		state[m] = 1
		for _, r := range m.gomod.Require {
			if dep := byPath[r.Mod.Path]; dep != nil {
				if err := visit(dep); err != nil {
					return err
				}
			}
		}
		state[m] = 2
		order = append(order, m)
		return nil
	}
	for _, m := range all {
		if err := visit(m); err != nil {
			return nil, err
		}
	}
	return order, nil
}

type builder struct {
	root, proxy, version string
	modcache             string               // the go command's module cache while building
	tidy                 bool                 // write go.mod and go.sum back, siblings as they were
	pin                  bool                 // write go.mod and go.sum back, siblings at version
	sums                 map[string][2]string // module path -> zip hash, go.mod hash at b.version
}

func (b *builder) build(mods []*mod) error {
	b.sums = map[string][2]string{}
	var err error
	if b.modcache, err = os.MkdirTemp("", "release-modcache-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.modcache)
	siblings := map[string]bool{}
	for _, m := range mods {
		siblings[m.path] = true
	}
	for _, m := range mods {
		if err := b.module(m, siblings); err != nil {
			return fmt.Errorf("%s (%s): %w", m.path, m.dir, err)
		}
		fmt.Fprintf(os.Stderr, "release: %s@%s\n", m.path, b.version)
	}
	return nil
}

// file is a file of the working tree, named by its path in the module.
type file struct{ rel, name string }

func (f file) Path() string                 { return f.rel }
func (f file) Lstat() (os.FileInfo, error)  { return os.Lstat(f.name) }
func (f file) Open() (io.ReadCloser, error) { return os.Open(f.name) }

// files lists what git would commit under dir: tracked files still present
// and untracked files no .gitignore excludes.
func (b *builder) files(dir string) ([]zip.File, error) {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", dir)
	cmd.Dir = b.root
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files: %w", err)
	}
	var files []zip.File
	seen := map[string]bool{}
	for _, name := range strings.Split(string(out), "\x00") {
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		full := filepath.Join(b.root, filepath.FromSlash(name))
		if _, err := os.Lstat(full); errors.Is(err, os.ErrNotExist) {
			continue // deleted in the working tree
		}
		rel := name
		if dir != "." {
			rel = strings.TrimPrefix(name, dir+"/")
		}
		files = append(files, file{rel: rel, name: full})
	}
	return files, nil
}

func (b *builder) module(m *mod, siblings map[string]bool) error {
	files, err := b.files(m.dir)
	if err != nil {
		return err
	}
	checked, err := zip.CheckFiles(files)
	if err != nil && checked.Invalid == nil && checked.SizeError == nil {
		return err
	}
	if len(checked.Invalid) > 0 {
		var msg []string
		for _, fe := range checked.Invalid {
			msg = append(msg, fmt.Sprintf("  %s: %v", path.Join(m.dir, fe.Path), fe.Err))
		}
		return fmt.Errorf("files a module zip cannot hold:\n%s", strings.Join(msg, "\n"))
	}
	if checked.SizeError != nil {
		return checked.SizeError
	}
	if !slices.Contains(checked.Valid, "LICENSE") {
		return fmt.Errorf("no LICENSE file in %s (pkg.go.dev shows no documentation without one; each module's zip holds only its own folder)", m.dir)
	}

	stage, err := os.MkdirTemp("", "release-stage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	var valid []zip.File
	for _, f := range files {
		if !slices.Contains(checked.Valid, f.Path()) {
			continue
		}
		dst := filepath.Join(stage, filepath.FromSlash(f.Path()))
		if err := copyFile(dst, f.(file).name); err != nil {
			return err
		}
		valid = append(valid, file{rel: f.Path(), name: dst})
	}

	// go.mod and go.sum as a release phase leaves them: the siblings at the
	// version just published.
	gomod := filepath.Join(stage, "go.mod")
	gosum := filepath.Join(stage, "go.sum")
	orig := map[string]string{}
	for _, r := range m.gomod.Require {
		if siblings[r.Mod.Path] {
			orig[r.Mod.Path] = r.Mod.Version
		}
	}
	if err := b.rewrite(gomod, gosum, siblings, func(p string) (string, bool) { return b.version, true }, true); err != nil {
		return err
	}
	before, _ := os.ReadFile(gomod)
	beforeSum, _ := os.ReadFile(gosum)

	if b.pin {
		for _, r := range m.gomod.Require {
			if siblings[r.Mod.Path] && r.Mod.Version != b.version {
				return fmt.Errorf("requires %s %s, not %s: set every requirement of the modules of go.work to the version first", r.Mod.Path, r.Mod.Version, b.version)
			}
		}
		if err := b.goCmd(stage, "mod", "tidy"); err != nil {
			return err
		}
		for _, name := range []string{"go.mod", "go.sum"} {
			data, err := os.ReadFile(filepath.Join(stage, name))
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(b.root, m.dir, name), data, 0o644); err != nil {
				return err
			}
		}
	} else if b.tidy {
		if err := b.goCmd(stage, "mod", "tidy"); err != nil {
			return err
		}
		after, _ := os.ReadFile(gomod)
		afterSum, _ := os.ReadFile(gosum)
		if !bytes.Equal(before, after) || !bytes.Equal(beforeSum, afterSum) {
			// Back into the working tree, with the working tree's versions of the siblings.
			if err := os.WriteFile(filepath.Join(b.root, m.dir, "go.mod"), after, 0o644); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(b.root, m.dir, "go.sum"), afterSum, 0o644); err != nil {
				return err
			}
			back := func(p string) (string, bool) { v, ok := orig[p]; return v, ok }
			if err := b.rewrite(filepath.Join(b.root, m.dir, "go.mod"), filepath.Join(b.root, m.dir, "go.sum"), siblings, back, false); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "release: tidied %s/go.mod and go.sum\n", m.dir)
		}
	} else {
		var out bytes.Buffer
		cmd := b.command(stage, "mod", "tidy", "-diff")
		cmd.Stdout = &out
		cmd.Stderr = &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go.mod or go.sum is not tidy (fix: go run ./internal/release tidy):\n%s", out.String())
		}
	}

	// The module's files as published: .info, .mod, .zip and the version list.
	esc, err := module.EscapePath(m.path)
	if err != nil {
		return err
	}
	vdir := filepath.Join(b.proxy, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return err
	}
	zipName := filepath.Join(vdir, b.version+".zip")
	zf, err := os.Create(zipName)
	if err != nil {
		return err
	}
	if err := zip.Create(zf, module.Version{Path: m.path, Version: b.version}, valid); err != nil {
		zf.Close()
		return err
	}
	if err := zf.Close(); err != nil {
		return err
	}
	modData, err := os.ReadFile(gomod)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(vdir, b.version+".mod"), modData, 0o644); err != nil {
		return err
	}
	info := fmt.Sprintf("{\"Version\":%q,\"Time\":\"2000-01-01T00:00:00Z\"}\n", b.version)
	if err := os.WriteFile(filepath.Join(vdir, b.version+".info"), []byte(info), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(vdir, "list"), []byte(b.version+"\n"), 0o644); err != nil {
		return err
	}
	zipHash, err := dirhash.HashZip(zipName, dirhash.Hash1)
	if err != nil {
		return err
	}
	modHash, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(modData)), nil
	})
	if err != nil {
		return err
	}
	b.sums[m.path] = [2]string{zipHash, modHash}
	return nil
}

// rewrite sets the version at which go.mod requires each sibling module to
// version(path) and replaces the siblings' go.sum lines: with those of the
// proxy when withSums, with none otherwise.
func (b *builder) rewrite(gomod, gosum string, siblings map[string]bool, version func(string) (string, bool), withSums bool) error {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return err
	}
	f, err := modfile.Parse(gomod, data, nil)
	if err != nil {
		return err
	}
	var required []string
	for _, r := range f.Require {
		if !siblings[r.Mod.Path] {
			continue
		}
		v, ok := version(r.Mod.Path)
		if !ok {
			return fmt.Errorf("go mod tidy added a requirement of %s: add `require %s VERSION` to %s by hand", r.Mod.Path, r.Mod.Path, gomod)
		}
		if err := f.AddRequire(r.Mod.Path, v); err != nil {
			return err
		}
		required = append(required, r.Mod.Path)
	}
	out, err := f.Format()
	if err != nil {
		return err
	}
	if err := os.WriteFile(gomod, out, 0o644); err != nil {
		return err
	}
	sum, err := os.ReadFile(gosum)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var lines []string
	for _, line := range strings.SplitAfter(string(sum), "\n") {
		if fields := strings.Fields(line); len(fields) > 0 && siblings[fields[0]] {
			continue
		}
		if line != "" {
			lines = append(lines, line)
		}
	}
	if withSums {
		for _, p := range required {
			h, ok := b.sums[p]
			if !ok {
				return fmt.Errorf("requires %s, which is not built before it", p)
			}
			lines = append(lines, fmt.Sprintf("%s %s %s\n", p, b.version, h[0]), fmt.Sprintf("%s %s/go.mod %s\n", p, b.version, h[1]))
		}
	}
	// go.sum's order: by module path, then version (module.Sort).
	sort.SliceStable(lines, func(i, j int) bool {
		a, b := strings.Fields(lines[i]), strings.Fields(lines[j])
		if len(a) < 2 || len(b) < 2 {
			return len(a) < len(b)
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		vs := []module.Version{{Path: a[0], Version: a[1]}, {Path: b[0], Version: b[1]}}
		module.Sort(vs)
		return vs[0].Version == a[1] && a[1] != b[1]
	})
	if len(lines) == 0 {
		if err := os.Remove(gosum); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	return os.WriteFile(gosum, []byte(strings.Join(lines, "")), 0o644)
}

// command runs go in dir outside the workspace, with the proxy being built
// before the usual one.
func (b *builder) command(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	goproxy := "https://proxy.golang.org,direct"
	if out, err := exec.Command("go", "env", "GOPROXY").Output(); err == nil && strings.TrimSpace(string(out)) != "" {
		goproxy = strings.TrimSpace(string(out))
	}
	nosumdb := "github.com/resumecounter/counter"
	if v := os.Getenv("GONOSUMDB"); v != "" {
		nosumdb += "," + v
	}
	// A module cache of its own, so that no scratch version of ours stays in
	// the usual one; that one's downloads serve as a mirror of third-party
	// modules (checked against go.sum and the checksum database all the same).
	mirror := ""
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil && strings.TrimSpace(string(out)) != "" {
		mirror = "file://" + filepath.ToSlash(filepath.Join(strings.TrimSpace(string(out)), "cache", "download")) + ","
	}
	cmd.Env = append(os.Environ(),
		"GOWORK=off",
		"GOMODCACHE="+b.modcache,
		"GOPROXY=file://"+filepath.ToSlash(b.proxy)+","+mirror+goproxy,
		"GONOSUMDB="+nosumdb,
		"GOFLAGS=-mod=mod -modcacherw",
	)
	return cmd
}

func (b *builder) goCmd(dir string, args ...string) error {
	cmd := b.command(dir, args...)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

func copyFile(dst, src string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, info.Mode().Perm())
}
