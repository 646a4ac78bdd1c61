package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/config"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/orders"
	"github.com/shelfcommerce/shelf/internal/store"
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
	mig, err := store.NewMigrator(st.DB, nil)
	if err != nil {
		return err
	}
	ordersCfg := orders.Config{IdempotencyTTL: cfg.IdempotencyTTL, CursorSecret: []byte(cfg.CursorSecret)}
	// Expired Idempotency-Keys are deleted in the background (and on sight,
	// when a request meets one).
	go orders.NewService(st, ordersCfg).RunSweeper(ctx, time.Minute, log)
	// The change feed: one hub per process sequences, tails and prunes the
	// events table and fans out to every open stream and cache.
	hub := events.NewHub(st, events.HubConfig{Poll: cfg.EventPoll, Retention: cfg.EventRetention, Log: log})
	hubCtx, stopHub := context.WithCancel(context.WithoutCancel(ctx))
	hubDone := make(chan struct{})
	go func() { hub.Run(hubCtx); close(hubDone) }()
	defer func() { stopHub(); <-hubDone }()
	streamsDone := make(chan struct{})
	router := handlers.New(handlers.Config{
		Logger:          log,
		Store:           st,
		SchemaVersion:   store.LatestVersion(mig),
		CORSOrigins:     cfg.CORSOrigins,
		TrustedProxies:  cfg.TrustedProxies,
		BodyLimit:       cfg.BodyLimit,
		ImportBodyLimit: cfg.ImportBodyLimit,
		ImportTimeout:   cfg.ImportTimeout,
		Currency:        cfg.Currency,
		Orders:          ordersCfg,
		Events:          hub,
		Shutdown:        streamsDone,
		Storefront: catalog.StorefrontConfig{
			CursorSecret:     []byte(cfg.CursorSecret),
			Currency:         cfg.Currency,
			DetailTTL:        cfg.DetailCacheTTL,
			FacetTTL:         cfg.FacetCacheTTL,
			SearchMaxMatches: cfg.SearchMax,
		},
	})
	srv := handlers.NewServer(cfg.Addr, router, handlers.Timeouts{Read: cfg.ReadTimeout, Write: cfg.WriteTimeout, Idle: cfg.IdleTimeout})
	// Event streams never end by themselves: Shutdown ends them at once
	// (clients reconnect elsewhere with Last-Event-ID) instead of waiting.
	srv.RegisterOnShutdown(func() { close(streamsDone) })
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
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
