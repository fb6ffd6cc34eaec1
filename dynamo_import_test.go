package counter_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/resumecounter/counter"
)

// TestDynamoImportIntoNewKey: a record imported for a key the table never
// saw, as counter import does when moving counts from another store,
// exports back as it was, and importing it again changes nothing. (Export
// panicked here: the key's main item had months but no current day.)
func TestDynamoImportIntoNewKey(t *testing.T) {
	d, _ := newDynamo(t, counter.DynamoOptions{ConsistentRead: true})
	ctx := context.Background()
	for _, rec := range []counter.Record{
		{Key: "visitors", Count: 1_000_006, Visitors: 4, Days: []counter.Day{
			{Date: "2025-12-31", Count: 3, Visitors: 2}, {Date: "2026-11-30", Count: 1, Visitors: 1}, {Date: "2026-12-01", Count: 2, Visitors: 1}}},
		{Key: "old", Count: 9, Visitors: 9, Days: []counter.Day{{Date: "2024-02-29", Count: 9, Visitors: 9}}},
		{Key: "count-only", Count: 41_500, Days: []counter.Day{}},
	} {
		for round := 1; round <= 2; round++ {
			if err := d.Import(ctx, rec); err != nil {
				t.Fatalf("import %s, round %d: %v", rec.Key, round, err)
			}
			got, err := d.Export(ctx, rec.Key)
			if err != nil {
				t.Fatalf("export %s, round %d: %v", rec.Key, round, err)
			}
			if !reflect.DeepEqual(got, rec) {
				t.Fatalf("round %d: exported %+v, imported %+v", round, got, rec)
			}
		}
	}
}

// TestDynamoImportHeldDay: importing the day the main item holds replaces
// it everywhere, so the next day's first visit cannot roll an older, larger
// value of that day back over it from the month item.
func TestDynamoImportHeldDay(t *testing.T) {
	d, _ := newDynamo(t, counter.DynamoOptions{})
	ctx := context.Background()
	d1, d2 := counter.Date("2026-11-30"), counter.Date("2026-12-01")
	// The month item gets d1 = {50, 40} (an import of a day not held yet);
	// a visit on d1 then makes the main item hold d1, starting from it.
	if err := d.Import(ctx, counter.Record{Key: "k", Count: 50, Visitors: 40, Days: []counter.Day{{Date: d1, Count: 50, Visitors: 40}}}); err != nil {
		t.Fatal(err)
	}
	visit(t, d, counter.Visit{Key: "k", Date: d1, Visitor: vid(1)})
	fixed := counter.Record{Key: "k", Count: 3, Visitors: 2, Days: []counter.Day{{Date: d1, Count: 3, Visitors: 2}}}
	if err := d.Import(ctx, fixed); err != nil {
		t.Fatal(err)
	}
	visit(t, d, counter.Visit{Key: "k", Date: d2, Visitor: vid(1)})
	h, err := d.History(ctx, "k", d1, d2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []counter.Day{{Date: d1, Count: 3, Visitors: 2}, {Date: d2, Count: 1, Visitors: 1}}; !reflect.DeepEqual(h, want) {
		t.Fatalf("history after importing the held day and a visit the next day = %+v, want %+v", h, want)
	}
}
