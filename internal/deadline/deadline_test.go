package deadline

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDeadlineWithoutDone(t *testing.T) {
	c := New(context.Background(), 30*time.Millisecond)
	defer c.Cancel()
	if err := c.Err(); err != nil {
		t.Fatalf("Err before the deadline = %v", err)
	}
	d, ok := c.Deadline()
	if !ok || time.Until(d) > 30*time.Millisecond || time.Until(d) < 0 {
		t.Fatalf("Deadline = %v, %v", d, ok)
	}
	time.Sleep(40 * time.Millisecond)
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err after the deadline = %v, want DeadlineExceeded", err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed after the deadline")
	}
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err after Done = %v", err)
	}
}

func TestDoneClosesAtDeadline(t *testing.T) {
	start := time.Now()
	c := New(context.Background(), 30*time.Millisecond)
	defer c.Cancel()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed within 5s")
	}
	if e := time.Since(start); e < 30*time.Millisecond {
		t.Errorf("Done closed after %v, before the deadline", e)
	}
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err = %v, want DeadlineExceeded", err)
	}
	if err := context.Cause(c); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Cause = %v, want DeadlineExceeded", err)
	}
}

func TestErrNilUntilDoneCloses(t *testing.T) {
	c := New(context.Background(), time.Hour)
	defer c.Cancel()
	done := c.Done()
	if err := c.Err(); err != nil {
		t.Fatalf("Err = %v", err)
	}
	select {
	case <-done:
		t.Fatal("Done closed early")
	default:
	}
}

func TestParentCancel(t *testing.T) {
	for _, doneFirst := range []bool{false, true} {
		parent, cancel := context.WithCancel(context.Background())
		c := New(parent, time.Hour)
		var done <-chan struct{}
		if doneFirst {
			done = c.Done()
		}
		cancel()
		if done == nil {
			if err := c.Err(); !errors.Is(err, context.Canceled) {
				t.Errorf("Err after the parent's cancel = %v", err)
			}
			done = c.Done()
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("doneFirst=%v: Done not closed after the parent's cancel", doneFirst)
		}
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("doneFirst=%v: Err = %v, want Canceled", doneFirst, err)
		}
		c.Cancel()
	}
}

func TestParentDeadlineEarlier(t *testing.T) {
	parent, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	c := New(parent, time.Hour)
	defer c.Cancel()
	pd, _ := parent.Deadline()
	if d, _ := c.Deadline(); !d.Equal(pd) {
		t.Errorf("Deadline = %v, want the parent's %v", d, pd)
	}
	<-c.Done()
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err = %v", err)
	}
}

func TestCancel(t *testing.T) {
	c := New(context.Background(), time.Hour)
	c.Cancel()
	if err := c.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err after Cancel = %v", err)
	}
	<-c.Done() // closed at once
	c.Cancel() // twice is fine

	c = New(context.Background(), time.Hour)
	done := c.Done()
	c.Cancel()
	<-done
	if err := c.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err after Done then Cancel = %v", err)
	}
}

// A child made with context.WithCancel ends with the Ctx.
func TestChild(t *testing.T) {
	c := New(context.Background(), 20*time.Millisecond)
	defer c.Cancel()
	child, cancel := context.WithCancel(c)
	defer cancel()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("child not ended")
	}
	if err := child.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("child Err = %v", err)
	}
}

func TestValueFromParent(t *testing.T) {
	type key struct{}
	c := New(context.WithValue(context.Background(), key{}, "v"), time.Hour)
	defer c.Cancel()
	if c.Value(key{}) != "v" {
		t.Error("Value not from the parent")
	}
}

// Racing Done, Err, Cancel and the timer (run with -race).
func TestConcurrent(t *testing.T) {
	for i := range 200 {
		c := New(context.Background(), time.Millisecond)
		go func() { <-c.Done() }()
		go func() { _ = c.Err() }()
		time.Sleep(time.Duration(i%3) * time.Millisecond) // before, at or after the deadline
		c.Cancel()
		<-c.Done()
		if c.Err() == nil {
			t.Fatal("Err nil after Done")
		}
	}
}

func TestNoAllocationBeyondTheCtx(t *testing.T) {
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		c := New(ctx, time.Second)
		_ = c.Err()
		c.Cancel()
	})
	if allocs > 1 {
		t.Errorf("%v allocations, want 1", allocs)
	}
}

// BenchmarkNew compares a Ctx that is only asked Err, as the memory store
// does, with context.WithTimeout.
func BenchmarkNew(b *testing.B) {
	ctx := context.Background()
	b.Run("deadline", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			c := New(ctx, time.Second)
			_ = c.Err()
			c.Cancel()
		}
	})
	b.Run("context.WithTimeout", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			c, cancel := context.WithTimeout(ctx, time.Second)
			_ = c.Err()
			cancel()
		}
	})
}
