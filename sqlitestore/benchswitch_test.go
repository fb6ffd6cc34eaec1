package sqlitestore

import "testing"

// TestGroupCommitSwitch: the benchmark switch set to "off" (as
// `-ldflags -X ...sqlitestore.groupCommit=off` sets it) makes Open commit
// one visit per transaction; unset, or any other value, keeps group commit.
func TestGroupCommitSwitch(t *testing.T) {
	defer func(v string) { groupCommit = v }(groupCommit)
	for _, c := range []struct {
		value string
		want  int
	}{{"", 0}, {"on", 0}, {"off", 1}} {
		groupCommit = c.value
		if got := tempStore(t, Options{}).maxBatch; got != c.want {
			t.Errorf("groupCommit=%q: Open set maxBatch %d, want %d", c.value, got, c.want)
		}
	}
}
