// Command server is a visit counter server: JSON at /api/{key}, SVG badges
// at /badge/{key} and the example page at /. It is configured by environment
// variables (see README.md) and stops gracefully on SIGINT or SIGTERM.
//
//	go run ./examples/server
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/boltstore"
	"github.com/resumecounter/counter/examples/web"
)

// shutdownTimeout bounds how long in-flight requests may take to finish
// after a stop signal; the handlers' own 3s store timeout comes first.
const shutdownTimeout = 10 * time.Second

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("server failed", "err", err.Error())
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	opts := counter.HandlerOptions{
		AllowedOrigins: list(os.Getenv("COUNTER_ALLOWED_ORIGINS")),
		Keys:           list(os.Getenv("COUNTER_KEYS")),
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
	maxKeys, err := maxKeysFromEnv()
	if err != nil {
		return err
	}
	limit, err := limiterFromEnv(os.Getenv)
	if err != nil {
		return err
	}

	store, closeStore, err := openStore(ctx, log, maxKeys)
	if err != nil {
		return err
	}
	// On early errors; the normal path closes it below and reports its error.
	defer func() { _ = closeStore() }()

	counted, err := withVisitors(store, os.Getenv, log)
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
	mux.Handle("/api/{key}", api)
	mux.Handle("/badge/{key}", badges)
	mux.Handle("/", http.FileServerFS(web.Files))

	ln, err := net.Listen("tcp", net.JoinHostPort(os.Getenv("COUNTER_HOST"), cmp.Or(os.Getenv("PORT"), "8080")))
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "origins", opts.AllowedOrigins)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal now kills the process at once
	log.Info("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := closeStore(); err != nil {
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

// defaultMaxKeys caps the distinct keys of the bolt and memory stores unless
// COUNTER_MAX_KEYS says otherwise, so made-up keys cannot fill the disk or
// the memory.
const defaultMaxKeys = boltstore.DefaultMaxKeys

// maxKeysFromEnv reads COUNTER_MAX_KEYS: a number of keys, 0 for no cap.
func maxKeysFromEnv() (int, error) {
	s := strings.TrimSpace(os.Getenv("COUNTER_MAX_KEYS"))
	if s == "" {
		return defaultMaxKeys, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("COUNTER_MAX_KEYS=%s: want a number of keys (0: no cap)", s)
	}
	return n, nil
}

// openStore opens the store that COUNTER_STORE names, with at most maxKeys
// keys (0: no cap) where the store has a cap. Its close function may be
// called more than once.
func openStore(ctx context.Context, log *slog.Logger, maxKeys int) (store, func() error, error) {
	noClose := func() error { return nil }
	switch kind := os.Getenv("COUNTER_STORE"); kind {
	case "", "bolt":
		path := cmp.Or(os.Getenv("COUNTER_DATA"), "counter.db")
		s, err := boltstore.Open(path, boltstore.Options{MaxKeys: cmp.Or(maxKeys, -1)})
		if err != nil {
			return nil, nil, err
		}
		keys, _ := s.NumKeys()
		log.Info("store: bbolt file", "path", path, "keys", keys, "max_keys", maxKeys)
		closed := false
		return s, func() error {
			if closed {
				return nil
			}
			closed = true
			return s.Close()
		}, nil
	case "memory":
		log.Info("store: memory (counts are lost when the server stops)", "max_keys", maxKeys)
		return counter.NewMemoryLimit(maxKeys), noClose, nil
	case "dynamodb":
		cfg, err := config.LoadDefaultConfig(ctx) // AWS_REGION, credentials, AWS_ENDPOINT_URL_DYNAMODB
		if err != nil {
			return nil, nil, fmt.Errorf("AWS configuration: %w", err)
		}
		client := dynamodb.NewFromConfig(cfg)
		table := cmp.Or(os.Getenv("COUNTER_TABLE"), counter.DefaultTable)
		if err := checkTable(ctx, client, table, cfg.Region); err != nil {
			return nil, nil, err
		}
		log.Info("store: DynamoDB", "table", table, "region", cfg.Region)
		return counter.NewDynamo(client, counter.DynamoOptions{Table: table}), noClose, nil
	default:
		return nil, nil, fmt.Errorf("COUNTER_STORE=%s: want bolt (the default), memory or dynamodb", kind)
	}
}

// checkTable fails at startup, in one line, when the table is missing or
// keyed differently, rather than at every request.
func checkTable(ctx context.Context, client *dynamodb.Client, table, region string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
	var notFound *types.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("DynamoDB table %s not found in region %s: create it with string partition key %s, or set COUNTER_TABLE",
			table, region, counter.DefaultPartitionKey)
	case err != nil:
		return fmt.Errorf("DynamoDB table %s in region %s: %w", table, region, err)
	}
	for _, k := range out.Table.KeySchema {
		if k.KeyType == types.KeyTypeHash && *k.AttributeName != counter.DefaultPartitionKey {
			return fmt.Errorf("DynamoDB table %s has partition key %s, want %s", table, *k.AttributeName, counter.DefaultPartitionKey)
		}
	}
	return nil
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
