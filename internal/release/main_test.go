package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/zip"
)

// git runs git in dir, failing the test on error.
func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestRepositoryZips checks that every published module of this repository
// can be zipped: no file name Windows or the module zip format refuses (the
// fuzz corpus file named "nul" made every version of the root module
// unfetchable), and a LICENSE in each.
func TestRepositoryZips(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Skip(err)
	}
	mods, err := published(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) < 2 || mods[0].path != "github.com/resumecounter/counter" {
		t.Fatalf("published modules start with %v, want the root first", mods[0].path)
	}
	b := builder{root: root}
	for _, m := range mods {
		files, err := b.files(m.dir)
		if err != nil {
			t.Fatal(err)
		}
		checked, _ := zip.CheckFiles(files)
		for _, fe := range checked.Invalid {
			t.Errorf("%s: %s: %v", m.dir, fe.Path, fe.Err)
		}
		if checked.SizeError != nil {
			t.Errorf("%s: %v", m.dir, checked.SizeError)
		}
		if _, err := os.Stat(filepath.Join(root, m.dir, "LICENSE")); err != nil {
			t.Errorf("%s: no LICENSE", m.dir)
		}
	}
}

// TestProxyNamesRefusedFiles builds a proxy of a small repository holding
// files Windows refuses: the build fails, naming each of them.
func TestProxyNamesRefusedFiles(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not found")
	}
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		name = filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.work", "go 1.24.0\n\nuse .\n")
	write("go.mod", "module example.com/m\n\ngo 1.24.0\n")
	write("LICENSE", "MIT\n")
	write("m.go", "package m\n")
	write("testdata/fuzz/FuzzKey/nul", "go test fuzz v1\nstring(\"x\\x00y\")\n")
	write("testdata/aux.txt", "x\n")
	write("testdata/ok", "x\n")
	git(t, dir, "init", "-q")
	git(t, dir, "add", ".")

	mods, err := published(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := builder{root: dir, proxy: t.TempDir(), version: "v0.0.0-test"}
	err = b.build(mods)
	if err == nil {
		t.Fatal("proxy built from a module with files named nul and aux.txt")
	}
	for _, want := range []string{"testdata/fuzz/FuzzKey/nul", "testdata/aux.txt"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "testdata/ok") {
		t.Errorf("error names a valid file:\n%v", err)
	}
}

// TestPublishedRefusesPlaceholderAndReplace: a module that requires another
// at the placeholder version, or has a replace directive, cannot be fetched
// by anyone outside the repository.
func TestPublishedRefusesPlaceholderAndReplace(t *testing.T) {
	for name, gomod := range map[string]string{
		"placeholder":        "module example.com/m/sub\n\ngo 1.24.0\n\nrequire example.com/m v0.0.0-00010101000000-000000000000\n",
		"replace":            "module example.com/m/sub\n\ngo 1.24.0\n\nrequire example.com/m v0.1.0\n\nreplace example.com/m => ../\n",
		"no go.work replace": "module example.com/m/sub\n\ngo 1.24.0\n\nrequire example.com/m v0.1.0\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for file, data := range map[string]string{
				"go.work":    "go 1.24.0\n\nuse (\n\t.\n\t./sub\n)\n",
				"go.mod":     "module example.com/m\n\ngo 1.24.0\n",
				"sub/go.mod": gomod,
			} {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, file)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, file), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := published(dir); err == nil {
				t.Errorf("published accepted sub/go.mod:\n%s", gomod)
			} else {
				t.Log(err)
			}
		})
	}
}
