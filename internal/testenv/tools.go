package testenv

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// ChromiumPath is where Debian's chromium package puts the browser.
const ChromiumPath = "/usr/bin/chromium"

// Browser checks that Chromium and playwright-core are installed, skipping
// (or failing under CI=true) when not.
func Browser(tb testing.TB) {
	tb.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		Missing(tb, "Chromium not installed ("+ChromiumPath+", Debian package chromium)")
	}
	if _, err := os.Stat(filepath.Join(Root(tb), "node_modules", "playwright-core")); err != nil {
		Missing(tb, "npm package playwright-core not installed")
	}
	if _, err := exec.LookPath("node"); err != nil {
		Missing(tb, "node not found")
	}
}

// RunNode runs the Node.js script at path (relative to the module root) with
// args and returns its standard output. The test fails if the script exits
// non-zero or runs longer than timeout; its standard error is logged.
// Scripts that drive Chromium require internal/testenv/browser.cjs.
func RunNode(tb testing.TB, timeout time.Duration, path string, args ...string) []byte {
	tb.Helper()
	root := Root(tb)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(root, path)}, args...)...)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if stderr.Len() > 0 {
		tb.Logf("%s stderr:\n%s", path, stderr.Bytes())
	}
	if err != nil {
		tb.Fatalf("node %s: %v\nstdout:\n%s", path, err, stdout.Bytes())
	}
	return stdout.Bytes()
}

// RIE returns the path of the Lambda Runtime Interface Emulator: $COUNTER_RIE,
// .tools/bin/aws-lambda-rie (installed by the test command) or one on PATH.
func RIE(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("COUNTER_RIE"); p != "" {
		return p
	}
	if p := filepath.Join(Root(tb), ".tools", "bin", "aws-lambda-rie"); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	Missing(tb, "aws-lambda-rie not installed")
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
