package counter

import (
	"fmt"
	"strconv"
	"strings"
)

// CheckOrigin reports whether s can be an entry of
// [HandlerOptions.AllowedOrigins]: "*", or an origin written exactly as
// browsers send it in the Origin header, scheme://host or
// scheme://host:port, in lower case, without a path or trailing slash,
// user info, query or fragment, and without the scheme's default port
// (":443" for https, ":80" for http). An entry breaking these rules could
// never match a browser's Origin, and would turn CORS off for that site
// without a word. The error names the entry and, where it can tell, the
// origin meant.
//
// The handlers panic on such an entry; a server reading its origins from
// its configuration calls CheckOrigin first to exit with one clear line.
func CheckOrigin(s string) error {
	if s == "*" {
		return nil
	}
	bad := func(why, meant string) error {
		if meant != "" && meant != s && CheckOrigin(meant) == nil {
			return fmt.Errorf("counter: origin %q never matches: %s; browsers send %q", s, why, meant)
		}
		return fmt.Errorf("counter: origin %q never matches: %s", s, why)
	}
	if s == "" {
		return bad("empty", "")
	}
	if s == "null" {
		return bad(`"null" is what sandboxed pages and files send, which any site can make a browser send`, "")
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return bad("no scheme", "https://"+strings.TrimSuffix(s, "/"))
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		return bad("an origin has no path, trailing slash, query or fragment", scheme+"://"+rest[:i])
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		return bad("an origin has no user info", scheme+"://"+rest[i+1:])
	}
	if lower := strings.ToLower(s); lower != s {
		return bad("upper-case letters", lower)
	}
	if !validScheme(scheme) {
		return bad("invalid scheme", "")
	}
	host, port := rest, ""
	if strings.HasPrefix(rest, "[") { // IPv6
		end := strings.IndexByte(rest, ']')
		if end < 0 || !validHost(rest[1:end], "0123456789abcdef:.") {
			return bad("invalid IPv6 address", "")
		}
		host, rest = rest[:end+1], rest[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return bad("invalid host", "")
			}
			port = rest[1:]
		}
	} else if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		host, port = rest[:i], rest[i+1:]
	}
	if !strings.HasPrefix(host, "[") && !validHost(host, "abcdefghijklmnopqrstuvwxyz0123456789-.") {
		return bad("the host must be ASCII letters, digits, '-' and '.' (an international name in its xn-- form)", "")
	}
	if port != "" || strings.HasSuffix(s, ":") {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return bad("invalid port", "")
		}
		if scheme == "https" && n == 443 || scheme == "http" && n == 80 {
			return bad("browsers leave out the scheme's default port", scheme+"://"+host)
		}
	}
	return nil
}

// validScheme reports whether s is a URL scheme in lower case.
func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// validHost reports whether s is not empty and made only of chars.
func validHost(s, chars string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(chars, s[i]) < 0 {
			return false
		}
	}
	return s != ""
}
