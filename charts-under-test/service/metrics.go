package main

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
)

// metrics holds the three series the harness and dashboards read. The Prometheus text format is
// written by hand: three series do not justify a client library in a FROM scratch image.
type metrics struct {
	sseOpen atomic.Int64

	mu       sync.Mutex
	requests map[int]uint64 // by status code
}

func newMetrics() *metrics { return &metrics{requests: map[int]uint64{}} }

func (m *metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	fmt.Fprintf(w, "# HELP demo_service_build_info Build information; the value is always 1.\n")
	fmt.Fprintf(w, "# TYPE demo_service_build_info gauge\n")
	fmt.Fprintf(w, "demo_service_build_info{version=%q} 1\n", version)
	fmt.Fprintf(w, "# HELP demo_service_sse_connections Server-sent event streams open now.\n")
	fmt.Fprintf(w, "# TYPE demo_service_sse_connections gauge\n")
	fmt.Fprintf(w, "demo_service_sse_connections %d\n", m.sseOpen.Load())
	fmt.Fprintf(w, "# HELP demo_service_http_requests_total HTTP requests answered, by status code.\n")
	fmt.Fprintf(w, "# TYPE demo_service_http_requests_total counter\n")
	m.mu.Lock()
	codes := make([]int, 0, len(m.requests))
	for c := range m.requests {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "demo_service_http_requests_total{code=\"%d\"} %d\n", c, m.requests[c])
	}
	m.mu.Unlock()
}

// count wraps a handler and counts each answered request by its status code.
func (m *metrics) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		m.mu.Lock()
		m.requests[sw.code]++
		m.mu.Unlock()
	})
}

// statusWriter remembers the status code. Unwrap lets http.ResponseController reach the
// underlying writer's Flush, which the event stream needs after every event.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
