package main

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/config"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/store"
)

// listen opens the service's listener, its connections capped.
func listen(cfg config.Config, log *slog.Logger) (net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	// Every connection is a file descriptor, and so is every database
	// connection: the cap leaves a quarter of the process's limit (at
	// least 64) for the pool, logs and files.
	ab := cfg.Abuse
	maxConns := ab.MaxConns
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < uint64(maxConns)+uint64(maxConns)/3+64 {
		maxConns = 16
		if reserve := max(rl.Cur/4, 64); rl.Cur > reserve+16 {
			maxConns = int(rl.Cur - reserve)
		}
		log.Warn("SHELF_MAX_CONNS lowered to fit the file descriptor limit", "max_conns", maxConns, "nofile", rl.Cur)
	}
	return handlers.LimitListener(ln, handlers.ConnLimits{Max: maxConns, PerIP: ab.MaxConnsPerIP, Trusted: cfg.TrustedProxies}), nil
}

// databases is what serving needs from the database: the pools (read is st
// when there is no SHELF_MYSQL_READ_DSN) and the shared keys.
type databases struct {
	st, read *store.Store
	secrets  store.Secrets
}

// awaitDatabase checks once a second until the database (and the read
// node) answers with this binary's schema, then opens the pools and loads
// the shared keys. Until then *why holds the reason, as the 503 that the
// Starting handler answers, and each new reason is logged once. It returns
// ctx's error if ctx ends first. This is a wait for a condition, not a
// retry of work: lost races are store's retry policy's. waiting is told
// the first reason, if there is one.
func awaitDatabase(ctx context.Context, cfg config.Config, log *slog.Logger, why *atomic.Pointer[error], waiting func(reason string)) (*databases, error) {
	last := ""
	for {
		db, err := openDatabases(ctx, cfg)
		if err == nil {
			return db, nil
		}
		public := err
		if _, ok := problem.As(err); !ok {
			public = problem.New(problem.Unavailable, "the database does not answer")
		}
		why.Store(&public)
		if pe, _ := problem.As(public); last == "" {
			waiting(pe.Detail)
		}
		if err.Error() != last {
			last = err.Error()
			log.Warn("not serving yet", "reason", last)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// openDatabases checks readiness on fresh connections first (preparing the
// queries needs the tables), then opens the pools.
func openDatabases(ctx context.Context, cfg config.Config) (_ *databases, err error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	primaryCheck := func(ctx context.Context) (int64, error) { return store.Check(ctx, cfg.DSN) }
	if _, err := handlers.Readiness(cctx, primaryCheck, store.LatestMigration()); err != nil {
		return nil, err
	}
	db := &databases{}
	defer func() {
		if err != nil {
			if db.read != nil && db.read != db.st {
				db.read.Close()
			}
			if db.st != nil {
				db.st.Close()
			}
		}
	}()
	if db.st, err = store.Open(cctx, cfg.DSN, cfg.Pool); err != nil {
		return nil, err
	}
	db.st.Policy = store.DefaultRetry
	db.st.Policy.Budget = cfg.RetryBudget
	db.read = db.st
	if cfg.ReadDSN != "" {
		// A read node that is down or behind on migrations stops nothing:
		// its pool dials when it answers, and reads go to the primary until
		// Watch finds it ready.
		if v, cerr := store.Check(cctx, cfg.ReadDSN); cerr != nil || v < store.LatestMigration() {
			db.read, err = store.OpenLazy(cfg.ReadDSN, cfg.Pool)
		} else if db.read, err = store.Open(cctx, cfg.ReadDSN, cfg.Pool); err != nil {
			db.read, err = store.OpenLazy(cfg.ReadDSN, cfg.Pool)
		}
		if err != nil {
			db.read = nil
			return nil, err
		}
	}
	// Every instance on the database signs and hashes with the same keys.
	if db.secrets, err = db.st.LoadSecrets(cctx); err != nil {
		return nil, err
	}
	return db, nil
}
