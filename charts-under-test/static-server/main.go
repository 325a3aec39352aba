// Command static-server serves one embedded HTML page over HTTP, like the smallest static web
// site. It knows nothing about the harness that tests its chart: no JSON, no version endpoint,
// no health endpoint, no custom headers. The chart probes it with plain GET /.
//
// The page is chosen at build time: -ldflags "-X main.version=1.1.0" serves site/1.1.0.html.
//
// On SIGTERM (or SIGINT) it stops accepting connections and lets in-flight requests finish
// within -shutdown-timeout (net/http Server.Shutdown), then exits 0; general good practice for
// any server, not something the harness asked for.
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// version selects the embedded page (set with -ldflags "-X main.version=...").
var version = "1.1.0"

//go:embed site/*.html
var site embed.FS

// page returns the HTML page built into the binary for version v.
func page(v string) ([]byte, error) {
	b, err := fs.ReadFile(site, "site/"+v+".html")
	if err != nil {
		return nil, fmt.Errorf("no page for version %q: %w", v, err)
	}
	return b, nil
}

// siteHandler serves body as text/html at "/" and "/index.html" (GET and HEAD), 404 elsewhere.
func siteHandler(body []byte) http.Handler {
	mux := http.NewServeMux()
	serve := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	}
	// "GET" patterns match HEAD too (net/http ServeMux, Go 1.22+).
	mux.HandleFunc("GET /{$}", serve)
	mux.HandleFunc("GET /index.html", serve)
	return mux
}

// serve answers on ln with h until ctx is done, then shuts down gracefully: the listener closes
// at once (new connections are refused) and in-flight requests get up to grace to finish
// (http.Server.Shutdown). It returns nil after a clean shutdown, the Shutdown error when grace
// ran out, or the Serve error if serving failed for another reason.
func serve(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

func main() {
	addr := flag.String("addr", ":8080", "listen address")
	grace := flag.Duration("shutdown-timeout", 10*time.Second, "how long in-flight requests may take after SIGTERM")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}
	body, err := page(version)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log.Printf("serving on %s", ln.Addr())
	if err := serve(ctx, ln, siteHandler(body), *grace); err != nil {
		log.Printf("shutdown: %v", err)
		os.Exit(1)
	}
	log.Printf("stopped")
}
