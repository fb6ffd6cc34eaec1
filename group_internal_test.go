package counter

import (
	"context"
	"testing"
)

type addOnly struct{ m *Memory }

func (a addOnly) Add(ctx context.Context, key string, n int64) (int64, error) {
	return a.m.Add(ctx, key, n)
}

// The handlers see a Reader in a Group only when its store is one.
func TestReaderOfGroup(t *testing.T) {
	m := NewMemory()
	for _, tc := range []struct {
		name string
		inc  Incrementer
		want bool
	}{
		{"Memory", m, true},
		{"Group(Memory)", NewGroup(m), true},
		{"Group(Adder only)", NewGroup(addOnly{m}), false},
		{"Group(Group(Adder only))", NewGroup(NewGroup(addOnly{m})), false},
	} {
		if got := readerOf(tc.inc) != nil; got != tc.want {
			t.Errorf("%s: readerOf found a Reader: %v, want %v", tc.name, got, tc.want)
		}
	}
}
