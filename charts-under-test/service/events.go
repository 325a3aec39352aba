package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// eventSource yields the ids of one stream that all replicas share, so a client can resume on any
// replica with Last-Event-ID and get every later id exactly once.
type eventSource interface {
	// head is the id of the newest event; a stream without Last-Event-ID starts after it.
	head(ctx context.Context) (int64, error)
	// after returns the ids greater than cursor that exist now (ascending) and how long to wait
	// before asking again.
	after(ctx context.Context, cursor int64) ([]int64, time.Duration, error)
	// oldest is the smallest id a resuming client can still get.
	oldest(ctx context.Context) (int64, error)
}

// clockEvents: without a database, event N happens at unix time N*interval. Every replica
// computes the same ids for the same time, and a resuming client is replayed the ids it missed.
type clockEvents struct {
	interval time.Duration
	now      func() time.Time
	replay   int64 // how many past ids a resuming client may ask for
}

func (c clockEvents) tick() int64 { return c.now().UnixMilli() / c.interval.Milliseconds() }

func (c clockEvents) head(context.Context) (int64, error) { return c.tick(), nil }

func (c clockEvents) oldest(context.Context) (int64, error) { return c.tick() - c.replay, nil }

func (c clockEvents) after(_ context.Context, cursor int64) ([]int64, time.Duration, error) {
	var ids []int64
	for id := cursor + 1; id <= c.tick() && len(ids) < 500; id++ {
		ids = append(ids, id)
	}
	if len(ids) == 500 {
		return ids, 0, nil
	}
	next := time.UnixMilli((cursor + int64(len(ids)) + 1) * c.interval.Milliseconds())
	return ids, max(time.Until(next), 0), nil
}

// dbEvents reads the events table that every replica's producer appends to (see appendEvent).
type dbEvents struct {
	db   *pgxpool.Pool
	poll time.Duration
}

func (d dbEvents) head(ctx context.Context) (id int64, err error) {
	err = d.db.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM events`).Scan(&id)
	return id, err
}

func (d dbEvents) oldest(ctx context.Context) (id int64, err error) {
	err = d.db.QueryRow(ctx, `SELECT coalesce(min(id), 0) FROM events`).Scan(&id)
	return id, err
}

func (d dbEvents) after(ctx context.Context, cursor int64) ([]int64, time.Duration, error) {
	rows, err := d.db.Query(ctx, `SELECT id FROM events WHERE id > $1 ORDER BY id LIMIT 500`, cursor)
	if err != nil {
		return nil, d.poll, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, d.poll, err
		}
		ids = append(ids, id)
	}
	if len(ids) == 500 {
		return ids, 0, rows.Err()
	}
	return ids, d.poll, rows.Err()
}

// events serves GET /events as server-sent events.
func (s *server) events(w http.ResponseWriter, r *http.Request) {
	if s.isDraining() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ctx := r.Context()
	cursor, err := s.startCursor(ctx, r.Header.Get("Last-Event-ID"))
	if err != nil {
		s.log.Warn("event stream cannot start", "err", err)
		http.Error(w, "event stream unavailable", http.StatusServiceUnavailable)
		return
	}
	s.metrics.sseOpen.Add(1)
	defer s.metrics.sseOpen.Add(-1)

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	// retry: tells EventSource clients to reconnect after 1 s when a stream ends (shutdown, proxy).
	if _, err := fmt.Fprint(w, "retry: 1000\n\n"); err != nil || rc.Flush() != nil {
		return
	}

	var heartbeat <-chan time.Time
	if s.cfg.Heartbeat > 0 {
		t := time.NewTicker(s.cfg.Heartbeat)
		defer t.Stop()
		heartbeat = t.C
	}
	wake := time.NewTimer(0)
	defer wake.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.draining:
			// End the response cleanly: the client sees a normal end of stream and reconnects
			// (with Last-Event-ID) through the load balancer to a replica that is not stopping.
			return
		case <-heartbeat:
			// A comment line: ignored by clients, but it resets proxy read timeouts on a quiet stream.
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case <-wake.C:
			ids, wait, err := s.source.after(ctx, cursor)
			if err != nil {
				s.log.Warn("reading events failed; retrying", "err", err)
			}
			for _, id := range ids {
				data, _ := json.Marshal(map[string]any{"id": id, "pod": s.cfg.PodName, "version": version})
				if _, err := fmt.Fprintf(w, "id: %d\ndata: %s\n\n", id, data); err != nil {
					return
				}
				cursor = id
			}
			if len(ids) > 0 && rc.Flush() != nil {
				return
			}
			wake.Reset(wait)
		}
	}
}

// startCursor is the id after which the stream starts: Last-Event-ID when the client resumes
// (but not before the oldest id still kept), else the newest id, so a new client gets live events.
func (s *server) startCursor(ctx context.Context, lastEventID string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	last, err := strconv.ParseInt(lastEventID, 10, 64)
	if lastEventID == "" || err != nil || last < 0 {
		return s.source.head(ctx)
	}
	oldest, err := s.source.oldest(ctx)
	if err != nil {
		return 0, err
	}
	return max(last, oldest-1), nil
}

// produce appends one event per interval to the shared stream while the server runs (database
// mode only). Every replica produces, so the stream goes on while any replica is up.
func (s *server) produce(ctx context.Context) {
	t := time.NewTicker(s.cfg.SSEInterval)
	defer t.Stop()
	failing := false
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-s.draining:
			return
		case <-t.C:
		}
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := appendEvent(actx, s.db, s.cfg.PodName)
		if err == nil && n%1000 == 0 {
			err = pruneEvents(actx, s.db, time.Hour)
		}
		cancel()
		// Log transitions only: a database outage would otherwise log once per interval.
		if err != nil && !failing {
			s.log.Warn("appending events failed", "err", err)
		} else if err == nil && failing {
			s.log.Info("appending events works again")
		}
		failing = err != nil
	}
}
