package fontmetrics

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

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
	cmd := exec.Command("go", "run", "./gen", "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./gen: %v\n%s", err, b)
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
