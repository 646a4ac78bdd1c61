package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/go-sql-driver/mysql"
	"github.com/pressly/goose/v3"

	"github.com/shelfcommerce/shelf/internal/store"
)

func init() {
	commands["migrate"] = command{"apply or inspect schema migrations: up|down|status|version|redo", migrate}
}

const migrateUsage = `Usage: shelf migrate up|down|status|version|redo

  up       apply every pending migration (safe to run from several jobs at once)
  down     roll back the newest migration
  redo     roll back the newest migration and apply it again
  status   list migrations; exits 4 while any is pending (3: the database is unavailable)
  version  print the database's current version

Uses SHELF_MYSQL_DSN.`

func migrate(ctx context.Context, e env, args []string) error {
	if len(args) != 1 || wantsHelp(args) {
		fmt.Fprintln(e.stdout, migrateUsage)
		if wantsHelp(args) {
			return nil
		}
		return &exitError{code: 2}
	}
	cfg, err := loadConfig(e)
	if err != nil {
		return err
	}
	// A migration's ALTER waiting behind a long transaction would stall every
	// query queued behind it; give up after 10 s instead of the server's day.
	dsn, err := withParam(cfg.DSN, "lock_wait_timeout", "10")
	if err != nil {
		return err
	}
	sqlDB, err := store.OpenDB(ctx, dsn, store.PoolConfig{MaxOpen: 2, MaxIdle: 2, MaxLifetime: cfg.Pool.MaxLifetime})
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	p, err := store.NewMigrator(sqlDB, nil)
	if err != nil {
		return err
	}
	switch args[0] {
	case "up":
		// An ALTER that gave up behind a long transaction (lock_wait_timeout)
		// changed nothing: the retry policy runs up again before failing
		// the job.
		try := 0
		addedSearchWords := false
		err := store.MigrateRetry.Run(ctx, func(ctx context.Context) error {
			if try++; try > 1 {
				fmt.Fprintf(e.stderr, "shelf: migration waited too long for a table lock, retrying (attempt %d)\n", try)
			}
			res, err := p.Up(ctx)
			printResults(e, res)
			for _, r := range res {
				if r != nil && r.Error == nil && r.Source != nil && r.Source.Version == searchWordsMigration {
					addedSearchWords = true
				}
			}
			return err
		})
		if err != nil {
			return migrationFailed(err)
		}
		cur, _ := p.GetDBVersion(ctx)
		fmt.Fprintf(e.stdout, "shelf: schema at version %d\n", cur)
		if addedSearchWords {
			// The job that created search_words fills it (a SQL migration
			// cannot split text into words), so an upgraded catalog is
			// searchable when migrate up returns.
			return reindexAfterUpgrade(ctx, e)
		}
	case "down":
		r, err := p.Down(ctx)
		if r != nil {
			printResults(e, []*goose.MigrationResult{r})
		}
		if err != nil {
			return migrationFailed(err)
		}
	case "redo":
		r, err := p.Down(ctx)
		if err != nil {
			return migrationFailed(err)
		}
		printResults(e, []*goose.MigrationResult{r})
		r, err = p.UpByOne(ctx)
		if err != nil {
			return migrationFailed(err)
		}
		printResults(e, []*goose.MigrationResult{r})
	case "status":
		return migrationStatus(ctx, e, p)
	case "version":
		v, err := p.GetDBVersion(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, v)
	default:
		fmt.Fprintln(e.stderr, migrateUsage)
		return &exitError{code: 2, msg: fmt.Sprintf("unknown migrate command %q", args[0])}
	}
	return nil
}

// searchWordsMigration creates search_words, which only Go can fill: the
// migrate up that applies it runs reindex once.
const searchWordsMigration = 140

func migrationStatus(ctx context.Context, e env, p *goose.Provider) error {
	st, err := p.Status(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTATE\tAPPLIED AT\tFILE")
	pending := 0
	for _, s := range st {
		applied := "-"
		if s.State == goose.StateApplied {
			applied = s.AppliedAt.UTC().Format("2006-01-02 15:04:05")
		} else {
			pending++
		}
		fmt.Fprintf(tw, "%05d\t%s\t%s\t%s\n", s.Source.Version, s.State, applied, baseName(s.Source.Path))
	}
	tw.Flush()
	if pending > 0 {
		return &exitError{code: exitPending, msg: fmt.Sprintf("%d migration(s) pending: run `shelf migrate up`", pending)}
	}
	fmt.Fprintln(e.stdout, "shelf: schema is up to date")
	return nil
}

func printResults(e env, res []*goose.MigrationResult) {
	for _, r := range res {
		if r == nil || r.Source == nil {
			continue
		}
		fmt.Fprintf(e.stdout, "%s %05d %s (%s)\n", r.Direction, r.Source.Version, baseName(r.Source.Path), r.Duration.Round(1e6))
	}
}

// migrationFailed explains a failed migration. MySQL commits DDL statement by
// statement, so the failed file's version is not recorded; status tells the
// truth and a fixed file can be re-run.
func migrationFailed(err error) error {
	var pe *goose.PartialError
	if errors.As(err, &pe) && pe.Failed != nil && pe.Failed.Source != nil {
		return fmt.Errorf("migration %05d (%s) failed and was not recorded: %w\n"+
			"`shelf migrate status` shows what is applied; fix the cause and run `shelf migrate up` again",
			pe.Failed.Source.Version, baseName(pe.Failed.Source.Path), pe.Err)
	}
	return fmt.Errorf("migrate: %w", err)
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

func withParam(dsn, k, v string) (string, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", err
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params[k] = v
	return cfg.FormatDSN(), nil
}
