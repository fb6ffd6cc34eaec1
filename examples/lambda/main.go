// Command lambda is a visitor counter for AWS Lambda behind a Function URL
// (or an API Gateway HTTP API), counting in DynamoDB:
//
//	GET /api/{key}    {"key":"...","count":N,"visitors":N,"today":{...}} for fetch()
//	GET /badge/{key}  an SVG badge for <img>
//	GET /chart/{key}  an SVG chart of the last days
//	GET /             the JSON answer for the default key
//
// Configuration comes from the environment:
//
//	COUNTER_TABLE            DynamoDB table (default cloud-resume-stats, key id)
//	COUNTER_DEFAULT_KEY      key counted at / (default visitors)
//	COUNTER_COUNT_ATTRIBUTE  number attribute holding counts (default count)
//	COUNTER_ALLOWED_ORIGINS  comma-separated origins allowed by CORS; empty: no
//	                         CORS headers. The function answers CORS itself:
//	                         leave the Function URL's CORS settings empty, or
//	                         browsers see the headers twice and refuse them
//	COUNTER_KEYS             comma-separated keys that may be counted; others
//	                         answer 404 and are never written (default: any)
//	COUNTER_VISITORS         on (default): count unique visitors too; off:
//	                         one write per visit, hits only
//	COUNTER_TRUST_PROXY      proxies (a CDN) in front of the function whose
//	                         X-Forwarded-For entries name the client (default 0)
//	AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB, ...  as for any AWS SDK program
//
// See docs/deploy-aws.md for building and deploying.
package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/lambdahttp"
)

func main() {
	// Everything before lambda.Start runs once per execution environment,
	// in Lambda's init phase: the SDK config and client are shared by all
	// invocations.
	h, err := newHandler(context.Background(), os.Getenv)
	if err != nil {
		slog.Error("counter: init", "err", err)
		os.Exit(1)
	}
	lambda.Start(lambdahttp.Handler(h))
}

// newHandler builds the routes from the configuration that getenv reads.
func newHandler(ctx context.Context, getenv func(string) string) (http.Handler, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("counter: load AWS config: %w", err)
	}
	store := counter.NewDynamo(dynamodb.NewFromConfig(cfg), counter.DynamoOptions{
		Table:          getenv("COUNTER_TABLE"),
		CountAttribute: getenv("COUNTER_COUNT_ATTRIBUTE"),
	})
	// Warn once per execution environment when the table keeps visitor
	// markers and salts forever (TTL off), or say how to check when the
	// role may not ask; in the background, so that the first answer does
	// not wait for it.
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = store.LogTTL(ctx, slog.Default())
	}()
	opts := counter.HandlerOptions{
		DefaultKey:     getenv("COUNTER_DEFAULT_KEY"),
		AllowedOrigins: splitList(getenv("COUNTER_ALLOWED_ORIGINS")),
		Keys:           splitList(getenv("COUNTER_KEYS")),
	}
	for _, k := range opts.Keys {
		if err := counter.CheckKey(k); err != nil {
			return nil, fmt.Errorf("counter: COUNTER_KEYS: %w", err)
		}
	}
	for _, o := range opts.AllowedOrigins {
		if err := counter.CheckOrigin(o); err != nil {
			return nil, fmt.Errorf("COUNTER_ALLOWED_ORIGINS: %w", err)
		}
	}
	if opts.DefaultKey != "" {
		if err := counter.CheckKey(opts.DefaultKey); err != nil {
			return nil, fmt.Errorf("counter: COUNTER_DEFAULT_KEY: %w", err)
		}
	}
	var counted counter.Incrementer = store
	switch v := strings.TrimSpace(getenv("COUNTER_VISITORS")); v {
	case "", "on":
		if vs, ok := counted.(counter.VisitStore); ok {
			proxies, err := strconv.Atoi(cmp.Or(strings.TrimSpace(getenv("COUNTER_TRUST_PROXY")), "0"))
			if err != nil || proxies < 0 {
				return nil, fmt.Errorf("counter: COUNTER_TRUST_PROXY=%s: want the number of proxies in front (0, 1, 2…)", getenv("COUNTER_TRUST_PROXY"))
			}
			counted = counter.NewVisitors(vs, counter.VisitorOptions{TrustProxy: proxies})
		}
	case "off":
	default:
		return nil, fmt.Errorf("counter: COUNTER_VISITORS=%s: want on (the default) or off", v)
	}
	jsonHandler := counter.JSONHandler(counted, opts)
	mux := http.NewServeMux()
	// No method in the patterns: the handlers answer OPTIONS (CORS
	// preflight) and HEAD themselves and refuse other methods.
	mux.Handle("/api/{key}", jsonHandler)
	mux.Handle("/badge/{key}", counter.BadgeHandler(counted, opts))
	mux.Handle("/{$}", jsonHandler)
	if days, ok := counted.(counter.DayReader); ok {
		mux.Handle("/chart/{key}", counter.ChartHandler(days, opts))
	}
	return mux, nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
