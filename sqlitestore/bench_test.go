package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resumecounter/counter"
)

// bareSQL is what the store's increment competes with: the driver running
// one upsert, prepared once, on a table of the same shape, with the same
// pragmas and one connection.
const bareSQL = `INSERT INTO counts (key, count) VALUES (?, 1)
ON CONFLICT (key) DO UPDATE SET count = count + 1 RETURNING count`

type bare struct{ stmt *sql.Stmt }

func (b bare) Increment(ctx context.Context, key string) (int64, error) {
	var n int64
	err := b.stmt.QueryRowContext(ctx, key).Scan(&n)
	return n, err
}

func openBare(b *testing.B) bare {
	b.Helper()
	db, err := sql.Open("sqlite", dsn(filepath.Join(b.TempDir(), "bare.sqlite"), 5*time.Second, true))
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	b.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE counts (key TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID`); err != nil {
		b.Fatal(err)
	}
	stmt, err := db.Prepare(bareSQL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stmt.Close() })
	return bare{stmt}
}

// hammer makes n increments of key from callers goroutines and returns how
// long they took.
func hammer(b *testing.B, s counter.Incrementer, key string, callers, n int) time.Duration {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
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

// BenchmarkIncrement: the store's Increment against the bare driver running
// the same single statement, in alternating rounds of the same run, from
// one caller and from 16, with synchronous=FULL (the store's setting: each
// commit waits for an fsync) and with synchronous=OFF (no fsync, which
// shows the cost of the store's statement apart from the disk's). It
// reports both rates and x-bare, the store's rate over the driver's
// (target: at least 0.9).
//
//	go test -run '^$' -bench 'Increment$' -benchtime 2000x ./sqlitestore
func BenchmarkIncrement(b *testing.B) {
	for _, sync := range []string{"FULL", "OFF"} {
		for _, callers := range []int{1, 16} {
			b.Run(fmt.Sprintf("sync=%s/callers=%d", sync, callers), func(b *testing.B) {
				defer func(old string) { synchronous = old }(synchronous)
				synchronous = sync
				s := tempStore(b, Options{})
				d := openBare(b)
				const round = 20
				var storeTime, bareTime time.Duration
				hammer(b, s, "hot", callers, 10)
				hammer(b, d, "hot", callers, 10)
				b.ReportAllocs()
				b.ResetTimer()
				for done := 0; done < b.N; done += round {
					n := min(round, b.N-done)
					b.StopTimer()
					bareTime += hammer(b, d, "hot", callers, n)
					b.StartTimer()
					storeTime += hammer(b, s, "hot", callers, n)
				}
				b.StopTimer()
				storeRate, bareRate := float64(b.N)/storeTime.Seconds(), float64(b.N)/bareTime.Seconds()
				b.ReportMetric(storeRate, "store-inc/s")
				b.ReportMetric(bareRate, "bare-inc/s")
				b.ReportMetric(storeRate/bareRate, "x-bare")
			})
		}
	}
}

// BenchmarkGroupHotKey: 256 callers increment one key through the store
// alone and through a counter.Group in front of it, in alternating rounds
// of the same run. b.N counts visits through the Group; the plain store
// makes 256 per round. It reports both rates and x-plain (target: at least
// 20), and checks both counts.
//
//	go test -run '^$' -bench GroupHotKey -benchtime 20000x ./sqlitestore
func BenchmarkGroupHotKey(b *testing.B) {
	s := tempStore(b, Options{})
	g := counter.NewGroup(s)
	defer g.Close()
	const callers, plainRound, groupRound = 256, 256, 8192
	var plainTime, groupTime time.Duration
	var plainVisits int64
	hammer(b, s, "warm", callers, callers)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += groupRound {
		b.StopTimer()
		plainTime += hammer(b, s, "plain", callers, plainRound)
		plainVisits += plainRound
		b.StartTimer()
		groupTime += hammer(b, g, "group", callers, min(groupRound, b.N-done))
	}
	b.StopTimer()
	for key, want := range map[string]int64{"plain": plainVisits, "group": int64(b.N)} {
		if got, err := s.Count(context.Background(), key); err != nil || got != want {
			b.Fatalf("count of %q = %d, %v; want %d", key, got, err, want)
		}
	}
	plainRate, groupRate := float64(plainVisits)/plainTime.Seconds(), float64(b.N)/groupTime.Seconds()
	b.ReportMetric(plainRate, "plain-inc/s")
	b.ReportMetric(groupRate, "group-inc/s")
	b.ReportMetric(groupRate/plainRate, "x-plain")
}

// visitMany makes n visits, each of a new visitor with a visit id, from
// callers goroutines, and returns how long they took.
func visitMany(b *testing.B, s *Store, callers, n int, seq *atomic.Int64) time.Duration {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				i := seq.Add(1)
				var id counter.VisitorID
				binary.LittleEndian.PutUint64(id[:], uint64(i))
				v := counter.Visit{Key: "home", Date: day1, Time: at(day1, 1), Visitor: id, ID: strconv.FormatInt(i, 36)}
				if _, ok, err := s.RecordVisit(context.Background(), v); err != nil || !ok {
					b.Error(ok, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkRecordVisitBatched: 64 callers record visits of new visitors
// (a new visitor id and visit id each) on one store with group commit and
// on one without (one transaction per visit, as before batching), in
// alternating rounds of the same run, synchronous=FULL. It reports both
// rates and x-unbatched (target: at least 5).
//
//	go test -run '^$' -bench RecordVisitBatched -benchtime 4000x ./sqlitestore
func BenchmarkRecordVisitBatched(b *testing.B) {
	batched, single := tempStore(b, Options{}), tempStore(b, Options{})
	single.maxBatch = 1
	const callers, round = 64, 512
	var seq atomic.Int64
	var batchedTime, singleTime time.Duration
	var singleVisits int
	visitMany(b, batched, callers, callers, &seq)
	visitMany(b, single, callers, callers, &seq)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += round {
		b.StopTimer()
		n := min(round, b.N-done)
		singleTime += visitMany(b, single, callers, n/4+1, &seq)
		singleVisits += n/4 + 1
		b.StartTimer()
		batchedTime += visitMany(b, batched, callers, n, &seq)
	}
	b.StopTimer()
	batchedRate, singleRate := float64(b.N)/batchedTime.Seconds(), float64(singleVisits)/singleTime.Seconds()
	b.ReportMetric(batchedRate, "batched-visits/s")
	b.ReportMetric(singleRate, "unbatched-visits/s")
	b.ReportMetric(batchedRate/singleRate, "x-unbatched")
}
