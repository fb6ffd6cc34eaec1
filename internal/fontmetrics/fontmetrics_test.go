package fontmetrics

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/resumecounter/counter/internal/testenv"
)

// Widths at 11 px, as Chromium measures DejaVu Sans (FACTS: digits 7.00 px).
func TestWidths(t *testing.T) {
	for _, tt := range []struct {
		face *Face
		s    string
		want int // font units
	}{
		{Regular, "0", 1303},
		{Regular, "12,345", 5*1303 + 651},
		{Regular, "", 0},
		{Regular, "AV", 1401 + 1401 + Regular.Kern('A', 'V')},
		{Regular, "\u4e2d", Fallback},
		{Regular, "\U0001F600", Fallback},
	} {
		if got := tt.face.Width(tt.s); got != tt.want {
			t.Errorf("Width(%q) = %d, want %d", tt.s, got, tt.want)
		}
	}
	if k := Regular.Kern('A', 'V'); k >= 0 {
		t.Errorf("Kern(A, V) = %d, want negative", k)
	}
	if k := Regular.Kern('1', '2'); k != 0 {
		t.Errorf("Kern(1, 2) = %d, want 0 (digits are not kerned)", k)
	}
	// Pairs beyond ASCII come from the sorted list.
	var found bool
	for _, p := range Regular.kerning {
		if p.A >= 0x7f || p.B >= 0x7f {
			if got := Regular.Kern(rune(p.A), rune(p.B)); got != int(p.K) {
				t.Errorf("Kern(%U, %U) = %d, want %d", p.A, p.B, got, p.K)
			}
			found = true
		}
	}
	if !found {
		t.Error("no kerning pairs beyond ASCII")
	}
	if Bold.Width("visitors") <= Regular.Width("visitors") {
		t.Error("bold is not wider than regular")
	}
}

// The committed tables are what the generator writes from the installed fonts.
func TestGeneratedTablesUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	if _, err := os.Stat("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"); err != nil {
		testenv.Missing(t, "DejaVu fonts not installed (Debian package fonts-dejavu-core)")
	}
	out := filepath.Join(t.TempDir(), "tables.go")
	// gen is a module of its own (it alone needs golang.org/x/image): -C
	// runs it from its directory, as the go:generate line does.
	cmd := exec.Command("go", "run", "-C", "gen", ".", "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run -C gen .: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("tables.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("tables.go differs from the generator's output: run go generate ./internal/fontmetrics")
	}
}

// TestMatchesChromium measures every rune of the tables, and every kerning
// pair, in Chromium's canvas and compares with the tables.
func TestMatchesChromium(t *testing.T) {
	testenv.Browser(t)
	var strs []string
	for _, bl := range blocks {
		for r := bl[0]; r < bl[1]; r++ {
			if Regular.Advance(r) != Fallback {
				strs = append(strs, string(r))
			}
		}
	}
	singles := len(strs)
	for _, p := range Regular.kerning {
		strs = append(strs, string(rune(p.A))+string(rune(p.B)))
	}
	for _, p := range Bold.kerning {
		strs = append(strs, string(rune(p.A))+string(rune(p.B)))
	}
	path := filepath.Join(t.TempDir(), "strings.json")
	data, err := json.Marshal(strs)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := testenv.RunNode(t, 2*time.Minute, "internal/fontmetrics/testdata/measure.cjs", path)
	var got struct{ Regular, Bold []float64 }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	for _, f := range []struct {
		name   string
		face   *Face
		widths []float64
	}{{"regular", Regular, got.Regular}, {"bold", Bold, got.Bold}} {
		if len(f.widths) != len(strs) {
			t.Fatalf("%s: %d widths for %d strings", f.name, len(f.widths), len(strs))
		}
		var worst float64
		var worstS string
		bad, measured := 0, 0
		for i, s := range strs {
			if i >= singles && !f.face.kerns(s) {
				continue // a pair kerned in the other face
			}
			measured++
			d := math.Abs(f.widths[i] - float64(f.face.Width(s)))
			if d > worst {
				worst, worstS = d, s
			}
			if d > 1 {
				bad++
			}
		}
		t.Logf("%s: %d strings (%d runes, the rest kerning pairs): worst difference %.2f font units (%q); %d differ by more than 1 unit",
			f.name, measured, singles, worst, worstS, bad)
		if bad > 0 {
			t.Errorf("%s: %d of %d strings differ from Chromium by more than 1 font unit", f.name, bad, measured)
		}
	}
}

// kerns reports whether the two runes of s are a kerning pair of f.
func (f *Face) kerns(s string) bool {
	r := []rune(s)
	return len(r) == 2 && f.Kern(r[0], r[1]) != 0
}
