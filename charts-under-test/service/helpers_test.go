package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// testConfig is a fast configuration: short intervals so every wait below is short.
func testConfig() config {
	return config{PodName: "test-pod", Heartbeat: 0, SSEInterval: 50 * time.Millisecond,
		ReadyDBTimeout: 500 * time.Millisecond, ShutdownTimeout: 5 * time.Second, Graceful: true}
}

// startServer runs the service in-process. With dsn set, the schema is migrated first and the
// event producer runs, as in a pod.
func startServer(t *testing.T, cfg config, dsn string) (*server, string) {
	t.Helper()
	var pool *pgxpool.Pool
	if dsn != "" {
		query(t, dsn, func(c *pgx.Conn) error { return migrate(context.Background(), c, "migrate-test") })
		var err error
		if pool, err = pgxpool.New(context.Background(), dsn); err != nil {
			t.Fatal(err)
		}
	}
	s := newServer(cfg, pool, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ts := httptest.NewServer(s.routes())
	ctx, cancel := context.WithCancel(context.Background())
	if pool != nil {
		go s.produce(ctx)
	}
	t.Cleanup(func() {
		cancel()
		s.drain() // ends open streams, so Close does not wait for them
		ts.Close()
		if pool != nil {
			pool.Close()
		}
	})
	return s, ts.URL
}

// call sends one request and returns the status and body.
func call(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func decode(t *testing.T, body string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not JSON: %q: %v", body, err)
	}
	return m
}

// eventually polls cond until it returns "" (success) or the deadline passes; the last
// reason is reported. It replaces sleeps: it waits exactly as long as needed, within a bound.
func eventually(t *testing.T, within time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		reason := cond()
		if reason == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s; last: %s", what, within, reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sseStream reads an event stream line by line in the background.
type sseStream struct {
	lines  chan string
	ended  chan error // receives nil on a clean end of the response, else the read error
	cancel context.CancelFunc
}

func openStream(t *testing.T, url, lastEventID string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/events", nil)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET /events: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		t.Fatalf("GET /events: status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sseStream{lines: make(chan string, 1000), ended: make(chan error, 1), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		s.ended <- sc.Err()
	}()
	t.Cleanup(cancel)
	return s
}

// line returns the next line, failing the test if none arrives in time.
func (s *sseStream) line(t *testing.T, within time.Duration) string {
	t.Helper()
	select {
	case l := <-s.lines:
		return l
	case err := <-s.ended:
		t.Fatalf("stream ended (err=%v) while a line was expected", err)
	case <-time.After(within):
		t.Fatalf("no line within %s", within)
	}
	return ""
}

// ids reads until n event ids arrived and returns them; each id line must have a data line.
func (s *sseStream) ids(t *testing.T, n int, within time.Duration) []int64 {
	t.Helper()
	deadline := time.Now().Add(within)
	var ids []int64
	for len(ids) < n {
		l := s.line(t, time.Until(deadline))
		if v, ok := strings.CutPrefix(l, "id: "); ok {
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("bad id line %q", l)
			}
			if d := s.line(t, time.Second); !strings.HasPrefix(d, "data: {") {
				t.Fatalf("id %d is followed by %q, not a data line", id, d)
			}
			ids = append(ids, id)
		}
	}
	return ids
}

// assertConsecutive checks that ids follow each other without gaps or repeats, after `after`.
func assertConsecutive(t *testing.T, after int64, ids []int64) {
	t.Helper()
	for i, id := range ids {
		if id != after+int64(i)+1 {
			t.Fatalf("ids after %d are %v: want %d at position %d (a gap or a duplicate)", after, ids, after+int64(i)+1, i)
		}
	}
}

// The real binary, for the tests that send it signals or run `service migrate`.
var (
	buildDir  = filepath.Join(os.TempDir(), fmt.Sprintf("demo-service-test-%d", os.Getpid()))
	buildMu   sync.Mutex
	buildDone = map[string]string{}
)

func binary(t *testing.T, ver string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := buildDone[ver]; ok {
		return p
	}
	p := filepath.Join(buildDir, "service-"+ver)
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version="+ver, "-o", p, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	buildDone[ver] = p
	return p
}

func newPoolForTest(dsn string) (*pgxpool.Pool, error) {
	return pgxpool.New(context.Background(), dsn)
}
