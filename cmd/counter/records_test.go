package main

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/resumecounter/counter"
)

const testToday = counter.Date("2026-12-01")

// TestRecordsRoundTrip: what appendRecord writes, readRecords reads back
// the same, days sorted; blank lines and CRLF line ends are fine.
func TestRecordsRoundTrip(t *testing.T) {
	want := []counter.Record{
		{Key: "visitors", Count: 1234, Visitors: 567, Days: []counter.Day{
			{Date: "2025-12-31", Count: 3, Visitors: 2}, {Date: "2026-11-02", Count: 9, Visitors: 9}, {Date: "2026-12-02"}}},
		{Key: "page:about", Count: 0, Visitors: 0},
		{Key: "big", Count: 9223372036854775807, Visitors: 9223372036854775807},
	}
	var file []byte
	for _, r := range want {
		var err error
		if file, err = appendRecord(file, r); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(string(file), `{"key":"page:about","count":0,"visitors":0,"days":[]}`+"\n") {
		t.Errorf("a key without days is not written with \"days\":[]:\n%s", file)
	}
	text := "\n" + strings.ReplaceAll(string(file), "\n", "\r\n") + "\n  \n"
	got, err := readRecords(strings.NewReader(text), "f", testToday.AddDays(1))
	if err != nil {
		t.Fatal(err)
	}
	want[1].Days = nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, want)
	}

	// Days out of order, optional fields left out, no final newline.
	got, err = readRecords(strings.NewReader(`{"key":"a","count":5,"days":[{"date":"2026-11-02","count":2},{"date":"2026-01-01","visitors":0}]}`), "f", testToday)
	if err != nil {
		t.Fatal(err)
	}
	if w := []counter.Record{{Key: "a", Count: 5, Days: []counter.Day{{Date: "2026-01-01"}, {Date: "2026-11-02", Count: 2}}}}; !reflect.DeepEqual(got, w) {
		t.Fatalf("got %+v, want %+v", got, w)
	}
}

// TestRecordsBadLines: every kind of bad line is refused with its line
// number and what to fix.
func TestRecordsBadLines(t *testing.T) {
	good := `{"key":"ok","count":1}`
	for _, tc := range []struct {
		line string
		want string
	}{
		{`{"key":"visitors"}`, `key visitors has no "count"`},
		{`{"count":5}`, `no "key"`},
		{`{"key":"a/b","count":5}`, `invalid key "a/b": keys are 1-128 ASCII letters`},
		{`{"key":"","count":5}`, `invalid key ""`},
		{`{"key":"v","count":-1}`, "key v: count is -1: want a whole number from 0 to 9223372036854775807"},
		{`{"key":"v","count":1,"visitors":-2}`, "key v: visitors is -2: want a whole number"},
		{`{"key":"v","count":41.5}`, "count is number 41.5: want a whole number from 0 to 9223372036854775807"},
		{`{"key":"v","count":9223372036854775808}`, "count is number 9223372036854775808: want a whole number"},
		{`{"key":"v","count":"12"}`, "count is string: want a whole number"},
		{`{"key":7,"count":1}`, "key is number: want a string"},
		{`{"key":"v","count":1,"cout":2}`, `unknown field "cout": a record has only key, count, visitors and days`},
		{`{"key":"v","count":1,"days":{}}`, "days is object: want a list of"},
		{`{"key":"v","count":1,"days":[{"count":1}]}`, `key v: day 1 of "days" has no "date"`},
		{`{"key":"v","count":1,"days":[{"date":"2026-13-01"}]}`, `key v: date "2026-13-01" is not a date written YYYY-MM-DD`},
		{`{"key":"v","count":1,"days":[{"date":"2026-1-01"}]}`, `date "2026-1-01" is not a date`},
		{`{"key":"v","count":1,"days":[{"date":"2026-12-03"}]}`, "key v: date 2026-12-03 is in the future"},
		{`{"key":"v","count":1,"days":[{"date":"2026-11-01"},{"date":"2026-11-01"}]}`, "key v: date 2026-11-01 is listed twice"},
		{`{"key":"v","count":1,"days":[{"date":"2026-11-01","count":-3}]}`, "key v, date 2026-11-01: count is -3"},
		{`{"key":"v","count":1,"days":[{"date":"2026-11-01","visitors":-3}]}`, "key v, date 2026-11-01: visitors is -3"},
		{`{"key":"v","count":1} {"key":"w","count":1}`, "more than one JSON value"},
		{`{"key":"v","count":1`, "the JSON ends early"},
		{`key,count`, "not JSON"},
		{`[1,2]`, `array where a record {"key":…,"count":…} belongs`},
		{`null`, `no "key"`},
		// Field names are exact and appear once (issue 15, defect 6):
		// encoding/json alone takes "Count" for "count", and the last of two.
		{`{"key":"a","count":5,"Count":1000000}`, `unknown field "Count": field names are exact, lower case: count`},
		{`{"KEY":"a","count":5}`, `unknown field "KEY": field names are exact, lower case: key`},
		{`{"key":"a","count":5,"count":1000000}`, `field "count" appears twice: keep one`},
		{`{"key":"a","key":"b","count":5}`, `field "key" appears twice`},
		{`{"key":"a","count":5,"days":[],"days":[{"date":"2026-11-01","count":9}]}`, `field "days" appears twice`},
		{`{"key":"v","count":1,"days":[{"date":"2026-11-01","Count":9}]}`, `key v: day 1 of "days": unknown field "Count": field names are exact, lower case: count`},
		{`{"key":"v","count":1,"days":[{"date":"2026-11-01","count":1,"count":9}]}`, `key v: day 1 of "days": field "count" appears twice`},
		{`{"key":"v","count":1,"days":[{"date":"2026-11-01","day":9}]}`, `key v: day 1 of "days": unknown field "day": a record has only`},
		{`{"key":"v","count":1,"days":[5]}`, `key v: day 1 of "days": number where {"date":…,"count":…,"visitors":…} belongs`},
		{`{"key":"v","count":1,"days":[{"date":7}]}`, `key v: day 1 of "days": date is number: want a string`},
	} {
		t.Run(tc.line, func(t *testing.T) {
			file := good + "\n\n" + tc.line + "\n" + `{"key":"ok2","count":2}` + "\n"
			got, err := readRecords(strings.NewReader(file), "export.jsonl", testToday.AddDays(1))
			var bad *badLines
			if !errors.As(err, &bad) {
				t.Fatalf("got %v, %v; want a badLines error", got, err)
			}
			if got != nil {
				t.Errorf("records returned with the error: %v", got)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "export.jsonl: 1 bad line; nothing was imported:\n\tline 3: ") || !strings.Contains(msg, tc.want) {
				t.Errorf("error\n%s\nwant line 3 and %q", msg, tc.want)
			}
		})
	}
}

// TestRecordsManyBadLines: every bad line is listed (up to maxBadLines),
// a repeated key names both lines, an overlong line is skipped and reported.
func TestRecordsManyBadLines(t *testing.T) {
	file := strings.Join([]string{
		`{"key":"a","count":1}`,
		`{"key":"b","count":-1}`,
		`{"key":"a","count":2}`,
		`{"key":"x","count":1,"days":[` + strings.Repeat(`{"date":"2026-11-01"},`, maxLineLen/20) + `{"date":"2026-11-02"}]}`,
		`{"key":"c","count":3}`,
	}, "\n")
	_, err := readRecords(strings.NewReader(file), "f", testToday)
	if err == nil {
		t.Fatal("no error")
	}
	want := "f: 3 bad lines; nothing was imported:\n" +
		"\tline 2: key b: count is -1: want a whole number from 0 to 9223372036854775807\n" +
		"\tline 3: key a is on line 1 too; keep one of them\n" +
		fmt.Sprintf("\tline 4: longer than %d bytes", maxLineLen)
	if err.Error() != want {
		t.Fatalf("error\n%s\nwant\n%s", err, want)
	}

	var many strings.Builder
	for i := range 50 {
		fmt.Fprintf(&many, `{"key":"k%d"}`+"\n", i)
	}
	_, err = readRecords(strings.NewReader(many.String()), "f", testToday)
	if err == nil || !strings.HasPrefix(err.Error(), fmt.Sprintf("f: %d bad lines (and maybe more after them)", maxBadLines)) ||
		strings.Count(err.Error(), "\n\tline ") != maxBadLines {
		t.Fatalf("50 bad lines: %v", err)
	}
}
