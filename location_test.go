package counter_test

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, on machines without a zone database

	"github.com/resumecounter/counter"
)

// The default Location is UTC whatever the machine's zone: the test runs
// itself again with TZ=Pacific/Kiritimati (UTC+14), where 11:00 UTC on
// 1 December is already 2 December.
func TestDefaultLocationIsUTC(t *testing.T) {
	if os.Getenv("COUNTER_TEST_LOCAL_ZONE") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDefaultLocationIsUTC$", "-test.count=1")
		cmd.Env = append(os.Environ(), "COUNTER_TEST_LOCAL_ZONE=1", "TZ=Pacific/Kiritimati")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("under TZ=Pacific/Kiritimati: %v\n%s", err, out)
		}
		return
	}
	if _, off := time.Now().Zone(); off != 14*3600 {
		t.Fatalf("time.Local is %v (offset %d s), want Pacific/Kiritimati: the test cannot tell", time.Local, off)
	}
	clock := &fixedClock{t: time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)}
	v := counter.NewVisitors(counter.NewMemory(), counter.VisitorOptions{Now: clock.Now})
	if got := v.Today(); got != "2026-12-01" {
		t.Fatalf("Today at 11:00 UTC on 2026-12-01 with the default Location = %s, want 2026-12-01 (UTC, not the machine's zone)", got)
	}
	if n, err := v.Increment(context.Background(), "home"); err != nil || n != 1 {
		t.Fatalf("Increment = %d, %v", n, err)
	}
	days, err := v.LastDays(context.Background(), "home", 2)
	if err != nil || !slices.Equal(days, []counter.Day{{Date: "2026-11-30"}, {Date: "2026-12-01", Count: 1}}) {
		t.Fatalf("LastDays = %+v, %v; want the hit on 2026-12-01", days, err)
	}
}

// Days of 23 and 25 hours, where daylight saving starts and ends, count
// every hit on its calendar day in the Location: the day after starts at
// its midnight, not 24 hours after the last one.
func TestDaylightSavingDays(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		t.Helper()
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, c := range []struct {
		name  string
		hits  []string // instants, in order
		dates []counter.Date
		days  []counter.Day
	}{
		{
			name: "spring forward, 23 hours",
			hits: []string{
				"2027-03-14T04:59:59Z", // 23:59:59 EST on the 13th
				"2027-03-14T05:00:00Z", // midnight EST
				"2027-03-14T06:59:59Z", // 01:59:59 EST
				"2027-03-14T07:00:00Z", // 03:00 EDT
				"2027-03-15T03:59:59Z", // 23:59:59 EDT
				"2027-03-15T04:00:00Z", // midnight EDT on the 15th
			},
			dates: []counter.Date{"2027-03-13", "2027-03-14", "2027-03-14", "2027-03-14", "2027-03-14", "2027-03-15"},
			days:  []counter.Day{{Date: "2027-03-13", Count: 1}, {Date: "2027-03-14", Count: 4}, {Date: "2027-03-15", Count: 1}},
		},
		{
			name: "fall back, 25 hours",
			hits: []string{
				"2027-11-07T03:59:59Z", // 23:59:59 EDT on the 6th
				"2027-11-07T04:00:00Z", // midnight EDT
				"2027-11-07T05:30:00Z", // 01:30 EDT
				"2027-11-07T06:30:00Z", // 01:30 EST, again
				"2027-11-08T04:59:59Z", // 23:59:59 EST
				"2027-11-08T05:00:00Z", // midnight EST on the 8th
			},
			dates: []counter.Date{"2027-11-06", "2027-11-07", "2027-11-07", "2027-11-07", "2027-11-07", "2027-11-08"},
			days:  []counter.Day{{Date: "2027-11-06", Count: 1}, {Date: "2027-11-07", Count: 4}, {Date: "2027-11-08", Count: 1}},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			clock := &fixedClock{t: utc(c.hits[0])}
			v := counter.NewVisitors(counter.NewMemory(), counter.VisitorOptions{Location: ny, Now: clock.Now})
			for i, h := range c.hits {
				clock.Set(utc(h))
				if got := v.Today(); got != c.dates[i] {
					t.Fatalf("Today at %s (%s) = %s, want %s", h, utc(h).In(ny).Format("15:04:05 MST"), got, c.dates[i])
				}
				if _, err := v.Increment(ctx, "home"); err != nil {
					t.Fatal(err)
				}
			}
			days, err := v.LastDays(ctx, "home", 3)
			if err != nil || !slices.Equal(days, c.days) {
				t.Fatalf("LastDays = %+v, %v; want %+v", days, err, c.days)
			}
		})
	}
}
