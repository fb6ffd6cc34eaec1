package counter_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/resumecounter/counter"
)

// diffSeed fixes TestDynamoMatchesMemory's random operations (with the
// code before the fix of the held day's import, this seed found that
// divergence at its 73rd operation). DIFFSEED=N in the environment runs
// another seed; the test prints the one it ran.
const diffSeed = 1

// TestDynamoMatchesMemory runs the same random operations on Memory and on
// Dynamo (against dynalite) and compares every answer: visits on several
// days (late ones too, with repeated visitors and visit ids), imports,
// set, export, stats and history. The seed and the clock are fixed, so a
// run is the same on any day.
func TestDynamoMatchesMemory(t *testing.T) {
	seed := uint64(diffSeed)
	if s, err := strconv.ParseUint(os.Getenv("DIFFSEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (DIFFSEED=%[1]d replays it)", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	d, _ := newDynamo(t, counter.DynamoOptions{ConsistentRead: true})
	m := counter.NewMemory()
	ctx := context.Background()
	start := counter.Date("2026-12-28") // the run crosses a month and a year
	now := start.Time().Add(9 * time.Hour)
	keys := []string{"a", "b"}
	days := func(n int) counter.Date { return counter.DateOf(now).AddDays(n) }

	for op := range 400 {
		key := keys[rng.IntN(len(keys))]
		switch r := rng.IntN(100); {
		case r < 70: // a visit
			v := counter.Visit{Key: key, Date: counter.DateOf(now), Time: now, Visitor: vid(rng.IntN(6))}
			if rng.IntN(10) == 0 {
				v.Date = v.Date.AddDays(-1) // began before midnight
			}
			if rng.IntN(3) == 0 {
				v.ID = fmt.Sprintf("view-%d", rng.IntN(30))
			}
			if rng.IntN(8) == 0 {
				v.Visitor = counter.VisitorID{} // a hit without a visitor
			}
			ms, mc, merr := m.RecordVisit(ctx, v)
			ds, dc, derr := d.RecordVisit(ctx, v)
			if merr != nil || derr != nil || ms != ds || mc != dc {
				t.Fatalf("op %d: RecordVisit(%+v):\nmemory %+v %v %v\ndynamo %+v %v %v", op, v, ms, mc, merr, ds, dc, derr)
			}
		case r < 78: // time passes, sometimes past midnight
			now = now.Add(time.Duration(rng.IntN(20)) * time.Hour)
		case r < 83: // the owner imports a record
			rec := counter.Record{Key: key, Count: rng.Int64N(100), Visitors: rng.Int64N(50), Days: []counter.Day{}}
			for i := -3; i <= 1; i++ {
				if rng.IntN(2) == 0 {
					c := rng.Int64N(60)
					rec.Days = append(rec.Days, counter.Day{Date: days(i), Count: c, Visitors: rng.Int64N(c + 1)})
				}
			}
			merr, derr := m.Import(ctx, rec), d.Import(ctx, rec)
			if merr != nil || derr != nil {
				t.Fatalf("op %d: Import(%+v): memory %v, dynamo %v", op, rec, merr, derr)
			}
		case r < 86: // the owner sets a count
			n := rng.Int64N(1000)
			mo, merr := m.SetCount(ctx, key, n)
			do, derr := d.SetCount(ctx, key, n)
			if merr != nil || derr != nil || mo != do {
				t.Fatalf("op %d: SetCount(%s, %d): memory %d %v, dynamo %d %v", op, key, n, mo, merr, do, derr)
			}
		case r < 90:
			mr, merr := m.Export(ctx, key)
			dr, derr := d.Export(ctx, key)
			if merr != nil || derr != nil || !reflect.DeepEqual(mr, dr) {
				t.Fatalf("op %d: Export(%s):\nmemory %+v %v\ndynamo %+v %v", op, key, mr, merr, dr, derr)
			}
		case r < 95:
			today := days(rng.IntN(3) - 1)
			ms, merr := m.Stats(ctx, key, today)
			ds, derr := d.Stats(ctx, key, today)
			if merr != nil || derr != nil || ms != ds {
				t.Fatalf("op %d: Stats(%s, %s):\nmemory %+v %v\ndynamo %+v %v", op, key, today, ms, merr, ds, derr)
			}
		default:
			first, last := counter.Date("2026-12-20"), days(2)
			mh, merr := m.History(ctx, key, first, last)
			dh, derr := d.History(ctx, key, first, last)
			if merr != nil || derr != nil || !reflect.DeepEqual(mh, dh) {
				t.Fatalf("op %d: History(%s, %s, %s):\nmemory %+v %v\ndynamo %+v %v", op, key, first, last, mh, merr, dh, derr)
			}
		}
	}
	for _, key := range keys {
		mr, _ := m.Export(ctx, key)
		dr, err := d.Export(ctx, key)
		if err != nil || !reflect.DeepEqual(mr, dr) {
			t.Fatalf("final Export(%s):\nmemory %+v\ndynamo %+v %v", key, mr, dr, err)
		}
	}
}
