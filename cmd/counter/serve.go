package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/examples/web"
)

var serveCommand = &command{
	name:    "serve",
	summary: "serve the counts, badges, charts and pages below",
	help: `Serve counts the visits of any valid key and answers:
` + routesHelp + `
It logs to standard error and stops gracefully on SIGINT or SIGTERM,
letting requests in flight finish.

Settings, from the environment:
  COUNTER_HOST, PORT         the address to listen on (default :8080)
  COUNTER_ALLOWED_ORIGINS    origins whose pages may read the JSON (CORS),
                             comma-separated: https://me.example
  COUNTER_KEYS               the only keys counted, comma-separated (others 404)
  COUNTER_RATE_LIMIT         requests per client address: 10/s, 600/m, 5000/h
  COUNTER_RATE_BURST         requests a client may send at once (default: the rate's number)
  COUNTER_TRUST_PROXY        proxies in front appending to X-Forwarded-For (default 0)
  COUNTER_VISITORS           on (default): count unique visitors where the store
                             keeps them, and leave bots uncounted; off: hits only
  COUNTER_ADMIN_TOKEN        enables the owner's routes, with this bearer token
                             (at least 32 characters: openssl rand -hex 32):
                             PUT /admin/{key} {"count":N}, GET /admin/export,
                             POST /admin/import (see docs/command.md)
  COUNTER_METRICS_ADDR       serve Prometheus metrics at /metrics on this
                             address of its own (127.0.0.1:9090); default: none
  COUNTER_LOG_FORMAT         text (default) or json
  COUNTER_LOG_LEVEL          debug, info (default), warn or error
  COUNTER_ACCESS_LOG         on: log every request (method, route, path, status,
                             bytes, duration; never an address or User-Agent)

/healthz answers 200 while the server runs; /readyz 200 when the store
answers a read within 2s, else 503. Neither counts or is rate-limited.
` + "\n" + storeHelp(),
	flags: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
		return func(ctx context.Context, c *cli, args []string) error {
			if len(args) > 0 {
				return usagef("serve takes no arguments; settings come from the environment")
			}
			log, err := newLogger(c.getenv, c.stderr)
			if err != nil {
				return err
			}
			if err := c.serve(ctx, log); err != nil {
				log.Error("server failed", "err", err.Error())
				return errReported
			}
			return nil
		}
	},
}

// routesHelp lists what counter serve answers, for -h.
const routesHelp = `  /api/{key}     the count as JSON: {"key","count","visitors","today"}
  /badge/{key}   an SVG badge of the count
  /chart/{key}   an SVG chart of the last days (stores that keep days)
  /              the example page (examples/web); /stats.html, a key's stats;
                 /counter.js and /stats.js, their scripts
  /admin/...     the owner's routes, when COUNTER_ADMIN_TOKEN is set
`

// shutdownTimeout bounds how long in-flight requests may take to finish
// after a stop signal; the handlers' own 3s store timeout comes first.
const shutdownTimeout = 10 * time.Second

// serve runs the server until ctx ends, then lets requests in flight finish.
func (c *cli) serve(ctx context.Context, log *slog.Logger) error {
	opts := counter.HandlerOptions{
		AllowedOrigins: list(c.getenv("COUNTER_ALLOWED_ORIGINS")),
		Keys:           list(c.getenv("COUNTER_KEYS")),
		Logger:         log,
	}
	for _, k := range opts.Keys {
		if err := counter.CheckKey(k); err != nil {
			return fmt.Errorf("COUNTER_KEYS: %w", err)
		}
	}
	for _, o := range opts.AllowedOrigins {
		if err := counter.CheckOrigin(o); err != nil {
			return fmt.Errorf("COUNTER_ALLOWED_ORIGINS: %w", err)
		}
	}
	maxKeys, err := maxKeysFromEnv(c.getenv)
	if err != nil {
		return err
	}
	limit, err := limiterFromEnv(c.getenv)
	if err != nil {
		return err
	}
	proxies, err := trustProxyFromEnv(c.getenv)
	if err != nil {
		return err
	}
	token, err := adminTokenFromEnv(c.getenv)
	if err != nil {
		return err
	}
	logRequests, err := accessLogFromEnv(c.getenv)
	if err != nil {
		return err
	}
	metricsAddr, err := metricsAddrFromEnv(c.getenv)
	if err != nil {
		return err
	}

	opened, err := c.open(ctx, storeConfig{getenv: c.getenv, log: log, maxKeys: maxKeys, serving: true, create: true})
	if err != nil {
		return err
	}
	// On early errors; the normal path closes it below and reports its error.
	defer func() { _ = opened.Close() }()
	plain, ok := opened.store.(store)
	if !ok {
		return fmt.Errorf("%s cannot count and read (counter.Incrementer and counter.Reader)", opened.desc)
	}
	ready := &readiness{store: plain, log: log} // unmetered: probes are no store traffic
	var m *metrics
	if metricsAddr != "" {
		m = newMetrics()
		plain = m.meter(plain)
	}
	counted, err := withVisitors(plain, c.getenv, log)
	if err != nil {
		return err
	}
	api, badges := counter.JSONHandler(counted, opts), counter.BadgeHandler(counted, opts)
	if limit != nil {
		api, badges = limit.wrap(api, false, opts.AllowedOrigins), limit.wrap(badges, true, opts.AllowedOrigins)
		log.Info("rate limit per client", "per_second", float64(limit.limit), "burst", limit.burst, "trusted_proxies", limit.proxies)
	}
	if opts.Keys != nil {
		log.Info("keys allowed", "keys", opts.Keys)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(healthzPattern, healthz)
	mux.Handle(readyzPattern, ready)
	mux.Handle("/api/{key}", api)
	mux.Handle("/badge/{key}", badges)
	if days, ok := counted.(counter.DayReader); ok {
		chart := counter.ChartHandler(days, opts)
		if limit != nil {
			chart = limit.wrap(chart, true, opts.AllowedOrigins)
		}
		mux.Handle("/chart/{key}", chart)
	}
	mux.Handle("/", withPagePolicy(http.FileServerFS(web.Files)))
	if token != "" {
		a, err := newAdmin(opened, token, proxies, log, c.now)
		if err != nil {
			return err
		}
		mux.Handle("/admin/", a)
		log.Info("admin routes enabled at /admin/ (COUNTER_ADMIN_TOKEN)")
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(c.getenv("COUNTER_HOST"), cmp.Or(c.getenv("PORT"), "8080")))
	if err != nil {
		return err
	}
	var handler http.Handler = mux
	if m != nil {
		handler = m.handler(handler)
	}
	if logRequests {
		handler = accessLog(handler, log)
	}
	srv := &http.Server{
		Handler:           nosniff(handler),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 2)
	if m != nil {
		msrv, err := m.serve(metricsAddr, log, served)
		if err != nil {
			_ = ln.Close()
			return err
		}
		defer func() { _ = msrv.Close() }()
	}
	go func() { served <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "origins", opts.AllowedOrigins)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := opened.Close(); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// store is what the handlers need: counting, and reading for ?hit=false.
type store interface {
	counter.Incrementer
	counter.Reader
}

// withVisitors counts unique visitors on store when it keeps them, unless
// COUNTER_VISITORS=off; COUNTER_TRUST_PROXY names the client as for the
// rate limit.
func withVisitors(s store, getenv func(string) string, log *slog.Logger) (store, error) {
	switch v := strings.TrimSpace(getenv("COUNTER_VISITORS")); v {
	case "", "on":
	case "off":
		log.Info("visitors: off (COUNTER_VISITORS=off): counting hits only")
		return s, nil
	default:
		return nil, fmt.Errorf("COUNTER_VISITORS=%s: want on (the default) or off", v)
	}
	vs, ok := s.(counter.VisitStore)
	if !ok {
		log.Info("visitors: off: the store does not keep visitors", "store", fmt.Sprintf("%T", s))
		return s, nil
	}
	proxies, err := trustProxyFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	log.Info("visitors: on", "trusted_proxies", proxies)
	return counter.NewVisitors(vs, counter.VisitorOptions{TrustProxy: proxies, Logger: log}), nil
}

// list splits a comma-separated list, dropping blanks.
func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
