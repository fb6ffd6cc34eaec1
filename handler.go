package counter

// PLACEHOLDER: the API below is the contract; the behaviour is a minimal
// stand-in until the full handlers land.

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"
)

// HandlerOptions configures [JSONHandler] and [BadgeHandler]. The zero value
// works.
type HandlerOptions struct {
	// DefaultKey is counted when the request has no {key} path value.
	// Default: "visitors".
	DefaultKey string
	// AllowedOrigins lists the origins allowed to read responses from
	// scripts (CORS). Default: none, and no CORS headers at all.
	AllowedOrigins []string
	// Timeout bounds each request's store call. Default: 3s.
	Timeout time.Duration
	// Logger receives store errors. Default: slog.Default().
	Logger *slog.Logger
}

// JSONHandler counts a visit and answers {"key":"visitors","count":1234}.
func JSONHandler(inc Incrementer, opts HandlerOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		if key == "" {
			key = "visitors"
		}
		n, err := inc.Increment(r.Context(), key)
		if err != nil {
			http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		json.NewEncoder(w).Encode(map[string]any{"key": key, "count": n})
	})
}

// BadgeHandler counts a visit and answers with an SVG badge.
func BadgeHandler(inc Incrementer, opts HandlerOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		if key == "" {
			key = "visitors"
		}
		n, err := inc.Increment(r.Context(), key)
		if err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Write(Badge{Label: "visitors", Message: string(AppendNumber(nil, n, FormatGrouped))}.AppendSVG(nil))
	})
}
