package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/resumecounter/counter"
)

// opTimeout bounds each store call of the owner's commands.
const opTimeout = 30 * time.Second

var getCommand = &command{
	name:    "get",
	args:    "KEY...",
	summary: "print counts, visitors and today's numbers",
	help: `Get prints each KEY's count (every counted hit), its visitors (the sum of
daily unique visitors) and today's hits and visitors (the day in UTC), one
line per key. A key never counted prints zeros. It counts nothing.

` + storeHelp(),
	flags: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
		asJSON := fs.Bool("json", false, `print one JSON object per key: {"key","count","visitors","today":{"date","count","visitors"}}`)
		return func(ctx context.Context, c *cli, args []string) error {
			if len(args) == 0 {
				return usagef("name at least one KEY")
			}
			if err := checkKeys(args); err != nil {
				return err
			}
			s, err := c.openForOwner(ctx, false)
			if err != nil {
				return err
			}
			defer s.Close()
			today := counter.DateOf(c.now().UTC())
			visits, _ := s.store.(counter.VisitStore)
			reader, _ := s.store.(counter.Reader)
			if visits == nil && reader == nil {
				return fmt.Errorf("%s cannot read counts", s.desc)
			}
			out := bufio.NewWriter(c.stdout)
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			if !*asJSON {
				fmt.Fprintf(tw, "KEY\tCOUNT\tVISITORS\tHITS TODAY\tVISITORS TODAY\n")
			}
			for _, key := range args {
				st := counter.Stats{Key: key, Today: counter.Day{Date: today}}
				err := withTimeout(ctx, func(ctx context.Context) (err error) {
					if visits != nil {
						st, err = visits.Stats(ctx, key, today)
						return err
					}
					st.Count, err = reader.Count(ctx, key)
					return err
				})
				if err != nil {
					return fmt.Errorf("key %s: %w", key, err)
				}
				if *asJSON {
					line := fmt.Sprintf(`{"key":%q,"count":%d,"visitors":%d,"today":{"date":%q,"count":%d,"visitors":%d}}`,
						key, st.Count, st.Visitors, st.Today.Date, st.Today.Count, st.Today.Visitors)
					fmt.Fprintln(out, line)
					continue
				}
				visitors, hitsToday, visitorsToday := strconv.FormatInt(st.Visitors, 10), strconv.FormatInt(st.Today.Count, 10), strconv.FormatInt(st.Today.Visitors, 10)
				if visits == nil { // a store that keeps counts only
					visitors, hitsToday, visitorsToday = "-", "-", "-"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", key, st.Count, visitors, hitsToday, visitorsToday)
			}
			if !*asJSON {
				tw.Flush()
			}
			return out.Flush()
		}
	},
}

var setCommand = &command{
	name:    "set",
	args:    "KEY N",
	summary: "set a count (carry one over, or reset it)",
	help: `Set sets KEY's count to N (a whole number, 0 or more) in one atomic write
and prints the count it replaced and the new one. Visitors and daily
history stay as they are. Use it to carry a count over from another
counter, or to reset one.

` + storeHelp(),
	flags: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
		return func(ctx context.Context, c *cli, args []string) error {
			if len(args) != 2 {
				return usagef("want KEY and N, got %d argument(s)", len(args))
			}
			key := args[0]
			if err := checkKeys(args[:1]); err != nil {
				return err
			}
			n, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil || n < 0 {
				return usagef("N=%s: want a whole number from 0 to 9223372036854775807", args[1])
			}
			s, err := c.openForOwner(ctx, true)
			if err != nil {
				return err
			}
			defer s.Close()
			ed, err := editor(s)
			if err != nil {
				return err
			}
			var old int64
			if err := withTimeout(ctx, func(ctx context.Context) (err error) {
				old, err = ed.SetCount(ctx, key, n)
				return err
			}); err != nil {
				return fmt.Errorf("set %s: %w%s", key, err, hint(err))
			}
			fmt.Fprintf(c.stdout, "%s: count was %d, now %d\n", key, old, n)
			return s.Close()
		}
	},
}

var exportCommand = &command{
	name:    "export",
	args:    "[-o FILE] [KEY...]",
	summary: "write counts and daily history as JSON Lines",
	help: `Export writes each KEY's record, or with no KEY every key's, as JSON Lines:
one line per key with its count, visitors and every day's numbers,

  {"key":"visitors","count":1234,"visitors":567,"days":[{"date":"2026-11-02","count":3,"visitors":2}]}

to standard output, or with -o to FILE (written whole or not at all).
"counter import" applies it to any store. Keys are read one after another
while visits may still count: for an exact copy, stop the server first.

` + storeHelp(),
	flags: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
		output := fs.String("o", "", "write to `FILE` instead of standard output (replaced only once the export is complete)")
		return func(ctx context.Context, c *cli, args []string) error {
			if err := checkKeys(args); err != nil {
				return err
			}
			s, err := c.openForOwner(ctx, false)
			if err != nil {
				return err
			}
			defer s.Close()
			ed, err := editor(s)
			if err != nil {
				return err
			}
			keys := args
			if len(keys) == 0 {
				lister, ok := s.store.(counter.KeyLister)
				if !ok {
					return fmt.Errorf("%s cannot list its keys (counter.KeyLister): name the keys to export", s.desc)
				}
				if err := withTimeout(ctx, func(ctx context.Context) (err error) {
					keys, err = lister.Keys(ctx)
					return err
				}); err != nil {
					return fmt.Errorf("list keys: %w", err)
				}
			}
			w, commit, err := c.output(*output)
			if err != nil {
				return err
			}
			defer func() { _ = commit(false) }() // removes a file left incomplete
			if err := exportRecords(ctx, ed, keys, w); err != nil {
				return err
			}
			return commit(true)
		}
	},
}

var importCommand = &command{
	name:    "import",
	args:    "[-check] [-allow-lower] FILE",
	summary: `apply an export ("-": standard input)`,
	help: `Import applies an export (JSON Lines, as "counter export" writes them) to the
store: each key's count and visitors become the line's, and each day listed
gets the line's numbers; days not listed stay. Importing the same file twice
leaves the same state. FILE "-" reads standard input.

Every line is checked before anything is written: if any line is bad,
import names each bad line and writes nothing. A line needs "key" and
"count"; "visitors" and "days" may be left out, so a line written by hand,
{"key":"visitors","count":1234}, carries a number over.

An import that would lower a key's count or visitors writes nothing and
names those keys, unless -allow-lower says to. -check writes nothing: it
checks the file and shows, per key, the numbers now and after the import.

` + storeHelp(),
	flags: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
		check := fs.Bool("check", false, "only check the file and show each key's numbers now and after; write nothing")
		allowLower := fs.Bool("allow-lower", false, "import even where a count or visitors would go down")
		return func(ctx context.Context, c *cli, args []string) error {
			if len(args) != 1 {
				return usagef("want one FILE (- for standard input), got %d argument(s)", len(args))
			}
			name, in := args[0], c.stdin
			if name == "-" {
				name = "standard input"
			} else {
				f, err := os.Open(name) //nolint:gosec // the file the owner named
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			records, err := readRecords(in, name, latestDate(c.now()))
			if err != nil {
				return err
			}
			if *check {
				fmt.Fprintf(c.stdout, "%s: %s, every line valid\n", name, plural(len(records), "key"))
				s, err := c.openForOwner(ctx, false)
				if err != nil {
					fmt.Fprintf(c.stdout, "(the numbers now are not shown: %v)\n", err)
					return nil
				}
				defer s.Close()
				ed, err := editor(s)
				if err != nil {
					return err
				}
				changes, err := compare(ctx, ed, records)
				if err != nil {
					return err
				}
				printChanges(c.stdout, changes)
				return nil
			}
			s, err := c.openForOwner(ctx, true)
			if err != nil {
				return err
			}
			defer s.Close()
			ed, err := editor(s)
			if err != nil {
				return err
			}
			if !*allowLower {
				if err := refuseLower(ctx, ed, records, "see every change with import -check; import with -allow-lower to lower them"); err != nil {
					return err
				}
			}
			if err := importRecords(ctx, timeoutEditor{ed}, records); err != nil {
				return fmt.Errorf("%w%s", err, hint(err))
			}
			if err := s.Close(); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "imported %s from %s into %s\n", plural(len(records), "key"), name, s.desc)
			return nil
		}
	},
}

// plural is "1 key", "2 keys".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// change is what an import does to one key's totals.
type change struct {
	key                   string
	count, newCount       int64
	visitors, newVisitors int64
}

func (c change) lowers() bool { return c.newCount < c.count || c.newVisitors < c.visitors }

// compare reads each record's key from ed and returns what importing the
// records would change.
func compare(ctx context.Context, ed counter.Editor, records []counter.Record) ([]change, error) {
	ed = timeoutEditor{ed}
	changes := make([]change, len(records))
	for i, r := range records {
		now, err := ed.Export(ctx, r.Key)
		if err != nil {
			return nil, fmt.Errorf("read key %s: %w", r.Key, err)
		}
		changes[i] = change{r.Key, now.Count, r.Count, now.Visitors, r.Visitors}
	}
	return changes, nil
}

// printChanges writes a table of the changes.
func printChanges(w io.Writer, changes []change) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "KEY\tCOUNT NOW\tCOUNT AFTER\tVISITORS NOW\tVISITORS AFTER\n")
	for _, c := range changes {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d", c.key, c.count, c.newCount, c.visitors, c.newVisitors)
		if c.lowers() {
			fmt.Fprintf(tw, "\tlower: needs -allow-lower")
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// refuseLower reads the keys of records from ed and returns a *lowerError
// naming those whose count or visitors importing records would lower, or
// nil; allow says how to import anyway. It writes nothing. The import
// command and the admin route both call it before importing.
func refuseLower(ctx context.Context, ed counter.Editor, records []counter.Record, allow string) error {
	changes, err := compare(ctx, ed, records)
	if err != nil {
		return err
	}
	var lower []change
	for _, c := range changes {
		if c.lowers() {
			lower = append(lower, c)
		}
	}
	if lower == nil {
		return nil
	}
	return &lowerError{lower: lower, allow: allow}
}

// lowerError is an import refused because it would lower the numbers of
// some keys; nothing was written.
type lowerError struct {
	lower []change // the changes that lower a number
	allow string   // how to import anyway
}

func (e *lowerError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the import would lower the numbers of %s; nothing was imported:", plural(len(e.lower), "key"))
	for _, c := range e.lower {
		fmt.Fprintf(&b, "\n\t%s: count %d, now %d; visitors %d, now %d", c.key, c.newCount, c.count, c.newVisitors, c.visitors)
	}
	fmt.Fprintf(&b, "\n(%s)", e.allow)
	return b.String()
}

// latestDate is the last date an import accepts: tomorrow in UTC, the
// latest today anywhere.
func latestDate(now time.Time) counter.Date {
	return counter.DateOf(now.UTC()).AddDays(1)
}

// openForOwner opens the store for one of the owner's commands; create
// says the command writes, and may create a store that does not exist yet.
func (c *cli) openForOwner(ctx context.Context, create bool) (*openStore, error) {
	maxKeys, err := maxKeysFromEnv(c.getenv)
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	return c.open(ctx, storeConfig{getenv: c.getenv, log: quiet, maxKeys: maxKeys, create: create})
}

// editor returns s's store as a counter.Editor, or an error saying it is not.
func editor(s *openStore) (counter.Editor, error) {
	ed, ok := s.store.(counter.Editor)
	if !ok {
		return nil, fmt.Errorf("%s cannot set, export or import counts yet (it does not implement counter.Editor)", s.desc)
	}
	return ed, nil
}

// checkKeys is a usage error for the first invalid key.
func checkKeys(keys []string) error {
	for _, k := range keys {
		if err := counter.CheckKey(k); err != nil {
			return usagef("invalid key %q: keys are 1-%d ASCII letters, digits, '-', '_', '.' and ':', starting with a letter or digit",
				k, counter.MaxKeyLen)
		}
	}
	return nil
}

// hint says what to do about a store error, if there is something to say.
func hint(err error) string {
	if errors.Is(err, counter.ErrTooManyKeys) {
		return "\n(the store holds as many keys as COUNTER_MAX_KEYS allows: raise it, or set it to 0 for no cap)"
	}
	return ""
}

// withTimeout runs f with ctx bounded by opTimeout.
func withTimeout(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	return f(ctx)
}

// timeoutEditor bounds each call of an Editor by opTimeout.
type timeoutEditor struct{ counter.Editor }

func (e timeoutEditor) Import(ctx context.Context, r counter.Record) error {
	return withTimeout(ctx, func(ctx context.Context) error { return e.Editor.Import(ctx, r) })
}

func (e timeoutEditor) Export(ctx context.Context, key string) (r counter.Record, err error) {
	err = withTimeout(ctx, func(ctx context.Context) error {
		r, err = e.Editor.Export(ctx, key)
		return err
	})
	return r, err
}

// exportRecords writes the records of keys to w as JSON Lines.
func exportRecords(ctx context.Context, ed counter.Editor, keys []string, w io.Writer) error {
	ed = timeoutEditor{ed}
	var buf []byte
	for _, key := range keys {
		r, err := ed.Export(ctx, key)
		if err != nil {
			return fmt.Errorf("export key %s: %w", key, err)
		}
		if buf, err = appendRecord(buf[:0], r); err != nil {
			return fmt.Errorf("export key %s: %w", key, err)
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// output returns where export writes: standard output, or a temporary
// file beside path that commit(true) renames to path. commit(false)
// removes it; calls after the first do nothing.
func (c *cli) output(path string) (w io.Writer, commit func(ok bool) error, err error) {
	if path == "" {
		bw := bufio.NewWriter(c.stdout)
		return bw, func(ok bool) error {
			if ok {
				return bw.Flush()
			}
			return nil
		}, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, nil, fmt.Errorf("-o %s: cannot write beside it: %w", path, err)
	}
	bw := bufio.NewWriter(f)
	done := false
	return bw, func(ok bool) error {
		if done {
			return nil
		}
		done = true
		err := bw.Flush()
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if ok && err == nil {
			err = os.Rename(f.Name(), path)
		}
		if !ok || err != nil {
			_ = os.Remove(f.Name())
		}
		return err
	}, nil
}
