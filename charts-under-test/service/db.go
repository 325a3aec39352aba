package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Advisory lock keys (arbitrary constants, shared by every replica and version).
const (
	migrateLockKey = 4_201_001 // one migration at a time, even if a hook Job retries concurrently
	eventsLockKey  = 4_201_002 // event ids commit in id order; see appendEvent
)

// schemaSteps are applied in order, each only by a binary whose version is at least `since`.
// Every step is idempotent and only adds (expand-only), so rolling back to an older binary
// after a newer migration stays safe: 1.0.0 never reads items.created_at and inserts get the default.
var schemaSteps = []struct{ since, sql string }{
	{"1.0.0", `
CREATE TABLE IF NOT EXISTS items (id bigserial PRIMARY KEY, value text NOT NULL);
CREATE SEQUENCE IF NOT EXISTS event_seq;
CREATE TABLE IF NOT EXISTS events (
  id bigint PRIMARY KEY,
  pod text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());`},
	{"1.1.0", `ALTER TABLE items ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now();`},
}

// atLeast compares dotted versions numerically; "dev" (an unstamped build) is newer than all.
func atLeast(v, min string) bool {
	if v == "dev" {
		return true
	}
	a, b := strings.Split(v, "."), strings.Split(min, ".")
	for i := 0; i < len(b); i++ {
		var x int
		if i < len(a) {
			x, _ = strconv.Atoi(strings.SplitN(a[i], "-", 2)[0])
		}
		y, _ := strconv.Atoi(b[i])
		if x != y {
			return x > y
		}
	}
	return true
}

// migrate brings the schema to this binary's version in one transaction and records the run,
// so a test can see when (and how often) the hook Job ran relative to the new pods.
func migrate(ctx context.Context, conn *pgx.Conn, pod string) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS migrations (
  id bigserial PRIMARY KEY, version text NOT NULL, pod text NOT NULL,
  ran_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	for _, s := range schemaSteps {
		if atLeast(version, s.since) {
			if _, err := tx.Exec(ctx, s.sql); err != nil {
				return fmt.Errorf("schema step %s: %w", s.since, err)
			}
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO migrations (version, pod) VALUES ($1, $2)`, version, pod); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// runMigrate is the `service migrate` subcommand run by the chart's hook Job.
func runMigrate(cfg config) int {
	if strings.EqualFold(os.Getenv("MIGRATION_FAIL"), "true") {
		fmt.Fprintln(os.Stderr, "migrate: failing on purpose (MIGRATION_FAIL=true); schema untouched")
		return 1
	}
	if cfg.DatabaseURL == "" {
		fmt.Fprintln(os.Stderr, "migrate: DATABASE_URL is not set")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := connectWithRetry(ctx, cfg.DatabaseURL, 30*time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "migrate: connect: %v\n", err)
		return 1
	}
	defer conn.Close(context.Background())
	if err := migrate(ctx, conn, cfg.PodName); err != nil {
		fmt.Fprintf(os.Stderr, "migrate: %v\n", err)
		return 1
	}
	fmt.Printf("migrate: schema at version %s (recorded by %s)\n", version, cfg.PodName)
	return 0
}

// connectWithRetry waits for a database that may still be starting (a fresh install starts the
// migration Job and PostgreSQL at about the same time) instead of failing the Job at once.
func connectWithRetry(ctx context.Context, url string, patience time.Duration) (*pgx.Conn, error) {
	deadline := time.Now().Add(patience)
	for {
		attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := pgx.Connect(attempt, url)
		cancel()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return conn, err
		}
		fmt.Fprintf(os.Stderr, "migrate: database not reachable yet (%v); retrying\n", err)
		time.Sleep(time.Second)
	}
}

// appendEvent adds one event to the shared stream. The id comes from event_seq, taken while
// holding a transaction-level lock, so ids become visible in id order: a reader that has seen
// id N can never later see a smaller id appear (which would be a gap for its cursor). An aborted
// insert leaves a hole in the sequence, but holes are never filled, so no reader misses a row.
func appendEvent(ctx context.Context, db *pgxpool.Pool, pod string) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, eventsLockKey); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO events (id, pod) VALUES (nextval('event_seq'), $1)`, pod)
		return err
	})
}

// pruneEvents keeps the events table bounded; a client resuming from an older id skips ahead.
func pruneEvents(ctx context.Context, db *pgxpool.Pool, keep time.Duration) error {
	_, err := db.Exec(ctx, `DELETE FROM events WHERE created_at < now() - $1::interval`,
		fmt.Sprintf("%d seconds", int(keep.Seconds())))
	return err
}

var errNoDatabase = errors.New("no database configured (DATABASE_URL is unset)")
