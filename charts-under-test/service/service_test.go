package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestConfigDefaultsAndErrors(t *testing.T) {
	cfg, err := loadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != "8080" || cfg.InternalPort != "8081" || cfg.MetricsPort != "9090" ||
		cfg.Heartbeat != 15*time.Second || cfg.ShutdownTimeout != 10*time.Second ||
		cfg.ReadyDBTimeout != time.Second || cfg.SSEInterval != time.Second || !cfg.Graceful {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
	env := map[string]string{"HEARTBEAT_SECONDS": "soon", "GRACEFUL_SHUTDOWN": "maybe"}
	_, err = loadConfig(func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "HEARTBEAT_SECONDS") || !strings.Contains(err.Error(), "GRACEFUL_SHUTDOWN") {
		t.Fatalf("error should name both bad variables, got %v", err)
	}
}

func TestReadyFollowsTheDatabaseAndLivenessDoesNot(t *testing.T) {
	dsn := newDatabase(t)
	u, _ := url.Parse(dsn)
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.addr
	cfg := testConfig()
	_, base := startServer(t, cfg, u.String())
	status := func(path string) func() string {
		return func() string {
			code, body := call(t, "GET", base+path, "")
			return fmt.Sprintf("%d %s", code, strings.TrimSpace(body))
		}
	}
	want := func(path string, code int) func() string {
		return func() string {
			if s := status(path)(); !strings.HasPrefix(s, fmt.Sprint(code)) {
				return s
			}
			return ""
		}
	}
	eventually(t, 5*time.Second, "ready while the database is up", want("/ready", 200))

	proxy.down()
	eventually(t, 5*time.Second, "unready during the database outage", want("/ready", 503))
	start := time.Now()
	if s := status("/ready")(); !strings.Contains(s, "database unreachable") {
		t.Fatalf("/ready during the outage: %s", s)
	}
	if took := time.Since(start); took > cfg.ReadyDBTimeout+time.Second {
		t.Fatalf("/ready took %s during the outage; READY_DB_TIMEOUT is %s", took, cfg.ReadyDBTimeout)
	}
	if s := status("/healthz")(); !strings.HasPrefix(s, "200") {
		t.Fatalf("liveness must not depend on the database: %s", s)
	}

	proxy.up()
	eventually(t, 10*time.Second, "ready again after the outage", want("/ready", 200))
}

func TestReadyFailsOnceDraining(t *testing.T) {
	s, base := startServer(t, testConfig(), "")
	if code, _ := call(t, "GET", base+"/ready", ""); code != 200 {
		t.Fatalf("/ready before draining: %d", code)
	}
	s.drain()
	if code, _ := call(t, "GET", base+"/ready", ""); code != 503 {
		t.Fatalf("/ready while draining: %d, want 503", code)
	}
	if code, _ := call(t, "GET", base+"/healthz", ""); code != 200 {
		t.Fatalf("/healthz while draining: %d, want 200", code)
	}
}

func TestInfoReportsVersionPodAndSchema(t *testing.T) {
	_, base := startServer(t, testConfig(), newDatabase(t))
	code, body := call(t, "GET", base+"/", "")
	m := decode(t, body)
	if code != 200 || m["version"] != version || m["pod"] != "test-pod" || m["db"] != version {
		t.Fatalf("GET /: %d %s", code, body)
	}
	_, noDB := startServer(t, testConfig(), "")
	if code, body := call(t, "GET", noDB+"/", ""); code != 200 || decode(t, body)["db"] != nil {
		t.Fatalf("GET / without a database: %d %s", code, body)
	}
}

func TestItemsRoundTrip(t *testing.T) {
	_, base := startServer(t, testConfig(), newDatabase(t))
	code, body := call(t, "POST", base+"/items", `{"value": "kept across upgrades"}`)
	if code != 201 {
		t.Fatalf("POST /items: %d %s", code, body)
	}
	id := decode(t, body)["id"]
	code, body = call(t, "GET", fmt.Sprintf("%s/items/%v", base, id), "")
	m := decode(t, body)
	if code != 200 || m["value"] != "kept across upgrades" || m["id"] != id || m["created_at"] == nil {
		t.Fatalf("GET /items/%v: %d %s", id, code, body)
	}
	if code, body := call(t, "GET", base+"/items/999999", ""); code != 404 {
		t.Fatalf("GET of a missing item: %d %s", code, body)
	}
	if code, body := call(t, "POST", base+"/items", `{"nope": 1}`); code != 400 {
		t.Fatalf("POST without a value: %d %s", code, body)
	}
	_, noDB := startServer(t, testConfig(), "")
	if code, body := call(t, "POST", noDB+"/items", `{"value": "x"}`); code != 501 {
		t.Fatalf("POST /items without a database: %d %s", code, body)
	}
}

// eventModes runs a test against both id sources: the database sequence and the clock.
func eventModes(t *testing.T, fn func(t *testing.T, dsn func() string)) {
	t.Run("database", func(t *testing.T) {
		dsn := newDatabase(t)
		fn(t, func() string { return dsn })
	})
	t.Run("clock", func(t *testing.T) { fn(t, func() string { return "" }) })
}

func TestEventsStartWithRetryAndIdsIncreaseByOne(t *testing.T) {
	eventModes(t, func(t *testing.T, dsn func() string) {
		_, base := startServer(t, testConfig(), dsn())
		s := openStream(t, base, "")
		if l := s.line(t, 2*time.Second); l != "retry: 1000" {
			t.Fatalf("first line %q, want %q", l, "retry: 1000")
		}
		ids := s.ids(t, 6, 5*time.Second)
		assertConsecutive(t, ids[0]-1, ids)
	})
}

// A client reads a few events from one replica, disconnects, misses some, and resumes on
// another replica with Last-Event-ID: it must get every later id exactly once.
func TestResumeOnAnotherReplicaHasNoGapsOrDuplicates(t *testing.T) {
	eventModes(t, func(t *testing.T, dsn func() string) {
		_, replicaA := startServer(t, testConfig(), dsn())
		_, replicaB := startServer(t, testConfig(), dsn())
		first := openStream(t, replicaA, "")
		seen := first.ids(t, 3, 5*time.Second)
		first.cancel()
		last := seen[len(seen)-1]

		// Wait until several events happened while the client was away, so the resume must replay.
		head := func() int64 { id, _ := newServer(testConfig(), nil, nil).source.head(context.Background()); return id }
		if d := dsn(); d != "" {
			head = func() (id int64) {
				query(t, d, func(c *pgx.Conn) error {
					return c.QueryRow(context.Background(), `SELECT max(id) FROM events`).Scan(&id)
				})
				return id
			}
		}
		eventually(t, 5*time.Second, "events produced while disconnected", func() string {
			if h := head(); h < last+4 {
				return fmt.Sprintf("head %d, last seen %d", h, last)
			}
			return ""
		})

		resumed := openStream(t, replicaB, fmt.Sprint(last))
		assertConsecutive(t, last, resumed.ids(t, 8, 5*time.Second))
	})
}

func TestHeartbeatCommentsKeepAQuietStreamBusy(t *testing.T) {
	cfg := testConfig()
	cfg.SSEInterval = time.Hour // no events at all: only heartbeats cross the wire
	cfg.Heartbeat = 100 * time.Millisecond
	_, base := startServer(t, cfg, "")
	s := openStream(t, base, "")
	beats := 0
	deadline := time.Now().Add(3 * time.Second)
	for beats < 3 {
		switch l := s.line(t, time.Until(deadline)); {
		case l == ": heartbeat":
			beats++
		case strings.HasPrefix(l, "id:"):
			t.Fatalf("unexpected event %q on a stream with a one-hour interval", l)
		}
	}

	cfg.Heartbeat = 0 // disabled: a quiet stream stays silent after the retry line
	_, silent := startServer(t, cfg, "")
	q := openStream(t, silent, "")
	if l := q.line(t, time.Second); l != "retry: 1000" {
		t.Fatalf("first line %q", l)
	}
	q.line(t, time.Second) // the blank line that ends the retry field
	select {
	case l := <-q.lines:
		t.Fatalf("HEARTBEAT 0 still sent %q", l)
	case <-time.After(500 * time.Millisecond): // five heartbeat periods of the stream above
	}
}

func TestStreamsEndCleanlyWhenDraining(t *testing.T) {
	s, base := startServer(t, testConfig(), "")
	stream := openStream(t, base, "")
	stream.ids(t, 1, 2*time.Second)
	s.drain()
	select {
	case err := <-stream.ended:
		if err != nil {
			t.Fatalf("stream ended with an error (%v); want a clean end of the response", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("stream still open 2s after drain")
	}
	if code, _ := call(t, "GET", base+"/events", ""); code != 503 {
		t.Fatalf("a new stream on a draining replica: %d, want 503 (so the client goes elsewhere)", code)
	}
}

func TestMetrics(t *testing.T) {
	_, base := startServer(t, testConfig(), "")
	call(t, "GET", base+"/healthz", "")
	call(t, "GET", base+"/items/1", "") // 501 without a database
	s := openStream(t, base, "")
	s.ids(t, 1, 2*time.Second)
	_, body := call(t, "GET", base+"/metrics", "")
	for _, want := range []string{
		fmt.Sprintf(`demo_service_build_info{version="%s"} 1`, version),
		"demo_service_sse_connections 1",
		`demo_service_http_requests_total{code="200"} `,
		`demo_service_http_requests_total{code="501"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	s.cancel()
	eventually(t, 2*time.Second, "the gauge drops when the stream closes", func() string {
		if _, body := call(t, "GET", base+"/metrics", ""); !strings.Contains(body, "demo_service_sse_connections 0") {
			return "gauge not 0"
		}
		return ""
	})
}

// Many replicas append at once while a reader follows the table with a cursor, as a stream does:
// the reader must see every id, in order. Without the lock in appendEvent, a later id can commit
// before an earlier one and the cursor skips the earlier one for good.
func TestConcurrentProducersNeverHideAnIdFromAFollower(t *testing.T) {
	dsn := newDatabase(t)
	_, _ = startServer(t, testConfig(), dsn) // migrates the schema
	pool, err := newPoolForTest(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	const writers, each = 6, 60
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func() {
			for i := 0; i < each; i++ {
				if err := appendEvent(context.Background(), pool, fmt.Sprint("w", w)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	src := dbEvents{db: pool}
	start, _ := src.head(context.Background()) // the test server's producer may have added some
	var got []int64
	cursor := start
	deadline := time.Now().Add(20 * time.Second)
	for len(got) < writers*each && time.Now().Before(deadline) {
		ids, _, err := src.after(context.Background(), cursor)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) > 0 {
			got, cursor = append(got, ids...), ids[len(ids)-1]
		}
	}
	for w := 0; w < writers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// The server's own producer also appends, so check continuity, not the exact count.
	assertConsecutive(t, start, got)
}
