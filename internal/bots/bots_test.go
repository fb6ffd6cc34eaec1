package bots

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resumecounter/counter/internal/testenv"
)

// TestIsBotAgreesWithIsbot compares IsBot with the verdicts isbot itself gave
// (recorded by go generate) on browsers, bots and both sides of every
// pattern with a lookaround.
func TestIsBotAgreesWithIsbot(t *testing.T) {
	f, err := os.Open("testdata/verdicts.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var bots, humans int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		verdict, ua, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		want := verdict == "bot"
		if want {
			bots++
		} else {
			humans++
		}
		for range 2 { // computed, then remembered
			if got := IsBot(ua); got != want {
				t.Errorf("IsBot(%q) = %v, isbot says %v", ua, got, want)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if bots < 20 || humans < 20 {
		t.Fatalf("verdicts.txt has %d bots and %d browsers; want at least 20 of each", bots, humans)
	}
}

// TestLookarounds checks each pattern isbot writes with a lookaround, which
// Go's RE2 lacks and gen splits: the word alone is a bot, the exception is not.
func TestLookarounds(t *testing.T) {
	if len(lookarounds) == 0 {
		t.Fatal("no lookaround patterns: the cases below test nothing")
	}
	const browser = "Mozilla/5.0 (Linux; Android 12) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/100.0 Mobile Safari/537.36 "
	for _, tc := range []struct {
		suffix string
		bot    bool
	}{
		{"NewsApp/1", true}, {"NewsSapphire/1", false}, {"GNews/1", false},
		{"Google/1", true}, {"GoogleApp/1", false}, {"channel/google", false}, {"google/google", false}, {"Google Pixel", false},
		{"bot/1", true}, {"bots", true}, {"bot_x", true}, {"mycubot/1", true}, {"; CUBOT P30", false}, {"bottle", false},
		{"scan", true}, {"CamScanner", false},
		{"myhttp", true}, {"libhttp", false},
		{"javafx", true}, {"Java;", false},
	} {
		if got := isBot(browser + tc.suffix); got != tc.bot {
			t.Errorf("IsBot(browser + %q) = %v, want %v", tc.suffix, got, tc.bot)
		}
	}
}

func TestIsBotEdges(t *testing.T) {
	if IsBot("") {
		t.Error(`IsBot("") = true; isbot says an empty User-Agent is not a bot`)
	}
	if !IsBot("github-camo (876de43e)") {
		t.Error("isbot counts github-camo as a bot; package counter treats it apart")
	}
	long := strings.Repeat("Mozilla/5.0 (X11; Linux x86_64) ", 100) // 3,300 bytes, past maxLen
	_ = IsBot(long)                                                 // must not panic or take long
	if n := testing.AllocsPerRun(100, func() { isBot(long) }); n != 0 && !raceEnabled {
		t.Errorf("isBot allocates %v times on a long User-Agent", n)
	}
}

func BenchmarkIsBot(b *testing.B) {
	for _, bc := range []struct{ name, ua string }{
		{"chrome", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"},
		{"iphone", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"},
		{"googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
		{"curl", "curl/8.11.0"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				IsBot(bc.ua)
			}
		})
		b.Run(bc.name+"-uncached", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				isBot(bc.ua)
			}
		})
	}
}

// The generated patterns come from the isbot that package-lock.json pins:
// after an update of isbot, go generate must run again.
func TestPatternsMatchInstalledIsbot(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.Root(t), "node_modules", "isbot", "package.json"))
	if err != nil {
		testenv.Missing(t, "node_modules/isbot (run npm ci)")
	}
	var pkg struct{ Version string }
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	if pkg.Version != isbotVersion {
		t.Fatalf("patterns.go is from isbot %s, node_modules has %s: run go generate ./internal/bots", isbotVersion, pkg.Version)
	}
}
