package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slowHandler answers 200 with the headers at once and the body after d, and reports on started
// when a request arrived, so a test can stop the server with the request in flight.
func slowHandler(d time.Duration, started chan<- struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		started <- struct{}{}
		time.Sleep(d)
		_, _ = io.WriteString(w, "done")
	})
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestSigtermDrainsInFlightRequest: a real SIGTERM to this process (caught by the same
// signal.NotifyContext main uses) stops the server; the request in flight still gets its whole
// body, serve returns nil, and new connections are refused.
func TestSigtermDrainsInFlightRequest(t *testing.T) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ln := listen(t)
	url := "http://" + ln.Addr().String() + "/"
	started := make(chan struct{}, 1)
	served := make(chan error, 1)
	go func() { served <- serve(ctx, ln, slowHandler(500*time.Millisecond, started), 5*time.Second) }()

	type answer struct {
		status int
		body   string
		err    error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- answer{resp.StatusCode, string(b), err}
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the request never reached the handler")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	select {
	case a := <-got:
		if a.err != nil || a.status != 200 || a.body != "done" {
			t.Fatalf("in-flight request: status %d body %q err %v; want 200 \"done\"", a.status, a.body, a.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the in-flight request did not finish")
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve returned %v after a clean shutdown, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not return after SIGTERM")
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Fatal("the listener still accepts connections after shutdown")
	}
}

// TestShutdownGraceIsBounded: a request longer than the grace period does not hold the process:
// serve returns the deadline error once grace ran out.
func TestShutdownGraceIsBounded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ln := listen(t)
	started := make(chan struct{}, 1)
	served := make(chan error, 1)
	go func() { served <- serve(ctx, ln, slowHandler(3*time.Second, started), 200*time.Millisecond) }()
	go func() {
		if resp, err := http.Get("http://" + ln.Addr().String() + "/"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	<-started
	t0 := time.Now()
	cancel()
	select {
	case err := <-served:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("serve returned %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Fatalf("serve took %v to give up, grace was 200ms", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not return after the grace period")
	}
}

func TestPagesPerVersion(t *testing.T) {
	old, err := page("1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	cand, err := page("1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if string(old) == string(cand) {
		t.Fatal("1.0.0 and 1.1.0 serve the same page")
	}
	if _, err := page("9.9.9"); err == nil {
		t.Fatal("page(9.9.9) succeeded; want an error for a version without a page")
	}
}

func TestSiteHandler(t *testing.T) {
	body, err := page("1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(siteHandler(body))
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/", 200, string(body)},
		{"GET", "/index.html", 200, string(body)},
		{"HEAD", "/", 200, ""},
		{"GET", "/items/1", 404, ""},
		{"POST", "/", 405, ""},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: HTTP %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
		if tc.status == 200 {
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("%s %s: Content-Type %q, want text/html", tc.method, tc.path, ct)
			}
			if string(b) != tc.body {
				t.Errorf("%s %s: body %q, want %q", tc.method, tc.path, b, tc.body)
			}
		}
	}
}
