package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/config"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/orders"
	"github.com/shelfcommerce/shelf/internal/problem"
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
	ln, err := listen(cfg, log)
	if err != nil {
		return err
	}
	registry := prometheus.NewRegistry()
	if ab := cfg.Abuse; ab.MetricsAddr != "" {
		mln, err := net.Listen("tcp", ab.MetricsAddr)
		if err != nil {
			return fmt.Errorf("SHELF_METRICS_ADDR: %w", err)
		}
		msrv := handlers.NewServer(ab.MetricsAddr, handlers.MetricsHandler(registry), handlers.Timeouts{Read: 10 * time.Second, Write: 30 * time.Second, Idle: time.Minute})
		go func() { _ = msrv.Serve(mln) }()
		defer msrv.Close()
		log.Info("serving metrics", "addr", mln.Addr().String())
	}
	// The process listens at once, database or not: until the database
	// answers with this binary's schema (a deploy that starts instances
	// before it migrates, a database restarting), /healthz is 200 and
	// /readyz and everything else a 503 that says why; then it serves.
	var why atomic.Pointer[error]
	notYet := error(problem.New(problem.Unavailable, "starting: connecting to the database"))
	why.Store(&notYet)
	var current atomic.Pointer[http.Handler]
	starting := http.Handler(handlers.Starting(log, func() error { return *why.Load() }))
	current.Store(&starting)
	srv := handlers.NewServer(cfg.Addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*current.Load()).ServeHTTP(w, r)
	}), handlers.Timeouts{Read: cfg.ReadTimeout, Write: cfg.WriteTimeout, Idle: cfg.IdleTimeout})
	// Event streams never end by themselves: Shutdown ends them at once
	// (clients reconnect elsewhere with Last-Event-ID) instead of waiting;
	// a long import stops after its batch in flight and answers with its
	// report so far, within SHELF_SHUTDOWN_TIMEOUT.
	streamsDone := make(chan struct{})
	srv.RegisterOnShutdown(func() { close(streamsDone) })
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	// "serving on" is printed once the API serves; a process that has to
	// wait says so first, with the address its /healthz and /readyz
	// answer on.
	db, err := awaitDatabase(ctx, cfg, log, &why, func(reason string) {
		fmt.Fprintf(e.stdout, "shelf: not serving yet (%s); /healthz and /readyz answer on %s\n", reason, ln.Addr())
	})
	if err != nil {
		return stop(ctx, log, cfg, srv, served, err)
	}
	st, read := db.st, db.read
	defer st.Close()
	if read != st {
		defer read.Close()
		go read.Watch(ctx, time.Second, store.LatestMigration(), cfg.ReadLag, log, "the read database (SHELF_MYSQL_READ_DSN)")
	}
	cursorSecret := db.secrets.Cursor
	if cfg.CursorSecret != "" {
		cursorSecret = []byte(cfg.CursorSecret)
	}
	ab := cfg.Abuse
	ordersCfg := orders.Config{IdempotencyTTL: cfg.IdempotencyTTL, CursorSecret: cursorSecret,
		IdempotencySecret: db.secrets.Idempotency,
		PendingOrderTTL:   ab.PendingOrderTTL,
		Limits:            orders.Limits{Lines: ab.OrderMaxLines, LineUnits: ab.OrderMaxLineQty, Units: ab.OrderMaxUnits}}
	// Expired Idempotency-Keys are deleted in the background (and on sight,
	// when a request meets one), and so are orders left unpaid past their TTL.
	sweeper := orders.NewService(st, ordersCfg)
	go sweeper.RunSweeper(ctx, time.Minute, log)
	go sweeper.RunExpirer(ctx, min(30*time.Second, ab.PendingOrderTTL/4), log)
	// The change feed: one hub per process sequences, tails and prunes the
	// events table and fans out to every open stream and cache.
	hub := events.NewHub(st, events.HubConfig{Poll: cfg.EventPoll, Retention: cfg.EventRetention, Log: log})
	hubCtx, stopHub := context.WithCancel(context.WithoutCancel(ctx))
	hubDone := make(chan struct{})
	go func() { hub.Run(hubCtx); close(hubDone) }()
	defer func() { stopHub(); <-hubDone }()
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
	router := http.Handler(handlers.New(handlers.Config{
		Logger:           log,
		Store:            st,
		ReadStore:        read,
		DBTimeout:        cfg.DBTimeout,
		SchemaVersion:    store.LatestMigration(),
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
	}))
	current.Store(&router)
	fmt.Fprintf(e.stdout, "shelf: serving on %s\n", displayURL(ln.Addr()))
	log.Info("serving", "addr", ln.Addr().String())
	// Drain on SIGTERM: stop accepting, let in-flight requests finish, then
	// close the pool (deferred above) so no request loses its connection.
	return stop(ctx, log, cfg, srv, served, nil)
}

// stop waits for the server to fail or ctx (SIGTERM) to end, then drains
// it within SHELF_SHUTDOWN_TIMEOUT. A startup that ended because ctx did
// (cause) is a clean stop too.
func stop(ctx context.Context, log *slog.Logger, cfg config.Config, srv *http.Server, served chan error, cause error) error {
	if cause == nil {
		select {
		case err := <-served:
			return err
		case <-ctx.Done():
		}
	}
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
