package counter_test

// Failure behaviour of counter.Dynamo against dynalite behind a fault
// proxy: which faults each RetryPolicy retries, what a failed increment
// leaves in the table, and how far an ambiguous failure can over-count.
// The figures asserted here are the ones README's "Failure behaviour"
// section reports.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/internal/faultproxy"
	"github.com/resumecounter/counter/internal/testenv"
)

// faultAttempts is the DynamoDB client's default number of attempts, kept
// by the tests' retryer (only its backoff is shortened).
const faultAttempts = 4

var policies = []counter.RetryPolicy{counter.RetrySDK, counter.RetryUnsent, counter.RetryNever}

func policyName(p counter.RetryPolicy) string {
	return [...]string{"RetrySDK", "RetryUnsent", "RetryNever"}[p]
}

// faultEnv is a Dynamo store whose client reaches dynalite through a fault
// proxy, and a direct client that reads the truth.
type faultEnv struct {
	proxy *faultproxy.Proxy
	store *counter.Dynamo
	truth *counter.Dynamo // same table, direct client, consistent reads

	refused   atomic.Int64 // dial attempts refused
	healAfter int64        // refused dials after which the proxy switches to Pass; 0: never

	mu       sync.Mutex
	backoffs []error // the errors after which the retryer backed off
}

// newFaultEnv makes a fresh table and a store with policy on it. When the
// test ends it checks that no goroutine outlived it.
func newFaultEnv(t *testing.T, policy counter.RetryPolicy) *faultEnv {
	t.Helper()
	endpoint := testenv.DynaliteEndpoint(t) // dynalite's own goroutines start before the count
	directTr := awshttp.NewBuildableClient().GetTransport()
	proxyTr := awshttp.NewBuildableClient().GetTransport()
	before := runtime.NumGoroutine()
	t.Cleanup(func() { checkNoGoroutineLeak(t, before, directTr, proxyTr) }) // registered first, runs last

	direct := testenv.DynamoClient(endpoint, func(o *dynamodb.Options) { o.HTTPClient = &http.Client{Transport: directTr} })
	table := testenv.CreateTable(t, direct, counter.DefaultPartitionKey)
	e := &faultEnv{
		proxy: faultproxy.New(t, endpoint),
		truth: counter.NewDynamo(direct, counter.DynamoOptions{Table: table, ConsistentRead: true}),
	}

	dial := proxyTr.DialContext
	proxyTr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if errors.Is(err, syscall.ECONNREFUSED) {
			if n := e.refused.Add(1); n == e.healAfter {
				e.proxy.Set(faultproxy.Pass)
			}
		}
		return c, err
	}
	retryer := retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = faultAttempts
		o.Backoff = retry.BackoffDelayerFunc(func(_ int, err error) (time.Duration, error) {
			e.mu.Lock()
			e.backoffs = append(e.backoffs, err)
			e.mu.Unlock()
			return time.Millisecond, nil
		})
	})
	client := testenv.DynamoClient(e.proxy.URL(), func(o *dynamodb.Options) {
		o.HTTPClient = &http.Client{Transport: proxyTr}
		o.Retryer = retryer
	})
	e.store = counter.NewDynamo(client, counter.DynamoOptions{Table: table, Retry: policy})
	return e
}

func (e *faultEnv) increment(timeout time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return e.store.Increment(ctx, "visitors")
}

// count reads the stored count directly from dynalite.
func (e *faultEnv) count(t *testing.T) int64 {
	t.Helper()
	n, err := e.truth.Count(context.Background(), "visitors")
	if err != nil {
		t.Fatalf("read the stored count: %v", err)
	}
	return n
}

// healthy checks that counting continues once the proxy passes requests.
func (e *faultEnv) healthy(t *testing.T) {
	t.Helper()
	e.proxy.Set(faultproxy.Pass)
	want := e.count(t) + 1
	if n, err := e.increment(5 * time.Second); err != nil || n != want {
		t.Fatalf("Increment once healthy = %d, %v; want %d", n, err, want)
	}
	if c := e.count(t); c != want {
		t.Fatalf("stored count once healthy = %d, want %d", c, want)
	}
}

// checkNoGoroutineLeak waits until the process runs no more goroutines than
// before, closing the idle connections of the clients' transports (their
// read and write loops are goroutines) on each try.
func checkNoGoroutineLeak(t *testing.T, before int, transports ...*http.Transport) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, tr := range transports {
			tr.CloseIdleConnections()
		}
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutine leak: %d goroutines 5s after the test, %d before it\n%s", n, before, buf)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func isThrottle(err error) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	_, ok := retry.DefaultThrottleErrorCodes[apiErr.ErrorCode()]
	return ok
}

// TestFaultTransient: two failed attempts, then a healthy DynamoDB. A
// policy that retries the fault counts the visit exactly once; one that
// does not returns the error, and since these faults never reach DynamoDB,
// nothing is written.
func TestFaultTransient(t *testing.T) {
	const failures = 2
	for _, tc := range []struct {
		mode    faultproxy.Mode
		retried map[counter.RetryPolicy]bool
	}{
		{faultproxy.Throttle, map[counter.RetryPolicy]bool{counter.RetrySDK: true, counter.RetryUnsent: true}},
		{faultproxy.Throttling, map[counter.RetryPolicy]bool{counter.RetrySDK: true, counter.RetryUnsent: true}},
		{faultproxy.Refuse, map[counter.RetryPolicy]bool{counter.RetrySDK: true, counter.RetryUnsent: true}},
		// Unsent, but the client cannot tell: after a reset or a 500 the
		// write may have been applied, so RetryUnsent does not retry.
		{faultproxy.Reset, map[counter.RetryPolicy]bool{counter.RetrySDK: true}},
		{faultproxy.Status500, map[counter.RetryPolicy]bool{counter.RetrySDK: true}},
	} {
		for _, policy := range policies {
			t.Run(tc.mode.String()+"/"+policyName(policy), func(t *testing.T) {
				e := newFaultEnv(t, policy)
				retried := tc.retried[policy]
				for visit := int64(1); visit <= 3; visit++ {
					if tc.mode == faultproxy.Refuse {
						e.refused.Store(0)
						e.healAfter = failures
						e.proxy.Set(faultproxy.Refuse)
					} else {
						e.proxy.SetFor(tc.mode, failures)
					}
					forwarded, requests := e.proxy.Forwarded(), e.proxy.Requests()
					n, err := e.increment(5 * time.Second)
					if !retried {
						if err == nil {
							t.Fatalf("visit %d: Increment = %d, want the fault's error", visit, n)
						}
						if tc.mode == faultproxy.Throttle || tc.mode == faultproxy.Throttling {
							if !isThrottle(err) {
								t.Fatalf("error %v does not wrap the throttling error", err)
							}
						}
						if d := e.proxy.Forwarded() - forwarded; d != 0 {
							t.Fatalf("a failed increment reached DynamoDB %d times", d)
						}
						if c := e.count(t); c != 0 {
							t.Fatalf("stored count after a fault that never reached DynamoDB = %d, want 0", c)
						}
						e.healthy(t)
						return
					}
					if err != nil || n != visit {
						t.Fatalf("visit %d: Increment = %d, %v; want %d", visit, n, err, visit)
					}
					if d := e.proxy.Forwarded() - forwarded; d != 1 {
						t.Fatalf("visit %d reached DynamoDB %d times, want once", visit, d)
					}
					attempts := e.proxy.Requests() - requests
					if tc.mode == faultproxy.Refuse {
						attempts += e.refused.Load()
					}
					if attempts != failures+1 {
						t.Fatalf("visit %d took %d attempts, want %d", visit, attempts, failures+1)
					}
				}
				if c := e.count(t); c != 3 {
					t.Fatalf("stored count after 3 visits = %d, want exactly 3", c)
				}
				e.mu.Lock()
				backoffs := e.backoffs
				e.mu.Unlock()
				if len(backoffs) != 3*failures {
					t.Fatalf("the retryer backed off %d times, want %d", len(backoffs), 3*failures)
				}
				if tc.mode == faultproxy.Throttle || tc.mode == faultproxy.Throttling {
					for _, err := range backoffs {
						if !isThrottle(err) {
							t.Fatalf("backed off after %v, want a throttling error", err)
						}
					}
				}
				e.healthy(t)
			})
		}
	}
}

// TestFaultNotReached: a fault that lasts longer than the retries. The
// increment fails after as many attempts as the policy allows, and a
// failure that never reached DynamoDB adds nothing. A hung server costs the
// caller no more than its context's deadline.
func TestFaultNotReached(t *testing.T) {
	const hangTimeout = 150 * time.Millisecond
	for _, tc := range []struct {
		mode     faultproxy.Mode
		attempts map[counter.RetryPolicy]int64
		errIs    error
	}{
		{faultproxy.Throttle, map[counter.RetryPolicy]int64{counter.RetrySDK: faultAttempts, counter.RetryUnsent: faultAttempts, counter.RetryNever: 1}, nil},
		{faultproxy.Refuse, map[counter.RetryPolicy]int64{counter.RetrySDK: faultAttempts, counter.RetryUnsent: faultAttempts, counter.RetryNever: 1}, syscall.ECONNREFUSED},
		{faultproxy.Reset, map[counter.RetryPolicy]int64{counter.RetrySDK: faultAttempts, counter.RetryUnsent: 1, counter.RetryNever: 1}, syscall.ECONNRESET},
		{faultproxy.Status500, map[counter.RetryPolicy]int64{counter.RetrySDK: faultAttempts, counter.RetryUnsent: 1, counter.RetryNever: 1}, nil},
		{faultproxy.Hang, map[counter.RetryPolicy]int64{counter.RetrySDK: 1, counter.RetryUnsent: 1, counter.RetryNever: 1}, context.DeadlineExceeded},
	} {
		for _, policy := range policies {
			t.Run(tc.mode.String()+"/"+policyName(policy), func(t *testing.T) {
				e := newFaultEnv(t, policy)
				e.proxy.Set(tc.mode)
				timeout := 5 * time.Second
				if tc.mode == faultproxy.Hang {
					timeout = hangTimeout
				}
				start := time.Now()
				n, err := e.increment(timeout)
				took := time.Since(start)
				if err == nil {
					t.Fatalf("Increment = %d, want an error", n)
				}
				if tc.errIs != nil && !errors.Is(err, tc.errIs) {
					t.Fatalf("error = %v, want %v", err, tc.errIs)
				}
				if tc.mode == faultproxy.Hang && took > hangTimeout+time.Second {
					t.Fatalf("Increment against a hung server returned after %v, deadline %v", took, hangTimeout)
				}
				attempts := e.proxy.Requests() + e.refused.Load()
				if attempts != tc.attempts[policy] {
					t.Errorf("%d attempts, want %d", attempts, tc.attempts[policy])
				}
				if f := e.proxy.Forwarded(); f != 0 {
					t.Fatalf("%d requests reached DynamoDB", f)
				}
				if c := e.count(t); c != 0 {
					t.Fatalf("stored count = %d, want 0: nothing reached DynamoDB", c)
				}
				e.healthy(t)
			})
		}
	}
}

// TestFaultAmbiguous measures the over-count of each policy: DynamoDB
// applies the write, then the answer is lost (a reset connection or a 500
// in its place) for the first k attempts. One visit is made; the stored
// count minus one is the over-count.
func TestFaultAmbiguous(t *testing.T) {
	type outcome struct {
		ok     bool  // the caller is told the visit was counted
		stored int64 // the stored count after one visit
	}
	always := faultAttempts + 10 // more faulty answers than attempts
	want := func(policy counter.RetryPolicy, k int) outcome {
		if policy != counter.RetrySDK {
			return outcome{ok: false, stored: 1} // applied once, reported as failed
		}
		if k < faultAttempts {
			return outcome{ok: true, stored: int64(k) + 1}
		}
		return outcome{ok: false, stored: faultAttempts}
	}
	for _, mode := range []faultproxy.Mode{faultproxy.ForwardThenReset, faultproxy.ForwardThen500} {
		for _, policy := range policies {
			for _, k := range []int{1, faultAttempts - 1, always} {
				name := fmt.Sprintf("%v/%s/faulty=%d", mode, policyName(policy), k)
				if k == always {
					name = fmt.Sprintf("%v/%s/faulty=all", mode, policyName(policy))
				}
				t.Run(name, func(t *testing.T) {
					e := newFaultEnv(t, policy)
					e.proxy.SetFor(mode, k)
					n, err := e.increment(5 * time.Second)
					stored := e.count(t)
					got := outcome{ok: err == nil, stored: stored}
					if got != want(policy, k) {
						t.Fatalf("one visit: told counted %v (n=%d, err=%v), stored %d; want %+v", got.ok, n, err, stored, want(policy, k))
					}
					if got.ok && n != stored {
						t.Fatalf("Increment returned %d, stored count %d", n, stored)
					}
					if f := e.proxy.Forwarded(); f != stored {
						t.Fatalf("%d writes reached DynamoDB, stored count %d", f, stored)
					}
					t.Logf("over-count %d, acknowledged %v", stored-1, got.ok)
					e.healthy(t)
				})
			}
		}
	}
}

// TestFaultSlowAnswer: an answer slower than the caller's deadline. The
// caller gets context.DeadlineExceeded, yet the write reaches DynamoDB and
// counts (a timeout is ambiguous, under every policy); no policy retries
// after the deadline, so it is never counted twice.
func TestFaultSlowAnswer(t *testing.T) {
	for _, policy := range policies {
		t.Run(policyName(policy), func(t *testing.T) {
			e := newFaultEnv(t, policy)
			e.proxy.SetDelay(300 * time.Millisecond)
			if n, err := e.increment(50 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Increment = %d, %v; want context.DeadlineExceeded", n, err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for e.proxy.Forwarded() < 1 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if c := e.count(t); c != 1 || e.proxy.Requests() != 1 {
				t.Fatalf("after a timed-out increment: stored count %d, %d attempts; want 1 and 1", c, e.proxy.Requests())
			}
			if n, err := e.increment(5 * time.Second); err != nil || n != 2 {
				t.Fatalf("Increment with a deadline above the latency = %d, %v; want 2", n, err)
			}
			e.healthy(t)
		})
	}
}
