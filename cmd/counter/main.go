// Command counter serves visit counters and lets their owner see, move and
// fix the counts.
//
//	counter serve              serve the counts, badges, charts and pages (see -h)
//	counter get KEY...         print counts, visitors and today's numbers
//	counter set KEY N          set a count (carry one over, or reset it)
//	counter export [KEY...]    write keys, counts and daily history as JSON Lines
//	counter import FILE        apply an export ("-": standard input)
//
// Every command reads its store from the environment: COUNTER_STORE (bolt,
// the default; memory; dynamodb; postgres; redis; sqlite), COUNTER_DATA,
// COUNTER_TABLE, COUNTER_DATABASE_URL, COUNTER_REDIS_URL and the AWS
// variables. See docs/command.md.
//
// Install it with
//
//	go install github.com/resumecounter/counter/cmd/counter@latest
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Exit statuses, as Go's own tools use them.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2 // the command line is wrong
)

func main() {
	c := &cli{
		getenv: os.Getenv,
		stdin:  os.Stdin,
		stdout: os.Stdout,
		stderr: os.Stderr,
		open:   openFromEnv,
		now:    time.Now,
	}
	os.Exit(c.run(context.Background(), os.Args[1:]))
}

// cli is one run of the command: its environment, its streams and the
// way it opens the store (tests open one of their own).
type cli struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
	open           func(ctx context.Context, cfg storeConfig) (*openStore, error)
	now            func() time.Time
}

// command is one subcommand.
type command struct {
	name    string
	args    string // the arguments after the flags, for the usage line
	summary string
	help    string // shown by -h after the usage line
	// flags defines the command's flags on fs and returns the function
	// that runs it with the arguments left after them.
	flags func(fs *flag.FlagSet) func(ctx context.Context, c *cli, args []string) error
}

// commands lists the subcommands, in the order -h shows them.
var commands = []*command{serveCommand, getCommand, setCommand, exportCommand, importCommand}

const usage = `counter serves visit counters and lets their owner see, move and fix the counts.

Usage:
	counter <command> [arguments]

Commands:
%s
counter serve answers:
%s
Every command uses the store that COUNTER_STORE names (bolt by default,
in the file COUNTER_DATA or ./counter.db); "counter <command> -h" lists
the variables. Exit status: 0 done, 1 failed, 2 wrong command line.
`

func (c *cli) usage(w io.Writer) {
	var b strings.Builder
	for _, cmd := range commands {
		fmt.Fprintf(&b, "\t%-8s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintf(w, usage, b.String(), routesHelp)
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// run runs the command line args and returns the exit status.
func (c *cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		c.usage(c.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && name == "help" {
			if cmd := find(args[1]); cmd != nil {
				return c.runCommand(ctx, cmd, []string{"-h"})
			}
			fmt.Fprintf(c.stderr, "counter help: unknown command %q\nRun 'counter -h' for the commands.\n", args[1])
			return exitUsage
		}
		c.usage(c.stdout)
		return exitOK
	}
	cmd := find(name)
	if cmd == nil {
		fmt.Fprintf(c.stderr, "counter: unknown command %q\nRun 'counter -h' for the commands.\n", name)
		return exitUsage
	}
	return c.runCommand(ctx, cmd, args[1:])
}

func find(name string) *command {
	for _, cmd := range commands {
		if cmd.name == name {
			return cmd
		}
	}
	return nil
}

func (c *cli) runCommand(ctx context.Context, cmd *command, args []string) int {
	fs := flag.NewFlagSet("counter "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(c.stderr) // flag's own error messages
	fs.Usage = func() {}   // printed below, to the right stream
	run := cmd.flags(fs)
	printUsage := func(w io.Writer, long bool) {
		fmt.Fprintf(w, "usage: %s\n", strings.TrimSpace("counter "+cmd.name+" "+cmd.args))
		if !long {
			fmt.Fprintf(w, "Run 'counter %s -h' for help.\n", cmd.name)
			return
		}
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(cmd.help))
		var hasFlags bool
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintf(w, "\nFlags:\n")
			fs.SetOutput(w)
			fs.PrintDefaults()
			fs.SetOutput(c.stderr)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(c.stdout, true)
			return exitOK
		}
		printUsage(c.stderr, false)
		return exitUsage
	}
	// The first SIGINT or SIGTERM ends ctx (the server then finishes the
	// requests in flight); a second one kills the process at once.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, c, fs.Args())
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "counter %s: %s\n", cmd.name, ue.msg)
		printUsage(c.stderr, false)
		return exitUsage
	case errors.Is(err, errReported):
		return exitFailure
	default:
		fmt.Fprintf(c.stderr, "counter %s: %v\n", cmd.name, err)
		return exitFailure
	}
}

// errReported is returned by a command that has written its own error
// (the server logs it): exit status 1 and nothing more to print.
var errReported = errors.New("reported")
