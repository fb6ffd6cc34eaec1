package sqlitestore

// groupCommit is a benchmark switch, not an option: a binary built with
//
//	go build -ldflags "-X github.com/resumecounter/counter/sqlitestore.groupCommit=off"
//
// commits each visit in its own transaction (Open sets maxBatch to 1), as
// the store did before group commit, so that internal/benchtable can load
// `counter serve` with batching and without it in the same run. Any other
// value, and the default empty one, leaves group commit on.
var groupCommit string

// batchLimit is the maxBatch Open gives a store: 1 when groupCommit is
// "off", else 0 (the maxBatch constant).
func batchLimit() int {
	if groupCommit == "off" {
		return 1
	}
	return 0
}
