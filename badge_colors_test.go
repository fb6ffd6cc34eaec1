package counter

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/resumecounter/counter/internal/testenv"
)

// TestColorsMatchChromium checks the colours a badge accepts against
// Chromium's CSS parser: every CSS name in cssColors has Chromium's value,
// and every rgb(), rgba(), hsl() and hsla() value parseColor accepts draws
// the colour Chromium computes for it (alpha within 1/255).
func TestColorsMatchChromium(t *testing.T) {
	testenv.Browser(t)
	var inputs []string
	for _, c := range cssColors {
		inputs = append(inputs, c.name)
	}
	funcs := []string{
		"rgb(255,0,0)", "RGB( 12 , 34 , 56 )", "rgb(300,-5,+0)", "rgb(100%,50%,0%)", "rgb(33%,66%,99%)",
		"rgba(0,0,0,0.5)", "rgba(10,20,30,.25)", "rgba(1,2,3,7)", "rgba(1,2,3,-1)",
		"hsl(0,100%,50%)", "hsl(120,100%,50%)", "hsl(240,100%,50%)", "hsl(480,100%,25%)", "hsl(-120,100%,50%)",
		"hsl(30,40%,70%)", "hsl(200,15%,85%)", "hsl(359,99%,1%)", "hsl(90,150%,-10%)", "hsla(210,60%,40%,0.75)",
	}
	inputs = append(inputs, funcs...)
	arg, err := json.Marshal(inputs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var ok bool
	if err := json.Unmarshal(testenv.RunNode(t, 60*time.Second, "testdata/css_colors.cjs", string(arg)), &got); err != nil || len(got) != len(inputs) {
		t.Fatalf("node answered %q (%v)", got, err)
	}
	for i, in := range inputs {
		var c color
		if i < len(cssColors) { // the table's value: shields' own names win in parseColor
			n := cssColors[i]
			c.rgba = [4]uint8{n.rgb[0], n.rgb[1], n.rgb[2], 255}
			if n.name == "transparent" {
				c.rgba[3] = 0
			}
		} else if c, ok = parseColor(in); !ok {
			t.Errorf("parseColor(%q) refused it", in)
			continue
		}
		var r, g, b int
		a := 1.0
		if n, _ := fmt.Sscanf(got[i], "rgba(%d, %d, %d, %g)", &r, &g, &b, &a); n != 4 {
			if n, _ := fmt.Sscanf(got[i], "rgb(%d, %d, %d)", &r, &g, &b); n != 3 {
				t.Errorf("%q: Chromium computed %q", in, got[i])
				continue
			}
		}
		if c.rgba[0] != uint8(r) || c.rgba[1] != uint8(g) || c.rgba[2] != uint8(b) || math.Abs(float64(c.rgba[3])/255-a) > 0.5/255+1e-9 {
			t.Errorf("%q: parsed %v, Chromium computes %s", in, c.rgba, got[i])
		}
	}
}

// TestCSSColorsFound checks that parseColor finds every CSS name in any
// case, as a CSS name unless shields has its own colour of that name.
func TestCSSColorsFound(t *testing.T) {
	for _, n := range cssColors {
		for _, s := range []string{n.name, strings.ToUpper(n.name)} {
			c, ok := parseColor(s)
			shields := false
			for _, sc := range namedColors {
				shields = shields || sc.name == n.name
			}
			if !ok || !shields && (c.kind != colorName || c.s != n.name) {
				t.Errorf("parseColor(%q) = %+v, %v; want the CSS colour %s", s, c, ok, n.name)
			}
		}
	}
}
