package counter_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/resumecounter/counter"
)

func TestCheckOrigin(t *testing.T) {
	for _, s := range []string{"*", "https://me.example", "http://localhost:8080", "http://127.0.0.1:5173",
		"https://xn--bcher-kva.example", "http://[::1]:8080", "http://[2001:db8::1]", "https://a-b.c.example:8443",
		"chrome-extension://abcdefghijklmnop", "moz-extension://0a1b2c"} {
		if err := counter.CheckOrigin(s); err != nil {
			t.Errorf("CheckOrigin(%q) = %v, want nil", s, err)
		}
	}
	for _, tc := range []struct {
		entry, why, meant string // meant: the origin the error suggests, if any
	}{
		{"https://me.example/", "trailing slash", "https://me.example"},
		{"https://me.example/blog", "path", "https://me.example"},
		{"https://me.example?x=1", "query", "https://me.example"},
		{"https://me.example#top", "fragment", "https://me.example"},
		{"me.example", "no scheme", "https://me.example"},
		{"me.example/", "no scheme", "https://me.example"},
		{"https://user@me.example", "user info", "https://me.example"},
		{"https://user:pw@me.example", "user info", "https://me.example"},
		{"https://Me.Example", "upper-case", "https://me.example"},
		{"HTTPS://me.example", "upper-case", "https://me.example"},
		{"https://me.example:443", "default port", "https://me.example"},
		{"http://me.example:80", "default port", "http://me.example"},
		{"https://me.example:", "invalid port", ""},
		{"https://me.example:0", "invalid port", ""},
		{"https://me.example:65536", "invalid port", ""},
		{"https://me.example:08443", "invalid port", ""},
		{"https://me.example:http", "invalid port", ""},
		{"https://*.example", "host", ""},
		{"https://bücher.example", "xn--", ""},
		{"https://me example", "host", ""},
		{"https://", "host", ""},
		{"://me.example", "invalid scheme", ""},
		{"1http://me.example", "invalid scheme", ""},
		{"http://[::1", "IPv6", ""},
		{"http://[::1]x", "invalid host", ""},
		{"", "empty", ""},
		{"null", "null", ""},
		{" https://me.example", "scheme", ""},
	} {
		err := counter.CheckOrigin(tc.entry)
		if err == nil {
			t.Errorf("CheckOrigin(%q) = nil, want an error about %s", tc.entry, tc.why)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "counter: ") || !strings.Contains(msg, fmt.Sprintf("%q", tc.entry)) || !strings.Contains(msg, tc.why) {
			t.Errorf("CheckOrigin(%q) = %q: want the counter: prefix, the entry and %q", tc.entry, msg, tc.why)
		}
		if tc.meant != "" && !strings.Contains(msg, fmt.Sprintf("browsers send %q", tc.meant)) {
			t.Errorf("CheckOrigin(%q) = %q: want it to suggest %q", tc.entry, msg, tc.meant)
		}
	}
}

// An AllowedOrigins entry that can never match panics both constructors,
// naming the entry, as other invalid options do.
func TestHandlerInvalidOrigin(t *testing.T) {
	for _, entry := range []string{"https://me.example/", "me.example", "https://Me.example", "https://u@me.example", "https://me.example?a"} {
		for _, badge := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/badge=%v", entry, badge), func(t *testing.T) {
				defer func() {
					msg := fmt.Sprint(recover())
					if !strings.HasPrefix(msg, "counter: HandlerOptions.AllowedOrigins: ") || !strings.Contains(msg, fmt.Sprintf("%q", entry)) {
						t.Errorf("panic %q, want one naming HandlerOptions.AllowedOrigins and %q", msg, entry)
					}
				}()
				opts := counter.HandlerOptions{AllowedOrigins: []string{"https://ok.example", entry}}
				if badge {
					counter.BadgeHandler(counter.NewMemory(), opts)
				} else {
					counter.JSONHandler(counter.NewMemory(), opts)
				}
			})
		}
	}
}

// A server checks the origins it reads from its configuration before it
// builds the handlers, to stop with one line naming a bad entry.
func ExampleCheckOrigin() {
	for _, origin := range []string{"https://me.example", "https://me.example/", "me.example:8080"} {
		if err := counter.CheckOrigin(origin); err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(origin, "ok")
	}
	// Output:
	// https://me.example ok
	// counter: origin "https://me.example/" never matches: an origin has no path, trailing slash, query or fragment; browsers send "https://me.example"
	// counter: origin "me.example:8080" never matches: no scheme; browsers send "https://me.example:8080"
}
