package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

type server struct {
	cfg     config
	db      *pgxpool.Pool // nil when DATABASE_URL is unset
	source  eventSource
	metrics *metrics
	log     *slog.Logger

	draining  chan struct{} // closed when SIGTERM arrives
	drainOnce sync.Once
}

func newServer(cfg config, db *pgxpool.Pool, log *slog.Logger) *server {
	s := &server{cfg: cfg, db: db, metrics: newMetrics(), log: log, draining: make(chan struct{})}
	if db != nil {
		s.source = dbEvents{db: db, poll: min(cfg.SSEInterval, 250*time.Millisecond)}
	} else {
		s.source = clockEvents{interval: cfg.SSEInterval, now: time.Now, replay: 3600}
	}
	return s
}

// routes is served on both the client and the internal port; /metrics is also on its own port.
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /ready", s.ready)
	mux.HandleFunc("GET /{$}", s.info)
	mux.HandleFunc("POST /items", s.createItem)
	mux.HandleFunc("GET /items/{id}", s.getItem)
	mux.HandleFunc("GET /events", s.events)
	mux.HandleFunc("GET /slow", s.slow)
	mux.Handle("GET /metrics", s.metrics)
	return s.metrics.count(mux)
}

// drain starts the shutdown: readiness fails, event streams end, the producer stops.
func (s *server) drain() { s.drainOnce.Do(func() { close(s.draining) }) }

func (s *server) isDraining() bool {
	select {
	case <-s.draining:
		return true
	default:
		return false
	}
}

// healthz is liveness: the process answers. It never touches the database, so a database
// outage makes pods unready (taken out of the Service) but never restarts them.
func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
}

// ready is readiness: this replica can serve now.
func (s *server) ready(w http.ResponseWriter, r *http.Request) {
	if s.isDraining() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return
	}
	if s.db != nil {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadyDBTimeout)
		defer cancel()
		if err := s.db.Ping(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable", "error": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// info answers GET / with the version, the pod and (with a database) the schema version recorded
// by the last migration: during an upgrade, old pods already report the new schema.
func (s *server) info(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{"version": version, "pod": s.cfg.PodName, "db": nil}
	if s.db != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		var schema string
		err := s.db.QueryRow(ctx, `SELECT version FROM migrations ORDER BY id DESC LIMIT 1`).Scan(&schema)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "database: " + err.Error()})
			return
		}
		body["db"] = schema
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *server) createItem(w http.ResponseWriter, r *http.Request) {
	if s.db == nil {
		writeJSON(w, http.StatusNotImplemented, map[string]string{"error": errNoDatabase.Error()})
		return
	}
	var in struct {
		Value *string `json:"value"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil || in.Value == nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `body must be {"value": "..."}`})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	var id int64
	if err := s.db.QueryRow(ctx, `INSERT INTO items (value) VALUES ($1) RETURNING id`, *in.Value).Scan(&id); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "database: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]int64{"id": id})
}

func (s *server) getItem(w http.ResponseWriter, r *http.Request) {
	if s.db == nil {
		writeJSON(w, http.StatusNotImplemented, map[string]string{"error": errNoDatabase.Error()})
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "id must be an integer"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	body := map[string]any{"id": id}
	var value string
	// 1.1.0 reads the column its migration added: if the pre-upgrade hook did not run, this fails
	// loudly instead of the new version silently running on the old schema.
	if atLeast(version, "1.1.0") {
		var created time.Time
		err = s.db.QueryRow(ctx, `SELECT value, created_at FROM items WHERE id = $1`, id).Scan(&value, &created)
		body["created_at"] = created.UTC().Format(time.RFC3339Nano)
	} else {
		err = s.db.QueryRow(ctx, `SELECT value FROM items WHERE id = $1`, id).Scan(&value)
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such item"})
	case err != nil:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "database: " + err.Error()})
	default:
		body["value"] = value
		writeJSON(w, http.StatusOK, body)
	}
}

// slow answers GET /slow?ms=N after N ms (at most 30 s). It sends the status line and headers at
// once, like any streamed response: a proxy that already forwarded them cannot retry the request
// on another replica, so a replica that dies with it in flight shows up as a failed request.
// The upgrade scenario keeps such requests in flight to tell graceful from abrupt shutdown.
func (s *server) slow(w http.ResponseWriter, r *http.Request) {
	ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
	if err != nil || ms < 0 || ms > 30000 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "ms must be an integer from 0 to 30000"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = http.NewResponseController(w).Flush()
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
	case <-r.Context().Done():
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"slept_ms": ms, "pod": s.cfg.PodName, "version": version})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
