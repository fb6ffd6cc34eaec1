package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// newLogger makes the server's logger from COUNTER_LOG_FORMAT (text, the
// default, or json) and COUNTER_LOG_LEVEL (debug, info, the default, warn
// or error), writing to w.
func newLogger(getenv func(string) string, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	switch v := strings.ToLower(strings.TrimSpace(getenv("COUNTER_LOG_LEVEL"))); v {
	case "", "info":
		level = slog.LevelInfo
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, fmt.Errorf("COUNTER_LOG_LEVEL=%s: want debug, info (the default), warn or error", v)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch v := strings.ToLower(strings.TrimSpace(getenv("COUNTER_LOG_FORMAT"))); v {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("COUNTER_LOG_FORMAT=%s: want text (the default) or json", v)
	}
}

// accessLogFromEnv reads COUNTER_ACCESS_LOG: on logs every request, off
// (the default) none.
func accessLogFromEnv(getenv func(string) string) (bool, error) {
	switch v := strings.ToLower(strings.TrimSpace(getenv("COUNTER_ACCESS_LOG"))); v {
	case "", "off":
		return false, nil
	case "on":
		return true, nil
	default:
		return false, fmt.Errorf("COUNTER_ACCESS_LOG=%s: want off (the default) or on", v)
	}
}

// accessLog logs one line per request after next answers it: method,
// route, path, status, bytes, duration and why a visit did not count. It
// never logs the client's address, User-Agent, query string or any other
// header: the query may hold a visit id, and the rest identifies people.
// Health checks log at debug level, so that a load balancer asking every
// second does not fill the log.
func accessLog(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		level := slog.LevelInfo
		if r.Pattern == healthzPattern || r.Pattern == readyzPattern {
			level = slog.LevelDebug
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("route", routeOf(r)),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.code()),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", time.Since(start)),
		}
		if skip := rec.Header().Get("Counter-Not-Counted"); skip != "" {
			attrs = append(attrs, slog.String("not_counted", skip))
		}
		log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// statusRecorder remembers the status and size of an answer.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(p)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// code is the status sent, 200 if the handler wrote nothing.
func (s *statusRecorder) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// routeOf names the route that served r: the ServeMux pattern ("/api/{key}"),
// so that a label or log field never holds a key or a made-up path; "none"
// when no route matched.
func routeOf(r *http.Request) string {
	if r.Pattern == "" {
		return "none"
	}
	return r.Pattern
}
