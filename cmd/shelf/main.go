// Command shelf is Shelf's one binary: the HTTP server and the operator's
// commands (migrate, seed, import, export, apikey). main only calls run, which takes
// its environment as arguments so tests can start the real program.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/config"
	"github.com/shelfcommerce/shelf/internal/store"
	"github.com/shelfcommerce/shelf/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(os.Stderr, "shelf:", ee.msg)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "shelf:", err)
		os.Exit(1)
	}
}

// Exit statuses, the same for every command (README: "Exit status"):
//
//	0  done
//	1  done in part, or failed: some import rows were not imported, no such
//	   API key, or an unexpected error
//	2  bad arguments or configuration, or a file that cannot be read,
//	   written or imported
//	3  the database is unreachable, refusing work or failed midway: nothing
//	   is wrong with the request, run it again later
//	4  migrations are pending (shelf migrate status)
const (
	exitFailed      = 1
	exitUsage       = 2
	exitUnavailable = 3
	exitPending     = 4
)

// exitError ends the program with a specific status.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// env is what a command gets from the outside world.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	summary string
	run     func(ctx context.Context, e env, args []string) error
}

// commands is filled by each command's file.
var commands = map[string]command{}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return nil
	}
	if args[0] == "--version" || args[0] == "version" {
		fmt.Fprintln(stdout, version.Get())
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		usage(stderr)
		return &exitError{code: 2, msg: fmt.Sprintf("unknown command %q", args[0])}
	}
	err := cmd.run(ctx, e, args[1:])
	var ee *exitError
	if err != nil && !errors.As(err, &ee) && store.IsUnavailable(err) {
		return &exitError{code: exitUnavailable, msg: err.Error()}
	}
	return err
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: shelf <command> [arguments]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "  --version print the version, commit and Go release")
	fmt.Fprintln(w, "\nRun `shelf serve --help` for the environment variables.")
}

// loadConfig reads the environment, exiting with a clear message if invalid.
func loadConfig(e env) (config.Config, error) {
	cfg, err := config.Load(e.getenv)
	if err != nil {
		return cfg, &exitError{code: 2, msg: err.Error()}
	}
	return cfg, nil
}

// openCommandStore opens the database for a one-shot command (apikey, seed):
// the configured DSN with a pool of two, since such a command runs a few
// statements one after another.
func openCommandStore(ctx context.Context, e env) (*store.Store, error) {
	cfg, err := loadConfig(e)
	if err != nil {
		return nil, err
	}
	return store.Open(ctx, cfg.DSN, store.PoolConfig{MaxOpen: 2, MaxIdle: 2, MaxLifetime: cfg.Pool.MaxLifetime})
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(strings.ToUpper(level)))
	return slog.New(handlers.ContextHandler{Handler: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})})
}

func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			return true
		}
	}
	return false
}
