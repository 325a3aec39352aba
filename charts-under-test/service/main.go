// Command service is the demo HTTP service both charts under test run: liveness and readiness
// endpoints, an items API backed by PostgreSQL, a server-sent event stream whose ids survive a
// reconnect to another replica, Prometheus metrics, graceful shutdown, and `service migrate`.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// version is stamped at build time: -ldflags "-X main.version=1.1.0".
var version = "dev"

func main() {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "migrate":
			os.Exit(runMigrate(cfg))
		case "version":
			fmt.Println(version)
			return
		default:
			fmt.Fprintf(os.Stderr, "unknown subcommand %q (known: migrate, version; none: serve)\n", os.Args[1])
			os.Exit(2)
		}
	}
	os.Exit(serve(cfg))
}

func serve(cfg config) int {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	// Listen to signals first: a SIGTERM during start-up must not kill the process half-way.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)

	var db *pgxpool.Pool
	if cfg.DatabaseURL != "" {
		var err error
		// The pool connects lazily: the process starts (and stays alive) while the database is
		// down; /ready reports the outage instead.
		if db, err = pgxpool.New(context.Background(), cfg.DatabaseURL); err != nil {
			log.Error("invalid DATABASE_URL", "err", err)
			return 2
		}
	}
	s := newServer(cfg, db, log)

	var servers []*http.Server
	errs := make(chan error, 3)
	for _, l := range []struct {
		name, port string
		h          http.Handler
	}{
		{"client", cfg.Port, s.routes()},
		{"internal", cfg.InternalPort, s.routes()},
		{"metrics", cfg.MetricsPort, s.metrics},
	} {
		ln, err := net.Listen("tcp", ":"+l.port)
		if err != nil {
			log.Error("cannot listen", "listener", l.name, "port", l.port, "err", err)
			return 1
		}
		srv := &http.Server{Handler: l.h, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go func() { errs <- srv.Serve(ln) }()
	}
	ctx, stopProducer := context.WithCancel(context.Background())
	defer stopProducer()
	if db != nil {
		go s.produce(ctx)
	}
	log.Info("serving", "version", version, "pod", cfg.PodName, "port", cfg.Port,
		"internal_port", cfg.InternalPort, "metrics_port", cfg.MetricsPort, "database", db != nil)

	select {
	case sig := <-signals:
		log.Info("signal received", "signal", sig.String())
	case err := <-errs:
		log.Error("server failed", "err", err)
		return 1
	}
	if !cfg.Graceful {
		// Exit explicitly: as PID 1 in a container, a SIGTERM without a handler would be ignored.
		// os.Exit, not return: nothing may wait, not even for database connections in use.
		log.Warn("GRACEFUL_SHUTDOWN=false: exiting at once, dropping in-flight requests")
		os.Exit(1)
	}
	s.drain()
	if cfg.ShutdownDelay > 0 {
		// Keep accepting while failing readiness, for load balancers that notice readiness late.
		// The charts use a preStop sleep instead, which runs before SIGTERM is even sent.
		time.Sleep(cfg.ShutdownDelay)
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	for _, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Shutdown(sctx); err != nil {
				mu.Lock()
				failed = errors.Join(failed, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if failed != nil {
		log.Error("in-flight requests did not finish within SHUTDOWN_TIMEOUT", "timeout", cfg.ShutdownTimeout, "err", failed)
		return 1
	}
	if db != nil {
		db.Close() // after Shutdown: every request has returned its connection by now
	}
	log.Info("stopped cleanly")
	return 0
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}
