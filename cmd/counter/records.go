package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/resumecounter/counter"
)

// The export format is JSON Lines: one counter.Record per line,
//
//	{"key":"visitors","count":1234,"visitors":567,"days":[{"date":"2026-11-02","count":3,"visitors":2}]}
//
// On import, key and count are required; visitors (default 0) and days
// (default none) may be left out, so a hand-written line such as
// {"key":"visitors","count":1234} carries a number over from another counter.

// maxLineLen bounds one line of an import: about 40 years of days.
const maxLineLen = 1 << 20

// maxBadLines is how many bad lines an import reports before it stops
// looking for more.
const maxBadLines = 20

// appendRecord appends r as one line of JSON.
func appendRecord(dst []byte, r counter.Record) ([]byte, error) {
	if r.Days == nil {
		r.Days = []counter.Day{}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return dst, err
	}
	return append(append(dst, b...), '\n'), nil
}

// line is a record as read, with fields that must be present as pointers.
type line struct {
	Key      *string
	Count    *int64
	Visitors *int64
	Days     []json.RawMessage
}

type dayLine struct {
	Date     *string
	Count    *int64
	Visitors *int64
}

// recordFields and dayFields say in messages which fields there are.
const (
	recordFields = "a record has only key, count, visitors and days (date, count, visitors)"
	dayShape     = `{"date":…,"count":…,"visitors":…}`
)

// field is one member an object may have: its exact name and where its
// value goes.
type field struct {
	name string
	ptr  any
}

// decodeObject decodes text, one JSON object (or null, an object without
// members), into fields. Names must match exactly, case included, and
// appear at most once: encoding/json alone would take "Count" for "count",
// and the last of two "count" members. It returns what is wrong, or "";
// shape describes the object for a value of another kind.
func decodeObject(text []byte, fields []field, shape string) string {
	dec := json.NewDecoder(bytes.NewReader(text))
	tok, err := dec.Token()
	if err != nil {
		return jsonProblem(err)
	}
	switch tok {
	case json.Delim('{'):
	case nil:
		return trailing(dec)
	default:
		return fmt.Sprintf("%s where %s belongs", jsonKind(tok), shape)
	}
	seen := make(map[string]bool, len(fields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonProblem(err)
		}
		name, _ := tok.(string) // object keys are strings
		i := slices.IndexFunc(fields, func(f field) bool { return f.name == name })
		switch {
		case i < 0:
			for _, f := range fields {
				if strings.EqualFold(f.name, name) {
					return fmt.Sprintf("unknown field %q: field names are exact, lower case: %s", name, f.name)
				}
			}
			return fmt.Sprintf("unknown field %q: %s", name, recordFields)
		case seen[name]:
			return fmt.Sprintf("field %q appears twice: keep one", name)
		}
		seen[name] = true
		if err := dec.Decode(fields[i].ptr); err != nil {
			var typeErr *json.UnmarshalTypeError
			if errors.As(err, &typeErr) {
				return fmt.Sprintf("%s is %s: want %s", name, typeErr.Value, wantOf(fields[i].ptr))
			}
			return jsonProblem(err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return jsonProblem(err)
	}
	return trailing(dec)
}

// trailing says what follows the value dec has read, or "".
func trailing(dec *json.Decoder) string {
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "more than one JSON value: want one record per line"
	}
	return ""
}

// jsonKind names the kind of JSON value that starts with tok.
func jsonKind(tok json.Token) string {
	switch tok.(type) {
	case json.Delim: // '[': '{' and '}' cannot start a value here
		return "array"
	case string:
		return "string"
	case bool:
		return "bool"
	}
	return "number"
}

// wantOf says what a field decoded into ptr takes.
func wantOf(ptr any) string {
	switch ptr.(type) {
	case **string:
		return "a string"
	case *[]json.RawMessage:
		return "a list of " + dayShape
	}
	return "a whole number from 0 to 9223372036854775807"
}

// badLines is the error for an import with bad lines: each names its line.
type badLines struct {
	name  string // the file, for the message
	lines []string
	more  bool // lines beyond maxBadLines were not checked
}

func (e *badLines) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d bad line", e.name, len(e.lines))
	if len(e.lines) > 1 {
		b.WriteString("s")
	}
	if e.more {
		b.WriteString(" (and maybe more after them)")
	}
	b.WriteString("; nothing was imported:")
	for _, l := range e.lines {
		b.WriteString("\n\t")
		b.WriteString(l)
	}
	return b.String()
}

// readRecords reads and checks every line of an export. A line is bad if
// it is not one JSON object of the record's fields, or its key, numbers or
// dates are invalid, or its key or a day repeats; any bad line fails the
// whole read with an error listing them (up to maxBadLines). Blank lines are
// skipped. Dates after latest are bad: no counter counts the future.
func readRecords(r io.Reader, name string, latest counter.Date) ([]counter.Record, error) {
	var (
		records []counter.Record
		bad     = &badLines{name: name}
		seen    = map[string]int{} // key: line number
	)
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		text, err := readLine(br)
		if errors.Is(err, io.EOF) && text == nil {
			break
		}
		if errors.Is(err, errLongLine) {
			bad.lines = append(bad.lines, fmt.Sprintf("line %d: longer than %d bytes", n, maxLineLen))
		} else if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: line %d: %w", name, n, err)
		} else if len(bytes.TrimSpace(text)) > 0 {
			rec, problem := parseRecord(text, latest)
			switch first, dup := seen[rec.Key]; {
			case problem != "":
				bad.lines = append(bad.lines, fmt.Sprintf("line %d: %s", n, problem))
			case dup:
				bad.lines = append(bad.lines, fmt.Sprintf("line %d: key %s is on line %d too; keep one of them", n, rec.Key, first))
			default:
				seen[rec.Key] = n
				records = append(records, rec)
			}
		}
		if len(bad.lines) >= maxBadLines {
			bad.more = true
			break
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if len(bad.lines) > 0 {
		return nil, bad
	}
	return records, nil
}

var errLongLine = errors.New("line too long")

// readLine returns the next line without its end. At the end of r it
// returns the last line (nil if there is none) and io.EOF. A line longer
// than maxLineLen is skipped and reported as errLongLine.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > maxLineLen+2 { // room for "\r\n"
			for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of the line
				_, err = br.ReadSlice('\n')
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			}
			return []byte{}, errLongLine
		}
		buf = append(buf, chunk...)
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(buf) == 0 {
				return nil, io.EOF
			}
			return buf, io.EOF
		case err != nil:
			return nil, err
		}
		return bytes.TrimSuffix(bytes.TrimSuffix(buf, []byte("\n")), []byte("\r")), nil
	}
}

// parseRecord parses and checks one line. It returns what is wrong with it,
// or "".
func parseRecord(text []byte, latest counter.Date) (counter.Record, string) {
	var l line
	if p := decodeObject(text, []field{{"key", &l.Key}, {"count", &l.Count}, {"visitors", &l.Visitors}, {"days", &l.Days}},
		`a record {"key":…,"count":…}`); p != "" {
		return counter.Record{}, p
	}
	switch {
	case l.Key == nil:
		return counter.Record{}, `no "key"`
	case l.Count == nil:
		return counter.Record{}, fmt.Sprintf(`key %s has no "count"`, *l.Key)
	}
	if err := counter.CheckKey(*l.Key); err != nil {
		return counter.Record{}, fmt.Sprintf("invalid key %q: keys are 1-%d ASCII letters, digits, '-', '_', '.' and ':', starting with a letter or digit",
			*l.Key, counter.MaxKeyLen)
	}
	rec := counter.Record{Key: *l.Key, Count: *l.Count}
	if l.Visitors != nil {
		rec.Visitors = *l.Visitors
	}
	if p := checkNumbers("count", rec.Count, "visitors", rec.Visitors); p != "" {
		return counter.Record{}, fmt.Sprintf("key %s: %s", rec.Key, p)
	}
	dates := map[counter.Date]bool{}
	for i, raw := range l.Days {
		var d dayLine
		if p := decodeObject(raw, []field{{"date", &d.Date}, {"count", &d.Count}, {"visitors", &d.Visitors}}, dayShape); p != "" {
			return counter.Record{}, fmt.Sprintf(`key %s: day %d of "days": %s`, rec.Key, i+1, p)
		}
		if d.Date == nil {
			return counter.Record{}, fmt.Sprintf(`key %s: day %d of "days" has no "date"`, rec.Key, i+1)
		}
		date, err := counter.ParseDate(*d.Date)
		if err != nil || string(date) != *d.Date {
			return counter.Record{}, fmt.Sprintf("key %s: date %q is not a date written YYYY-MM-DD", rec.Key, *d.Date)
		}
		if date > latest {
			return counter.Record{}, fmt.Sprintf("key %s: date %s is in the future", rec.Key, date)
		}
		if dates[date] {
			return counter.Record{}, fmt.Sprintf("key %s: date %s is listed twice", rec.Key, date)
		}
		dates[date] = true
		day := counter.Day{Date: date}
		if d.Count != nil {
			day.Count = *d.Count
		}
		if d.Visitors != nil {
			day.Visitors = *d.Visitors
		}
		if p := checkNumbers("count", day.Count, "visitors", day.Visitors); p != "" {
			return counter.Record{}, fmt.Sprintf("key %s, date %s: %s", rec.Key, date, p)
		}
		rec.Days = append(rec.Days, day)
	}
	slices.SortFunc(rec.Days, func(a, b counter.Day) int { return strings.Compare(string(a.Date), string(b.Date)) })
	return rec, ""
}

// checkNumbers says which of two named numbers is negative, or "".
func checkNumbers(name1 string, n1 int64, name2 string, n2 int64) string {
	for _, f := range []struct {
		name string
		n    int64
	}{{name1, n1}, {name2, n2}} {
		if f.n < 0 {
			return fmt.Sprintf("%s is %d: want a whole number from 0 to %d", f.name, f.n, int64(math.MaxInt64))
		}
	}
	return ""
}

// jsonProblem says in a line what is wrong with a record's JSON.
func jsonProblem(err error) string {
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &syntaxErr) && !strings.Contains(syntaxErr.Error(), "unexpected end of JSON input"):
		return fmt.Sprintf("not JSON (%v at byte %d)", syntaxErr, syntaxErr.Offset)
	case syntaxErr != nil, errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the JSON ends early: want one whole record per line"
	}
	return err.Error()
}

// importRecords applies records to ed in order. On a failure it says how
// many were imported and that repeating the import is safe.
func importRecords(ctx context.Context, ed counter.Editor, records []counter.Record) error {
	for i, r := range records {
		if err := ed.Import(ctx, r); err != nil {
			return fmt.Errorf("import key %s: %w\n%d of %d keys were imported before it; import the same file again to finish (importing twice is safe)",
				r.Key, err, i, len(records))
		}
	}
	return nil
}
