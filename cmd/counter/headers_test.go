package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestSecurityHeaders (issue 15, defect 10): every response says nosniff;
// the example pages and their scripts carry the page policy, which allows
// nothing from elsewhere and every inline style of the pages by its hash.
func TestSecurityHeaders(t *testing.T) {
	s := start(t, "COUNTER_STORE=memory", "COUNTER_ADMIN_TOKEN="+testToken, "COUNTER_RATE_LIMIT=1000/s")
	for _, tc := range []struct {
		method, path string
		page         bool
	}{
		{http.MethodGet, "/", true},
		{http.MethodGet, "/index.html", true}, // redirects to /
		{http.MethodGet, "/stats.html", true},
		{http.MethodGet, "/counter.js", true},
		{http.MethodGet, "/stats.js", true},
		{http.MethodHead, "/", true},
		{http.MethodGet, "/no-such-file", true},
		{http.MethodGet, "/api/visitors", false},
		{http.MethodGet, "/api/a%2Fb", false},
		{http.MethodGet, "/badge/visitors", false},
		{http.MethodGet, "/chart/visitors", false},
		{http.MethodPost, "/api/visitors", false},
		{http.MethodGet, "/admin/export", false},
		{http.MethodPut, "/admin/visitors", false},
	} {
		req, err := http.NewRequest(tc.method, s.URL+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s: %s, X-Content-Type-Options %q; want nosniff", tc.method, tc.path, res.Status, got)
		}
		if got := res.Header.Get("Content-Security-Policy"); tc.page && got != pagePolicy() {
			t.Errorf("%s %s: %s, Content-Security-Policy %q; want %q", tc.method, tc.path, res.Status, got, pagePolicy())
		}
	}
	policy := pagePolicy()
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "connect-src 'self';", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(policy, want) {
			t.Errorf("the page policy %q lacks %q", policy, want)
		}
	}
	if n := strings.Count(policy, "'sha256-"); n != 2 || strings.Contains(policy, "unsafe") {
		t.Errorf("the page policy allows %d inline styles by hash, want 2 (index.html and stats.html), and nothing unsafe: %s", n, policy)
	}
}
