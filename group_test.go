package counter_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/countertest"
	"github.com/resumecounter/counter/internal/testenv"
)

func TestGroupConformance(t *testing.T) {
	t.Run("Memory", func(t *testing.T) {
		countertest.Run(t, func(t *testing.T) countertest.Store {
			g := counter.NewGroup(counter.NewMemory())
			t.Cleanup(func() { g.Close() })
			return g
		})
	})
	t.Run("Dynamo", func(t *testing.T) {
		countertest.Run(t, func(t *testing.T) countertest.Store {
			d, _ := newDynamo(t, counter.DynamoOptions{})
			g := counter.NewGroup(d)
			t.Cleanup(func() { g.Close() })
			return g
		})
	})
}

// gatedAdder is a store whose writes wait for the test: each Add sends its n
// on started, then waits for a value on results (nil applies the write) or
// for its context to end.
//
// A test's end (see newGatedGroup) closes quit: writes still waiting then
// fail, so that Close returns and a failing test fails fast.
type gatedAdder struct {
	started  chan int64
	results  chan error
	quit     chan struct{}
	quitOnce sync.Once
	canceled atomic.Int32 // Adds ended by their context

	mu     sync.Mutex
	total  int64
	writes []int64
}

func newGatedAdder() *gatedAdder {
	return &gatedAdder{started: make(chan int64, 16), results: make(chan error), quit: make(chan struct{})}
}

var errTestEnded = errors.New("gatedAdder: the test ended")

func (a *gatedAdder) Add(ctx context.Context, key string, n int64) (int64, error) {
	select {
	case a.started <- n:
	case <-a.quit:
		return 0, errTestEnded
	}
	select {
	case err := <-a.results:
		if err != nil {
			return 0, err
		}
	case <-ctx.Done():
		a.canceled.Add(1)
		return 0, ctx.Err()
	case <-a.quit:
		return 0, errTestEnded
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.writes = append(a.writes, n)
	a.total += n
	return a.total, nil
}

func (a *gatedAdder) state() (int64, []int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.total, slices.Clone(a.writes)
}

// end fails every write still waiting and every later one.
func (a *gatedAdder) end() { a.quitOnce.Do(func() { close(a.quit) }) }

// newGatedGroup returns a Group over a that the test's end closes, after
// failing a's waiting writes, within a bound.
func newGatedGroup(t *testing.T, a counter.Adder, gate *gatedAdder) *counter.Group {
	t.Helper()
	g := counter.NewGroup(a)
	t.Cleanup(func() {
		gate.end()
		closeWithin(t, g)
	})
	return g
}

// closeWithin closes g and fails the test if Close does not return within
// 5 seconds.
func closeWithin(t *testing.T, g *counter.Group) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- g.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("Close did not return within 5s: a write is stuck")
	}
}

// waitWithin waits for wg, failing the test after 10 seconds.
func waitWithin(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("goroutines did not finish within 10s")
	}
}

// expectWrite waits for the next write to start and checks its n.
func (a *gatedAdder) expectWrite(t *testing.T, n int64) {
	t.Helper()
	select {
	case got := <-a.started:
		if got != n {
			t.Fatalf("write of %d visits started, want %d", got, n)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no write of %d visits started", n)
	}
}

type result struct {
	n   int64
	err error
}

// call adds n visits to "hot" on its own goroutine.
func call(ctx context.Context, g *counter.Group, n int64) <-chan result {
	ch := make(chan result, 1)
	go func() {
		var r result
		if n == 1 {
			r.n, r.err = g.Increment(ctx, "hot")
		} else {
			r.n, r.err = g.Add(ctx, "hot", n)
		}
		ch <- r
	}()
	return ch
}

func recv(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("call did not return")
		return result{}
	}
}

// waitQueued waits until want callers wait, unsent, for the next write.
func waitQueued(t *testing.T, g *counter.Group, want int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); g.Queued("hot") != want; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d callers queued, want %d", g.Queued("hot"), want)
		}
	}
}

func TestGroupFoldsWaitingCalls(t *testing.T) {
	a := newGatedAdder()
	g := newGatedGroup(t, a, a)
	ctx := context.Background()
	first := call(ctx, g, 1)
	a.expectWrite(t, 1)
	var incs []<-chan result
	for range 4 {
		incs = append(incs, call(ctx, g, 1))
	}
	add3 := call(ctx, g, 3)
	waitQueued(t, g, 5)

	a.results <- nil
	if r := recv(t, first); r.err != nil || r.n != 1 {
		t.Fatalf("first Increment = %d, %v; want 1", r.n, r.err)
	}
	a.expectWrite(t, 7) // 4 increments and Add(3), in one write
	a.results <- nil
	var got []int64
	for _, ch := range incs {
		r := recv(t, ch)
		if r.err != nil {
			t.Fatal(r.err)
		}
		got = append(got, r.n)
	}
	r := recv(t, add3)
	if r.err != nil {
		t.Fatal(r.err)
	}
	got = append(got, r.n-2, r.n-1, r.n) // Add(3) gets the last of its 3 numbers
	checkNumbers(t, got, 2, 8)
	if _, writes := a.state(); !slices.Equal(writes, []int64{1, 7}) {
		t.Fatalf("writes = %v, want [1 7]", writes)
	}
}

// checkNumbers fails unless got holds each of from..to exactly once.
func checkNumbers(t *testing.T, got []int64, from, to int64) {
	t.Helper()
	got = slices.Sorted(slices.Values(got))
	want := make([]int64, 0, to-from+1)
	for v := from; v <= to; v++ {
		want = append(want, v)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("numbers given out = %v, want each of %d..%d once", got, from, to)
	}
}

type ctxKey struct{}

// syncAdder records the calls it gets, on the caller's goroutine.
type syncAdder struct {
	*counter.Memory
	ctxValues []any
	ns        []int64
}

func (a *syncAdder) Add(ctx context.Context, key string, n int64) (int64, error) {
	a.ctxValues = append(a.ctxValues, ctx.Value(ctxKey{}))
	a.ns = append(a.ns, n)
	return a.Memory.Add(ctx, key, n)
}

// TestGroupIdleKeyGoesStraightThrough: with nothing in flight, an increment
// is one write of 1 with the caller's own context, and no timer delays it.
func TestGroupIdleKeyGoesStraightThrough(t *testing.T) {
	a := &syncAdder{Memory: counter.NewMemory()}
	g := counter.NewGroup(a)
	defer g.Close()
	for i := range 3 {
		ctx := context.WithValue(context.Background(), ctxKey{}, i)
		if n, err := g.Increment(ctx, "hot"); err != nil || n != int64(i+1) {
			t.Fatalf("Increment #%d = %d, %v", i+1, n, err)
		}
	}
	if !slices.Equal(a.ns, []int64{1, 1, 1}) || !slices.Equal(a.ctxValues, []any{0, 1, 2}) {
		t.Fatalf("writes %v with contexts %v, want [1 1 1] with [0 1 2]", a.ns, a.ctxValues)
	}
}

func TestGroupErrorFansOut(t *testing.T) {
	a := newGatedAdder()
	g := newGatedGroup(t, a, a)
	ctx := context.Background()
	boom := errors.New("boom")

	// The first write fails: only its caller sees it; the queued go next.
	first := call(ctx, g, 1)
	a.expectWrite(t, 1)
	queued := []<-chan result{call(ctx, g, 1), call(ctx, g, 1)}
	waitQueued(t, g, 2)
	a.results <- boom
	if r := recv(t, first); !errors.Is(r.err, boom) {
		t.Fatalf("first Increment error = %v, want boom", r.err)
	}
	a.expectWrite(t, 2)
	// Three more queue behind that write, which then succeeds.
	next := []<-chan result{call(ctx, g, 1), call(ctx, g, 1), call(ctx, g, 1)}
	waitQueued(t, g, 3)
	a.results <- nil
	var got []int64
	for _, ch := range queued {
		r := recv(t, ch)
		if r.err != nil {
			t.Fatal(r.err)
		}
		got = append(got, r.n)
	}
	checkNumbers(t, got, 1, 2)
	// The batch of three fails: all three get the error, nothing counted.
	a.expectWrite(t, 3)
	a.results <- boom
	for _, ch := range next {
		if r := recv(t, ch); !errors.Is(r.err, boom) || r.n != 0 {
			t.Errorf("folded Increment = %d, %v; want 0, boom", r.n, r.err)
		}
	}
	last := call(ctx, g, 1)
	a.expectWrite(t, 1)
	a.results <- nil
	if r := recv(t, last); r.err != nil || r.n != 3 {
		t.Fatalf("Increment after the failed batch = %d, %v; want 3", r.n, r.err)
	}
}

func TestGroupCancelWhileQueued(t *testing.T) {
	a := newGatedAdder()
	g := newGatedGroup(t, a, a)
	ctx := context.Background()
	first := call(ctx, g, 1)
	a.expectWrite(t, 1)
	cctx, cancel := context.WithCancel(ctx)
	canceled := call(cctx, g, 1)
	waitQueued(t, g, 1)
	kept := call(ctx, g, 1)
	waitQueued(t, g, 2)
	cancel()
	if r := recv(t, canceled); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("canceled Increment error = %v, want context.Canceled", r.err)
	}
	waitQueued(t, g, 1)
	a.results <- nil
	recv(t, first)
	a.expectWrite(t, 1) // the canceled visit is not in the write
	a.results <- nil
	if r := recv(t, kept); r.err != nil || r.n != 2 {
		t.Fatalf("Increment queued beside the canceled one = %d, %v; want 2", r.n, r.err)
	}
	closeWithin(t, g)
	if total, writes := a.state(); total != 2 || !slices.Equal(writes, []int64{1, 1}) {
		t.Fatalf("total %d in writes %v, want 2 in [1 1]", total, writes)
	}
}

// TestGroupCancelAfterSent: a caller that gives up after its visit went out
// returns at once; the visit counts, and the write goes on for the others.
func TestGroupCancelAfterSent(t *testing.T) {
	a := newGatedAdder()
	g := newGatedGroup(t, a, a)
	ctx := context.Background()
	first := call(ctx, g, 1)
	a.expectWrite(t, 1)
	cctx, cancel := context.WithCancel(ctx)
	canceled := call(cctx, g, 1)
	waitQueued(t, g, 1)
	kept := call(ctx, g, 1)
	waitQueued(t, g, 2)
	a.results <- nil
	recv(t, first)
	a.expectWrite(t, 2)
	cancel()
	if r := recv(t, canceled); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Increment canceled after sending: error = %v, want context.Canceled", r.err)
	}
	a.results <- nil
	if r := recv(t, kept); r.err != nil || (r.n != 2 && r.n != 3) {
		t.Fatalf("the other Increment of the write = %d, %v; want 2 or 3", r.n, r.err)
	}
	closeWithin(t, g)
	if total, _ := a.state(); total != 3 {
		t.Fatalf("total = %d, want 3: the visit was sent before its caller gave up", total)
	}
}

// TestGroupAllGiveUpCancelsWrite: once every caller of a write has given
// up, the write's context is canceled.
func TestGroupAllGiveUpCancelsWrite(t *testing.T) {
	a := newGatedAdder()
	g := newGatedGroup(t, a, a)
	ctx := context.Background()
	first := call(ctx, g, 1)
	a.expectWrite(t, 1)
	c1, cancel1 := context.WithCancel(ctx)
	c2, cancel2 := context.WithCancel(ctx)
	r1, r2 := call(c1, g, 1), call(c2, g, 1)
	waitQueued(t, g, 2)
	a.results <- nil
	recv(t, first)
	a.expectWrite(t, 2)
	cancel1()
	recv(t, r1)
	if a.canceled.Load() != 0 {
		t.Fatal("write canceled while a caller still waits for it")
	}
	cancel2()
	recv(t, r2)
	closeWithin(t, g) // returns once the canceled write has ended
	if got := a.canceled.Load(); got != 1 {
		t.Fatalf("%d writes canceled, want 1", got)
	}
}

func TestGroupClose(t *testing.T) {
	a := newGatedAdder()
	g := newGatedGroup(t, a, a)
	ctx := context.Background()
	first := call(ctx, g, 1)
	a.expectWrite(t, 1)
	queued := call(ctx, g, 1)
	waitQueued(t, g, 1)
	closed := make(chan error)
	go func() { closed <- g.Close() }()
	for deadline := time.Now().Add(5 * time.Second); !g.IsClosed(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Close did not start")
		}
	}
	if _, err := g.Increment(ctx, "hot"); !errors.Is(err, counter.ErrClosed) {
		t.Fatalf("Increment while closing: error = %v, want ErrClosed", err)
	}
	a.results <- nil
	recv(t, first)
	a.expectWrite(t, 1) // the visit queued before Close is still written
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a write was in flight", err)
	default:
	}
	a.results <- nil
	if r := recv(t, queued); r.err != nil || r.n != 2 {
		t.Fatalf("Increment queued before Close = %d, %v; want 2", r.n, r.err)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	for name, f := range map[string]func() error{
		"Increment": func() error { _, err := g.Increment(ctx, "hot"); return err },
		"Add":       func() error { _, err := g.Add(ctx, "hot", 2); return err },
		"Count":     func() error { _, err := g.Count(ctx, "hot"); return err },
	} {
		if err := f(); !errors.Is(err, counter.ErrClosed) {
			t.Errorf("%s after Close: error = %v, want ErrClosed", name, err)
		}
	}
	if err := g.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if total, _ := a.state(); total != 2 {
		t.Fatalf("total = %d, want 2", total)
	}
}

func TestGroupCountNeedsReader(t *testing.T) {
	a := newGatedAdder()
	g := newGatedGroup(t, a, a)
	if _, err := g.Count(context.Background(), "hot"); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Count over a store without Count: error = %v, want errors.ErrUnsupported", err)
	}
}

// slowMemory is a Memory whose writes take a little while, so that calls
// pile up behind them.
type slowMemory struct{ *counter.Memory }

func (m slowMemory) Add(ctx context.Context, key string, n int64) (int64, error) {
	time.Sleep(200 * time.Microsecond)
	return m.Memory.Add(ctx, key, n)
}

// TestGroupCancelStress mixes callers that give up at random moments with
// callers that wait: acknowledged visits get distinct numbers and are all
// counted, and no visit is counted that was not asked for.
func TestGroupCancelStress(t *testing.T) {
	m := counter.NewMemory()
	g := counter.NewGroup(slowMemory{m})
	const workers, perWorker = 32, 100
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		acked  []int64
		failed int
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWorker {
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if w%2 == 0 {
					ctx, cancel = context.WithTimeout(ctx, time.Duration(rand.IntN(400))*time.Microsecond)
				}
				n, err := g.Increment(ctx, "hot")
				cancel()
				mu.Lock()
				if err != nil {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("unexpected error %v", err)
					}
					failed++
				} else {
					acked = append(acked, n)
				}
				mu.Unlock()
			}
		}()
	}
	waitWithin(t, &wg)
	closeWithin(t, g)
	count, _ := m.Count(context.Background(), "hot")
	slices.Sort(acked)
	if len(slices.Compact(slices.Clone(acked))) != len(acked) {
		t.Fatal("two acknowledged visits got the same number")
	}
	if count < int64(len(acked)) || count > int64(len(acked)+failed) || acked[len(acked)-1] > count {
		t.Fatalf("count %d with %d visits acknowledged (highest %d) and %d given up", count, len(acked), acked[len(acked)-1], failed)
	}
	t.Logf("%d acknowledged, %d gave up, of which %d counted", len(acked), failed, count-int64(len(acked)))
}

// countingClient counts the UpdateItem calls made through it.
type countingClient struct {
	counter.DynamoAPI
	updates atomic.Int64
}

func (c *countingClient) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.updates.Add(1)
	return c.DynamoAPI.UpdateItem(ctx, in, optFns...)
}

// hammerKey makes n increments of key with callers goroutines and returns
// how long they took.
func hammerKey(b *testing.B, s counter.Incrementer, key string, callers, n int) time.Duration {
	var wg sync.WaitGroup
	var next atomic.Int64
	start := time.Now()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if _, err := s.Increment(context.Background(), key); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkGroupHotKey: 256 callers increment one key in dynalite, through
// Dynamo alone (the baseline) and through a Group in front of it, in
// alternating rounds of the same run. b.N counts visits through the Group;
// the baseline makes 512 visits per round. It reports both rates, their
// ratio (x-plain), and DynamoDB writes per visit, and checks both counts.
func BenchmarkGroupHotKey(b *testing.B) {
	client := testenv.Dynalite(b)
	table := testenv.CreateTable(b, client, counter.DefaultPartitionKey)
	cc := &countingClient{DynamoAPI: client}
	d := counter.NewDynamo(cc, counter.DynamoOptions{Table: table})
	g := counter.NewGroup(d)
	defer g.Close()
	ctx := context.Background()

	const callers, plainRound, groupRound = 256, 512, 16384
	run := func(s counter.Incrementer, key string, n int) time.Duration { return hammerKey(b, s, key, callers, n) }
	run(d, "warm", callers)
	cc.updates.Store(0)
	var plainTime, groupTime time.Duration
	var plainVisits, groupWrites int64
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += groupRound {
		b.StopTimer()
		plainTime += run(d, "plain", plainRound)
		plainVisits += plainRound
		cc.updates.Store(0)
		b.StartTimer()
		groupTime += run(g, "group", min(groupRound, b.N-done))
		groupWrites += cc.updates.Load()
	}
	b.StopTimer()
	for key, want := range map[string]int64{"plain": plainVisits, "group": int64(b.N)} {
		if got, err := d.Count(ctx, key); err != nil || got != want {
			b.Fatalf("count of %q = %d, %v; want %d", key, got, err, want)
		}
	}
	plainRate := float64(plainVisits) / plainTime.Seconds()
	groupRate := float64(b.N) / groupTime.Seconds()
	b.ReportMetric(plainRate, "plain-inc/s")
	b.ReportMetric(groupRate, "group-inc/s")
	b.ReportMetric(groupRate/plainRate, "x-plain")
	b.ReportMetric(float64(groupWrites)/float64(b.N), "writes/visit")
}

type panicAdder struct{ *gatedAdder }

func (a *panicAdder) Add(ctx context.Context, key string, n int64) (int64, error) {
	if n, err := a.gatedAdder.Add(ctx, key, n); err == nil || !errors.Is(err, errPanic) {
		return n, err
	}
	panic("store failed")
}

var errPanic = errors.New("panic, please")

// TestGroupStorePanics: a store that panics under a caller's own write
// panics that caller, and the callers queued behind it are still written.
func TestGroupStorePanics(t *testing.T) {
	a := &panicAdder{newGatedAdder()}
	g := newGatedGroup(t, a, a.gatedAdder)
	ctx := context.Background()
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		_, _ = g.Increment(ctx, "hot") // panics
	}()
	a.expectWrite(t, 1)
	queued := call(ctx, g, 1)
	waitQueued(t, g, 1)
	a.results <- errPanic
	select {
	case p := <-panicked:
		if p == nil {
			t.Fatal("the store's panic did not reach its caller")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the panicking Increment did not return")
	}
	a.expectWrite(t, 1)
	a.results <- nil
	if r := recv(t, queued); r.err != nil || r.n != 1 {
		t.Fatalf("Increment queued behind the panic = %d, %v; want 1", r.n, r.err)
	}
}

// TestGroupBatchedWritePanics: a store that panics in a write the Group
// makes on its own goroutine does not end the process. Every caller folded
// into that write gets an error, the panic is logged once with its stack,
// and the key takes the next write at once.
func TestGroupBatchedWritePanics(t *testing.T) {
	logger, logs := newLogBuffer()
	old := slog.Default()
	slog.SetDefault(logger)
	defer slog.SetDefault(old)
	a := &panicAdder{newGatedAdder()}
	g := newGatedGroup(t, a, a.gatedAdder)
	ctx := context.Background()
	first := call(ctx, g, 1)
	a.expectWrite(t, 1)
	queued := []<-chan result{call(ctx, g, 1), call(ctx, g, 1), call(ctx, g, 2)}
	waitQueued(t, g, 3)
	a.results <- nil
	if r := recv(t, first); r.err != nil || r.n != 1 {
		t.Fatalf("first Increment = %d, %v; want 1", r.n, r.err)
	}
	a.expectWrite(t, 4)   // the three queued callers, in one write on the Group's goroutine
	a.results <- errPanic // which panics
	for i, ch := range queued {
		if r := recv(t, ch); r.err == nil || r.n != 0 || !strings.Contains(r.err.Error(), "panicked") {
			t.Errorf("caller %d folded into the panicking write = %d, %v; want 0 and an error saying the store panicked", i, r.n, r.err)
		}
	}
	out := logs.String()
	if n := strings.Count(out, "counter: store panicked in a batched write"); n != 1 {
		t.Errorf("panic logged %d times, want once:\n%s", n, out)
	}
	for _, want := range []string{`"level":"ERROR"`, `"key":"hot"`, `"panic":"store failed"`, "group_test.go", "panicAdder"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s (the panic with its stack):\n%s", want, out)
		}
	}
	// The key is not left busy: the next visit is written straight away.
	next := call(ctx, g, 1)
	a.expectWrite(t, 1)
	a.results <- nil
	if r := recv(t, next); r.err != nil || r.n != 2 {
		t.Fatalf("Increment after the panic = %d, %v; want 2", r.n, r.err)
	}
	closeWithin(t, g)
}

// adderOnly is a store that can count but not read.
type adderOnly struct{ m *counter.Memory }

func (a adderOnly) Add(ctx context.Context, key string, n int64) (int64, error) {
	return a.m.Add(ctx, key, n)
}

// countUnsupported is a decorator from outside the package whose Count
// reports, at run time, that its store cannot read.
type countUnsupported struct{ counter.Incrementer }

func (countUnsupported) Count(_ context.Context, key string) (int64, error) {
	return 0, fmt.Errorf("mystore: count %q: %w", key, errors.ErrUnsupported)
}

// TestHandlerOverGroupWithoutReader: a Group over a store that cannot read
// is, to the handlers, the store without a Reader it is: ?hit=false and
// HEAD answer 501 with nothing logged as an error, as over the bare store;
// counting works. So does a decorator whose Count fails with
// errors.ErrUnsupported.
func TestHandlerOverGroupWithoutReader(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(m *counter.Memory) counter.Incrementer
	}{
		{"Group", func(m *counter.Memory) counter.Incrementer {
			g := counter.NewGroup(adderOnly{m})
			t.Cleanup(func() { closeWithin(t, g) })
			return g
		}},
		{"Count unsupported", func(m *counter.Memory) counter.Incrementer { return countUnsupported{m} }},
	} {
		for _, badge := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/badge=%v", tc.name, badge), func(t *testing.T) {
				m := counter.NewMemory()
				logger, logs := newLogBuffer()
				opts := counter.HandlerOptions{Logger: logger}
				h := counter.JSONHandler(tc.store(m), opts)
				if badge {
					h = counter.BadgeHandler(tc.store(m), opts)
				}
				h = mountAPI(h)
				for _, req := range []struct{ method, target string }{{"GET", "/api/visitors?hit=false"}, {"HEAD", "/api/visitors"}} {
					w := serveHandler(t, h, req.method, req.target, nil)
					if w.Code != http.StatusNotImplemented {
						t.Errorf("%s %s: status %d, want 501", req.method, req.target, w.Code)
					}
					checkResponseBasics(t, w, badge, req.method)
				}
				if w := serveHandler(t, h, "GET", "/api/visitors", nil); w.Code != 200 {
					t.Errorf("counting GET: status %d, want 200", w.Code)
				}
				if n := memCount(t, m, "visitors"); n != 1 {
					t.Errorf("count %d, want 1", n)
				}
				if strings.Contains(logs.String(), `"level":"ERROR"`) {
					t.Errorf("a store without a Reader logged an error:\n%s", logs)
				}
			})
		}
	}
}
