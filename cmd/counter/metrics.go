package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/resumecounter/counter"
)

// metrics holds the server's Prometheus metrics. Every label takes values
// from a fixed set (routes, status codes, reasons, operations, error
// kinds): never a key, an address or a User-Agent.
type metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec   // route, code
	duration      *prometheus.HistogramVec // route
	visits        *prometheus.CounterVec   // result
	storeDuration *prometheus.HistogramVec // op
	storeErrors   *prometheus.CounterVec   // op, kind
	markersFull   prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "counter_http_requests_total",
			Help: "HTTP requests answered, by route (the server's URL pattern) and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "counter_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		visits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "counter_visits_total",
			Help: "Successful answers of the counting routes, by result: counted, or why not (bot, repeat, opt-out, read-only).",
		}, []string{"result"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "counter_store_duration_seconds",
			Help:    "Time of a store call, by operation, failed calls included.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 3},
		}, []string{"op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "counter_store_errors_total",
			Help: "Failed store calls, by operation and kind (timeout, canceled, markers_full, overflow, unsupported, other).",
		}, []string{"op", "kind"}),
		markersFull: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "counter_marker_cap_reached_total",
			Help: "Visits the store refused to mark because its visitor markers were full; they count as hits only.",
		}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.visits, m.storeDuration, m.storeErrors, m.markersFull,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{"counted", "bot", "repeat", "opt-out", "read-only"} {
		m.visits.WithLabelValues(r)
	}
	return m
}

// countingRoutes are the routes whose answers say whether they counted.
var countingRoutes = map[string]bool{"/api/{key}": true, "/badge/{key}": true, "/chart/{key}": true}

// handler counts and times the requests next answers.
func (m *metrics) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		route, code := routeOf(r), rec.code()
		m.requests.WithLabelValues(route, fmt.Sprint(code)).Inc()
		m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		if countingRoutes[r.Pattern] && code < 300 {
			result := "counted"
			if skip := rec.Header().Get("Counter-Not-Counted"); skip != "" {
				result = skip
			}
			if isResult(result) {
				m.visits.WithLabelValues(result).Inc()
			}
		}
	})
}

// isResult keeps the result label to "counted" and the reasons the
// handlers send.
func isResult(result string) bool {
	switch counter.Skip(result) {
	case counter.SkipBot, counter.SkipRepeat, counter.SkipOptOut, counter.SkipReadOnly:
		return true
	}
	return result == "counted"
}

// observe records one store call that started at start and ended with err.
func (m *metrics) observe(op string, start time.Time, err error) {
	m.storeDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err == nil {
		return
	}
	kind := errorKind(err)
	if kind == "markers_full" {
		m.markersFull.Inc()
	}
	m.storeErrors.WithLabelValues(op, kind).Inc()
}

// errorKind sorts a store error into a few kinds for a label.
func errorKind(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, counter.ErrMarkersFull):
		return "markers_full"
	case errors.Is(err, counter.ErrOverflow):
		return "overflow"
	case errors.Is(err, errors.ErrUnsupported):
		return "unsupported"
	}
	return "other"
}

// meter decorates s so that each call is timed and its errors counted. The
// result implements counter.VisitStore and counter.HistoryReader exactly
// when s does, so the server's choices (visitors, the chart) do not change.
func (m *metrics) meter(s store) store {
	base := meteredStore{s: s, m: m}
	vs, ok := s.(counter.VisitStore)
	if !ok {
		return &base
	}
	visits := meteredVisits{meteredStore: base, vs: vs}
	if h, ok := s.(counter.HistoryReader); ok {
		return &meteredHistory{meteredVisits: visits, h: h}
	}
	return &visits
}

type meteredStore struct {
	s store
	m *metrics
}

func (s *meteredStore) Increment(ctx context.Context, key string) (int64, error) {
	start := time.Now()
	n, err := s.s.Increment(ctx, key)
	s.m.observe("increment", start, err)
	return n, err
}

func (s *meteredStore) Count(ctx context.Context, key string) (int64, error) {
	start := time.Now()
	n, err := s.s.Count(ctx, key)
	s.m.observe("count", start, err)
	return n, err
}

type meteredVisits struct {
	meteredStore
	vs counter.VisitStore
}

func (s *meteredVisits) RecordVisit(ctx context.Context, v counter.Visit) (counter.Stats, bool, error) {
	start := time.Now()
	st, counted, err := s.vs.RecordVisit(ctx, v)
	s.m.observe("record_visit", start, err)
	return st, counted, err
}

func (s *meteredVisits) Stats(ctx context.Context, key string, today counter.Date) (counter.Stats, error) {
	start := time.Now()
	st, err := s.vs.Stats(ctx, key, today)
	s.m.observe("stats", start, err)
	return st, err
}

func (s *meteredVisits) DaySalt(ctx context.Context, day counter.Date, fresh []byte) ([]byte, error) {
	start := time.Now()
	salt, err := s.vs.DaySalt(ctx, day, fresh)
	s.m.observe("day_salt", start, err)
	return salt, err
}

type meteredHistory struct {
	meteredVisits
	h counter.HistoryReader
}

func (s *meteredHistory) History(ctx context.Context, key string, first, last counter.Date) ([]counter.Day, error) {
	start := time.Now()
	days, err := s.h.History(ctx, key, first, last)
	s.m.observe("history", start, err)
	return days, err
}

var (
	_ counter.VisitStore    = (*meteredVisits)(nil)
	_ counter.HistoryReader = (*meteredHistory)(nil)
)

// metricsAddrFromEnv reads COUNTER_METRICS_ADDR: the address of the
// metrics listener (127.0.0.1:9090, say), or "" (the default) for no
// metrics at all.
func metricsAddrFromEnv(getenv func(string) string) (string, error) {
	addr := strings.TrimSpace(getenv("COUNTER_METRICS_ADDR"))
	if addr == "" {
		return "", nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", fmt.Errorf("COUNTER_METRICS_ADDR=%s: want host:port, as 127.0.0.1:9090: %w", addr, err)
	}
	return addr, nil
}

// serveMetrics starts the metrics listener on addr: GET /metrics in the
// Prometheus text format, nothing else. It returns the server to shut down.
func (m *metrics) serve(addr string, log *slog.Logger, served chan<- error) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("COUNTER_METRICS_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError),
	}))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      15 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			served <- fmt.Errorf("metrics listener: %w", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String(), "path", "/metrics")
	return srv, nil
}
