package main

// Tests that run the real binary: signal handling and the `migrate` subcommand.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

type process struct {
	cmd    *exec.Cmd
	base   string
	out    *bytes.Buffer
	exited chan struct{}
}

// startBinary runs `service` with env on free loopback ports and waits until /healthz answers.
func startBinary(t *testing.T, env ...string) *process {
	t.Helper()
	return startVersion(t, "1.1.0", env...)
}

func startVersion(t *testing.T, ver string, env ...string) *process {
	t.Helper()
	port := freePort()
	cmd := exec.Command(binary(t, ver))
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "POD_NAME=proc",
		fmt.Sprintf("PORT=%d", port), fmt.Sprintf("INTERNAL_PORT=%d", freePort()),
		fmt.Sprintf("METRICS_PORT=%d", freePort()), "SSE_INTERVAL_MS=50", "HEARTBEAT_SECONDS=0"}, env...)
	p := &process{cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port), out: &bytes.Buffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("service output:\n%s", p.out)
		}
	})
	eventually(t, 10*time.Second, "the service answers /healthz", func() string {
		resp, err := http.Get(p.base + "/healthz")
		if err != nil {
			return err.Error()
		}
		resp.Body.Close()
		return ""
	})
	return p
}

func (p *process) waitExit(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("still running %s after SIGTERM", within)
		return 0
	}
}

type slowResult struct {
	code int
	body string
	err  error
}

// startSlow starts GET /slow?ms=N and returns once the response headers arrived, so the request
// is known to be in flight on the server.
func startSlow(t *testing.T, base string, ms int) <-chan slowResult {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("%s/slow?ms=%d", base, ms))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan slowResult, 1)
	go func() {
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- slowResult{resp.StatusCode, string(b), err}
	}()
	return done
}

func TestSIGTERMFlipsReadinessEndsStreamsAndFinishesInFlight(t *testing.T) {
	// SHUTDOWN_DELAY_MS keeps the listener open after SIGTERM, so readiness can be observed.
	p := startBinary(t, "SHUTDOWN_DELAY_MS=1500", "SHUTDOWN_TIMEOUT=5")
	stream := openStream(t, p.base, "")
	stream.ids(t, 1, 3*time.Second)
	inFlight := startSlow(t, p.base, 1000)

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "/ready answers 503 after SIGTERM", func() string {
		resp, err := http.Get(p.base + "/ready")
		if err != nil {
			return err.Error()
		}
		resp.Body.Close()
		if resp.StatusCode != 503 {
			return resp.Status
		}
		return ""
	})
	select {
	case err := <-stream.ended:
		if err != nil {
			t.Fatalf("stream ended with %v; want a clean end of the response", err)
		}
	case <-time.After(time.Second):
		t.Fatal("stream still open 1s after SIGTERM")
	}
	select {
	case r := <-inFlight:
		if r.err != nil || r.code != 200 || !strings.Contains(r.body, `"slept_ms":1000`) {
			t.Fatalf("in-flight request: code %d body %q err %v", r.code, r.body, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("in-flight request did not finish")
	}
	if code := p.waitExit(t, 8*time.Second); code != 0 {
		t.Fatalf("exit code %d after a clean shutdown", code)
	}
}

func TestNoGracefulShutdownDropsInFlightRequests(t *testing.T) {
	p := startBinary(t, "GRACEFUL_SHUTDOWN=false")
	inFlight := startSlow(t, p.base, 3000)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.waitExit(t, 2*time.Second); code == 0 {
		t.Fatal("exit code 0; want non-zero for an abrupt exit")
	}
	select {
	case r := <-inFlight:
		if r.err == nil {
			t.Fatalf("in-flight request completed (%d %q); the broken variant must drop it", r.code, r.body)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("in-flight request neither completed nor failed")
	}
}

// runMigrateBinary runs `service migrate` of version ver and returns its exit code and output.
func runMigrateBinary(t *testing.T, ver, dsn string, env ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t, ver), "migrate")
	cmd.Env = append([]string{"DATABASE_URL=" + dsn, "POD_NAME=migrate-job"}, env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("migrate %s: %v\n%s", ver, err, out)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

func migrationRuns(t *testing.T, dsn string) (versions []string) {
	t.Helper()
	query(t, dsn, func(c *pgx.Conn) error {
		rows, err := c.Query(context.Background(), `SELECT version FROM migrations ORDER BY id`)
		if err != nil {
			return err
		}
		versions, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return versions
}

func hasColumn(t *testing.T, dsn, table, column string) (ok bool) {
	t.Helper()
	query(t, dsn, func(c *pgx.Conn) error {
		return c.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM information_schema.columns
  WHERE table_name = $1 AND column_name = $2)`, table, column).Scan(&ok)
	})
	return ok
}

// The upgrade path the hook Job takes: 1.0.0's schema, data written, then 1.1.0's migration.
func TestMigrateIsIdempotentRecordedAndKeepsData(t *testing.T) {
	dsn := newDatabase(t)
	for i := 0; i < 2; i++ {
		if code, out := runMigrateBinary(t, "1.0.0", dsn); code != 0 {
			t.Fatalf("migrate 1.0.0 (run %d): exit %d\n%s", i+1, code, out)
		}
	}
	if hasColumn(t, dsn, "items", "created_at") {
		t.Fatal("1.0.0's schema already has items.created_at")
	}
	query(t, dsn, func(c *pgx.Conn) error {
		_, err := c.Exec(context.Background(), `INSERT INTO items (value) VALUES ('written by 1.0.0')`)
		return err
	})
	for i := 0; i < 2; i++ {
		if code, out := runMigrateBinary(t, "1.1.0", dsn); code != 0 {
			t.Fatalf("migrate 1.1.0 (run %d): exit %d\n%s", i+1, code, out)
		}
	}
	if !hasColumn(t, dsn, "items", "created_at") {
		t.Fatal("1.1.0's migration did not add items.created_at")
	}
	if got := strings.Join(migrationRuns(t, dsn), ","); got != "1.0.0,1.0.0,1.1.0,1.1.0" {
		t.Fatalf("recorded runs %q, want one row per run", got)
	}
	var value string
	query(t, dsn, func(c *pgx.Conn) error {
		return c.QueryRow(context.Background(), `SELECT value FROM items`).Scan(&value)
	})
	if value != "written by 1.0.0" {
		t.Fatalf("item after the migration: %q", value)
	}
}

func TestMigrationFailExitsNonZeroAndChangesNothing(t *testing.T) {
	dsn := newDatabase(t)
	code, out := runMigrateBinary(t, "1.1.0", dsn, "MIGRATION_FAIL=true")
	if code == 0 || !strings.Contains(out, "MIGRATION_FAIL") {
		t.Fatalf("exit %d, output %q; want non-zero and the reason", code, out)
	}
	if hasColumn(t, dsn, "migrations", "version") {
		t.Fatal("a failed migration created the migrations table")
	}
}

// Rollback safety: after 1.1.0's migration, the 1.0.0 binary (what `helm rollback` brings back)
// still writes and reads items; 1.1.0 on 1.0.0's schema fails loudly instead of running unmigrated.
func TestOldVersionRunsOnNewSchemaAndNewVersionNeedsItsMigration(t *testing.T) {
	dsn := newDatabase(t)
	if code, out := runMigrateBinary(t, "1.1.0", dsn); code != 0 {
		t.Fatalf("migrate 1.1.0: %d\n%s", code, out)
	}
	old := startVersion(t, "1.0.0", "DATABASE_URL="+dsn)
	code, body := call(t, "POST", old.base+"/items", `{"value": "after rollback"}`)
	if code != 201 {
		t.Fatalf("1.0.0 on the 1.1.0 schema, POST /items: %d %s", code, body)
	}
	code, body = call(t, "GET", fmt.Sprintf("%s/items/%v", old.base, decode(t, body)["id"]), "")
	if code != 200 || decode(t, body)["value"] != "after rollback" {
		t.Fatalf("1.0.0 on the 1.1.0 schema, GET: %d %s", code, body)
	}

	unmigrated := newDatabase(t)
	if code, out := runMigrateBinary(t, "1.0.0", unmigrated); code != 0 {
		t.Fatalf("migrate 1.0.0: %d\n%s", code, out)
	}
	p := startVersion(t, "1.1.0", "DATABASE_URL="+unmigrated)
	code, body = call(t, "POST", p.base+"/items", `{"value": "x"}`)
	if code != 201 {
		t.Fatalf("POST: %d %s", code, body)
	}
	if code, body := call(t, "GET", fmt.Sprintf("%s/items/%v", p.base, decode(t, body)["id"]), ""); code != 503 || !strings.Contains(body, "created_at") {
		t.Fatalf("1.1.0 on the 1.0.0 schema, GET: %d %s; want 503 naming the missing column", code, body)
	}
}
