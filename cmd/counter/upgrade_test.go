package main

import (
	"compress/gzip"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// upgradeFixtures are store files written by earlier releases' counter
// serve, gzipped, in testdata/upgrade, with the export that release printed
// of them. r1 is commit 28c6f07, the first counter serve ("Merge cli"): it
// counted home three times (two visitors) and blog once (with a visit id),
// then stopped. The formats have not changed since, so there is no
// migration yet; a release that changes one adds its fixtures here, and a
// test that the migration runs once from each older one.
var upgradeFixtures = []struct {
	release, store, file, export string
}{
	{"r1", "bolt", "r1.bolt.db.gz", "r1.export.jsonl"},
	{"r1", "sqlite", "r1.sqlite.gz", "r1.export.jsonl"},
}

// TestUpgrade opens each older release's store file with this release:
// the export is what that release printed, and the server keeps counting.
func TestUpgrade(t *testing.T) {
	for _, fx := range upgradeFixtures {
		t.Run(fx.release+"/"+fx.store, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "counter-"+fx.store)
			gunzip(t, filepath.Join("testdata", "upgrade", fx.file), data)
			env := []string{"COUNTER_STORE=" + fx.store, "COUNTER_DATA=" + data}
			want, err := os.ReadFile(filepath.Join("testdata", "upgrade", fx.export))
			if err != nil {
				t.Fatal(err)
			}
			if out, errOut, code := runBinary(t, env, "", "export"); code != 0 || out != string(want) {
				t.Fatalf("export of the %s file: exit %d, %s\n%s\nwant\n%s", fx.release, code, errOut, out, want)
			}

			s := start(t, env...)
			if res, _ := get(t, s.URL+"/readyz"); res.StatusCode != http.StatusOK {
				t.Fatalf("readyz over the %s file: %s", fx.release, res.Status)
			}
			got := getJSONWith(t, s.URL+"/api/home", http.Header{"User-Agent": {"Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0 Upgrade"}})
			if got.Count != 4 {
				t.Fatalf("home after one more visit: %d; want 4", got.Count)
			}
			if got := getJSONWith(t, s.URL+"/api/blog?visit=upgraded", nil); got.Count != 2 {
				t.Fatalf("blog after a visit: %d; want 2", got.Count)
			}
			s.stop(t, 20*time.Second)

			out, errOut, code := runBinary(t, env, "", "export")
			if code != 0 {
				t.Fatalf("export after counting: exit %d, %s", code, errOut)
			}
			records := parseExport(t, out)
			if len(records) != 2 || records[0].Key != "blog" || records[0].Count != 2 || records[1].Key != "home" ||
				records[1].Count != 4 || records[1].Visitors != 3 {
				t.Fatalf("after counting on: %+v; want blog 2, home 4 with 3 visitors", records)
			}
			if first := records[1].Days[0]; first.Date != "2026-12-03" || first.Count < 3 {
				t.Fatalf("home's first day after the upgrade: %+v; want the fixture's 2026-12-03 kept", first)
			}
		})
	}
}

// gunzip writes the gzipped file src to dst.
func gunzip(t *testing.T, src, dst string) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
