// Package bots tells bots and crawlers from browsers by their User-Agent,
// with the patterns of the npm package isbot (see patterns.go).
package bots

//go:generate go run ./gen -o patterns.go

import (
	"hash/maphash"
	"regexp"
	"strings"
	"sync"
	"unsafe"
)

// expr is a pattern without lookarounds; lit is a string every match
// contains ("" if none), checked first because most expressions are slow
// to run on every request.
type expr struct {
	source, lit string
}

// lookaround is isbot's (?<!behind)core(?!ahead): a match of core counts
// only where the text before it does not match behind ("(?:B)$") and the
// text after it does not match ahead ("^(?:A)"). Either may be empty.
type lookaround struct {
	source, core, lit, behind, ahead string
}

type compiledExpr struct {
	re  *regexp.Regexp
	lit string
}

type compiledAround struct {
	core, behind, ahead *regexp.Regexp
	lit                 string
}

// matcher is the compiled pattern set; built on first use so that a
// program that never checks a User-Agent pays nothing at start-up.
type matcher struct {
	prefixes [256][]string // by first byte
	// literals longer than one byte, by their first two bytes: pairs says
	// which pairs start one, so that most positions cost one bit test.
	pairs   [65536 / 64]uint64
	byPair  map[uint16][]string
	bytes   string // one-byte literals
	exprs   []compiledExpr
	arounds []compiledAround
}

var getMatcher = sync.OnceValue(func() *matcher {
	m := &matcher{byPair: make(map[uint16][]string)}
	for _, p := range prefixes {
		m.prefixes[p[0]] = append(m.prefixes[p[0]], p)
	}
	for _, l := range literals {
		if len(l) == 1 {
			m.bytes += l
			continue
		}
		pair := uint16(l[0])<<8 | uint16(l[1])
		m.pairs[pair/64] |= 1 << (pair % 64)
		m.byPair[pair] = append(m.byPair[pair], l)
	}
	for _, e := range exprs {
		m.exprs = append(m.exprs, compiledExpr{regexp.MustCompile("(?i)" + e.source), e.lit})
	}
	for _, a := range lookarounds {
		c := compiledAround{core: regexp.MustCompile("(?i)" + a.core), lit: a.lit}
		if a.behind != "" {
			c.behind = regexp.MustCompile("(?i)" + a.behind)
		}
		if a.ahead != "" {
			c.ahead = regexp.MustCompile("(?i)" + a.ahead)
		}
		m.arounds = append(m.arounds, c)
	}
	return m
})

// maxLen is the longest User-Agent checked as it is; longer ones are bots
// by isbot's own rule ^[^ ]{50,}$ or are checked on their first maxLen
// bytes, which bounds the time a request can make IsBot take.
const maxLen = 1024

// IsBot reports whether ua is the User-Agent of a bot, crawler or other
// program rather than a person's browser, as isbot does. An empty
// User-Agent is not a bot here, as in isbot: the caller decides (package
// counter counts it as a bot, since every browser sends one).
//
// IsBot remembers its last few thousand verdicts, by a hash of the
// User-Agent with a per-process random seed (never the string), so that the
// User-Agents a site sees all day cost a hash and a map look-up; a new one
// costs a few microseconds. It does not allocate.
func IsBot(ua string) bool {
	if ua == "" {
		return false
	}
	h := maphash.String(cacheSeed, ua)
	cache.mu.RLock()
	v, ok := cache.m[h]
	cache.mu.RUnlock()
	if ok {
		return v
	}
	v = isBot(ua)
	cache.mu.Lock()
	if len(cache.m) >= cacheSize {
		clear(cache.m) // many distinct User-Agents: start over rather than grow
	}
	cache.m[h] = v
	cache.mu.Unlock()
	return v
}

// cacheSize bounds the verdicts IsBot remembers (16 bytes or so each).
const cacheSize = 4096

var (
	cacheSeed = maphash.MakeSeed()
	cache     = struct {
		mu sync.RWMutex
		m  map[uint64]bool
	}{m: make(map[uint64]bool, cacheSize)}
)

// isBot is IsBot without the cache.
func isBot(ua string) bool {
	if len(ua) > maxLen {
		ua = ua[:maxLen]
	}
	buf := bufPool.Get().(*[maxLen]byte)
	defer bufPool.Put(buf)
	lower := buf[:len(ua)]
	for i := 0; i < len(ua); i++ {
		c := ua[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	// The string lives only during match; buf is not written meanwhile.
	return getMatcher().match(unsafe.String(&lower[0], len(lower))) //nolint:gosec // G103: a view of buf for the match only, see above
}

// bufPool holds the buffers IsBot lowers User-Agents into.
var bufPool = sync.Pool{New: func() any { return new([maxLen]byte) }}

func (m *matcher) match(s string) bool {
	for _, p := range m.prefixes[s[0]] {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	if strings.ContainsAny(s, m.bytes) {
		return true
	}
	for i := 0; i+1 < len(s); i++ {
		pair := uint16(s[i])<<8 | uint16(s[i+1])
		if m.pairs[pair/64]&(1<<(pair%64)) == 0 {
			continue
		}
		for _, l := range m.byPair[pair] {
			if strings.HasPrefix(s[i:], l) {
				return true
			}
		}
	}
	for _, e := range m.exprs {
		if (e.lit == "" || strings.Contains(s, e.lit)) && e.re.MatchString(s) {
			return true
		}
	}
	for _, a := range m.arounds {
		if a.lit != "" && !strings.Contains(s, a.lit) {
			continue
		}
		// Every match of core, leftmost first. The cores are short words
		// that cannot overlap themselves, so no candidate is skipped.
		for _, loc := range a.core.FindAllStringIndex(s, -1) {
			if a.behind != nil && a.behind.MatchString(s[:loc[0]]) {
				continue
			}
			if a.ahead != nil && a.ahead.MatchString(s[loc[1]:]) {
				continue
			}
			return true
		}
	}
	return false
}
