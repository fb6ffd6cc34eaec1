package main

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/resumecounter/counter"
)

// The health routes. They are registered on the server's mux before any
// counting route, outside the rate limit and the visitor counting.
const (
	healthzPattern = "GET /healthz"
	readyzPattern  = "GET /readyz"
)

// readyTimeout bounds how long /readyz waits for the store.
const readyTimeout = 2 * time.Second

// readyKey is the key /readyz reads. Reading never creates it.
const readyKey = "readyz-probe"

// healthz answers 200 while the process serves: for a liveness probe.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// readiness answers /readyz: 200 when the store answers a read within
// readyTimeout, else 503. The reason goes to the log, never to the body.
// Probes arriving while one is in flight share its answer, so that many
// callers cost one store read.
type readiness struct {
	store counter.Reader
	log   *slog.Logger

	mu       sync.Mutex
	inflight *probe
	failing  bool // the last probe failed: log only changes
}

type probe struct {
	done chan struct{}
	ok   bool
}

func (h *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !h.check(r.Context()) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// check reads the probe key, or waits for the read in flight.
func (h *readiness) check(ctx context.Context) bool {
	h.mu.Lock()
	p := h.inflight
	if p == nil {
		p = &probe{done: make(chan struct{})}
		h.inflight = p
		go h.run(ctx, p)
	}
	h.mu.Unlock()
	select {
	case <-p.done:
		return p.ok
	case <-ctx.Done():
		return false
	}
}

func (h *readiness) run(ctx context.Context, p *probe) {
	// The probe serves every waiting caller: it ignores the first
	// caller's cancellation, not its deadline budget.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
	defer cancel()
	_, err := h.store.Count(ctx, readyKey)
	p.ok = err == nil
	h.mu.Lock()
	h.inflight = nil
	switch {
	case err != nil && !h.failing:
		h.log.Warn("not ready: the store did not answer", "timeout", readyTimeout, "err", err.Error())
	case err == nil && h.failing:
		h.log.Info("ready: the store answers again")
	}
	h.failing = err != nil
	h.mu.Unlock()
	close(p.done)
}
