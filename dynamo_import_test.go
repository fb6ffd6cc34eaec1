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
