package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/config"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/orders"
	"github.com/shelfcommerce/shelf/internal/store"
	"github.com/shelfcommerce/shelf/internal/webhooks"
)

func init() {
	commands["serve"] = command{"run the HTTP server", serve}
}

func serve(ctx context.Context, e env, args []string) error {
	if wantsHelp(args) {
		fmt.Fprint(e.stdout, "Usage: shelf serve\n\nRuns the HTTP API. Configuration is by environment variable.\n\n")
		fmt.Fprint(e.stdout, config.Help())
		return nil
	}
	cfg, err := loadConfig(e)
	if err != nil {
		return err
	}
	log := newLogger(e.stderr, cfg.LogLevel)
	st, err := store.Open(ctx, cfg.DSN, cfg.Pool)
	if err != nil {
		return err
	}
	defer st.Close()
	st.Policy = store.DefaultRetry
	st.Policy.Budget = cfg.RetryBudget
	mig, err := store.NewMigrator(st.DB, nil)
	if err != nil {
		return err
	}
	read := st
	if cfg.ReadDSN != "" {
		if read, err = store.Open(ctx, cfg.ReadDSN, cfg.Pool); err != nil {
			return fmt.Errorf("SHELF_MYSQL_READ_DSN: %w", err)
		}
		defer read.Close()
	}
	// Every instance on the database signs and hashes with the same keys.
	secrets, err := st.LoadSecrets(ctx)
	if err != nil {
		return err
	}
	cursorSecret := secrets.Cursor
	if cfg.CursorSecret != "" {
		cursorSecret = []byte(cfg.CursorSecret)
	}
	ab := cfg.Abuse
	ordersCfg := orders.Config{IdempotencyTTL: cfg.IdempotencyTTL, CursorSecret: cursorSecret,
		IdempotencySecret: secrets.Idempotency,
		PendingOrderTTL:   ab.PendingOrderTTL,
		Limits:            orders.Limits{Lines: ab.OrderMaxLines, LineUnits: ab.OrderMaxLineQty, Units: ab.OrderMaxUnits}}
	// Expired Idempotency-Keys are deleted in the background (and on sight,
	// when a request meets one), and so are orders left unpaid past their TTL.
	sweeper := orders.NewService(st, ordersCfg)
	go sweeper.RunSweeper(ctx, time.Minute, log)
	go sweeper.RunExpirer(ctx, min(30*time.Second, ab.PendingOrderTTL/4), log)
	registry := prometheus.NewRegistry()
	// The change feed: one hub per process sequences, tails and prunes the
	// events table and fans out to every open stream and cache.
	hub := events.NewHub(st, events.HubConfig{Poll: cfg.EventPoll, Retention: cfg.EventRetention, Log: log})
	hubCtx, stopHub := context.WithCancel(context.WithoutCancel(ctx))
	hubDone := make(chan struct{})
	go func() { hub.Run(hubCtx); close(hubDone) }()
	defer func() { stopHub(); <-hubDone }()
	streamsDone := make(chan struct{})
	hooks := webhooks.Config{
		AllowPrivate: cfg.WebhookAllowPrivate,
		Schedule:     cfg.WebhookSchedule,
		Workers:      cfg.WebhookWorkers,
		CursorSecret: cursorSecret,
		Logger:       log,
	}
	// Webhook deliveries run beside the server; on SIGTERM the attempts in
	// flight finish and are recorded (each is bounded by its 10 s timeout)
	// before the pool closes. Whatever is left is in the database for the
	// next start, or for another instance.
	dctx, stopDispatch := context.WithCancel(ctx)
	dispatched := make(chan struct{})
	dispatcher := webhooks.NewDispatcher(st, hooks)
	hub.Follow(func([]events.Event) { dispatcher.Wake() })
	go func() { dispatcher.Run(dctx); close(dispatched) }()
	defer func() { stopDispatch(); <-dispatched }()
	router := handlers.New(handlers.Config{
		Logger:           log,
		Store:            st,
		ReadStore:        read,
		DBTimeout:        cfg.DBTimeout,
		SchemaVersion:    store.LatestVersion(mig),
		CORSOrigins:      cfg.CORSOrigins,
		TrustedProxies:   cfg.TrustedProxies,
		BodyLimit:        cfg.BodyLimit,
		ImportBodyLimit:  cfg.ImportBodyLimit,
		ImportTimeout:    cfg.ImportTimeout,
		Currency:         cfg.Currency,
		Orders:           ordersCfg,
		Events:           hub,
		Shutdown:         streamsDone,
		Webhooks:         hooks,
		Registry:         registry,
		MetricsElsewhere: ab.MetricsAddr != "",
		OrderRateLimit:   ab.OrderRateLimit,
		AuthFailureLimit: ab.AuthFailureLimit,
		Storefront: catalog.StorefrontConfig{
			CursorSecret:     cursorSecret,
			Currency:         cfg.Currency,
			DetailTTL:        cfg.DetailCacheTTL,
			FacetTTL:         cfg.FacetCacheTTL,
			SearchMaxMatches: cfg.SearchMax,
			ReadLag:          cfg.ReadLag,
		},
	})
	srv := handlers.NewServer(cfg.Addr, router, handlers.Timeouts{Read: cfg.ReadTimeout, Write: cfg.WriteTimeout, Idle: cfg.IdleTimeout})
	// Event streams never end by themselves: Shutdown ends them at once
	// (clients reconnect elsewhere with Last-Event-ID) instead of waiting;
	// a long import stops after its batch in flight and answers with its
	// report so far, within SHELF_SHUTDOWN_TIMEOUT.
	srv.RegisterOnShutdown(func() { close(streamsDone) })
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	// Every connection is a file descriptor, and so is every database
	// connection: the cap leaves a quarter of the process's limit (at
	// least 64) for the pool, logs and files.
	maxConns := ab.MaxConns
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < uint64(maxConns)+uint64(maxConns)/3+64 {
		maxConns = 16
		if reserve := max(rl.Cur/4, 64); rl.Cur > reserve+16 {
			maxConns = int(rl.Cur - reserve)
		}
		log.Warn("SHELF_MAX_CONNS lowered to fit the file descriptor limit", "max_conns", maxConns, "nofile", rl.Cur)
	}
	ln = handlers.LimitListener(ln, handlers.ConnLimits{Max: maxConns, PerIP: ab.MaxConnsPerIP, Trusted: cfg.TrustedProxies})
	if ab.MetricsAddr != "" {
		mln, err := net.Listen("tcp", ab.MetricsAddr)
		if err != nil {
			return fmt.Errorf("SHELF_METRICS_ADDR: %w", err)
		}
		msrv := handlers.NewServer(ab.MetricsAddr, handlers.MetricsHandler(registry), handlers.Timeouts{Read: 10 * time.Second, Write: 30 * time.Second, Idle: time.Minute})
		go func() { _ = msrv.Serve(mln) }()
		defer msrv.Close()
		log.Info("serving metrics", "addr", mln.Addr().String())
	}
	fmt.Fprintf(e.stdout, "shelf: serving on %s\n", displayURL(ln.Addr()))
	log.Info("serving", "addr", ln.Addr().String())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// Drain: stop accepting, let in-flight requests finish, then close the
	// pool (deferred above) so no request loses its connection midway.
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

func displayURL(a net.Addr) string {
	host, port, _ := net.SplitHostPort(a.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
