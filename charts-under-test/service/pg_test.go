package main

// A throwaway PostgreSQL for the tests: initdb + postgres in a temp dir, on a free 127.0.0.1 port.
// Tests that need it skip (with the reason printed) only when no PostgreSQL binaries exist at all;
// any other start-up failure fails the run.

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

type postgresServer struct {
	dir  string
	port int
	cmd  *exec.Cmd
}

var (
	pg         *postgresServer
	pgSkip     string // why database tests skip; empty when pg is running
	databaseNo atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		srv, skip, err := startPostgres()
		if err != nil {
			fmt.Fprintf(os.Stderr, "cannot start the test PostgreSQL: %v\n", err)
			return 1
		}
		if skip != "" {
			fmt.Printf("database tests will skip: %s\n", skip)
		}
		pg, pgSkip = srv, skip
		defer pg.stop()
		defer os.RemoveAll(buildDir)
		return m.Run()
	}())
}

// findPostgresBin looks on PATH, then in Debian's versioned directories (newest first).
func findPostgresBin() (string, bool) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p), true
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, true
		}
	}
	return "", false
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func startPostgres() (*postgresServer, string, error) {
	bin, ok := findPostgresBin()
	if !ok {
		return nil, "no PostgreSQL binaries (initdb, postgres) on PATH or in /usr/lib/postgresql/*/bin", nil
	}
	dir, err := os.MkdirTemp("", "demo-service-pg-")
	if err != nil {
		return nil, "", err
	}
	s := &postgresServer{dir: dir, port: freePort()}
	// initdb and postgres refuse to run as root: run them as the postgres user (or nobody).
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			u, err = user.Lookup("nobody")
		}
		if err != nil {
			return nil, "", fmt.Errorf("running as root and no postgres or nobody user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, "", err
		}
	}
	run := func(name string, args ...string) *exec.Cmd {
		c := exec.Command(filepath.Join(bin, name), args...)
		c.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
		return c
	}
	data := filepath.Join(dir, "data")
	if out, err := run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("initdb: %v\n%s", err, out)
	}
	logFile, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return nil, "", err
	}
	s.cmd = run("postgres", "-D", data, "-p", strconv.Itoa(s.port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200")
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		return nil, "", err
	}
	exited := make(chan struct{})
	go func() { s.cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.dsn("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return s, "", nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logFile.Name())
			return nil, "", fmt.Errorf("postgres exited during start-up:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			s.stop()
			return nil, "", fmt.Errorf("postgres not accepting connections after 30s (%v):\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *postgresServer) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

func (s *postgresServer) stop() {
	if s == nil {
		return
	}
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
		done := make(chan struct{})
		go func() { s.cmd.Process.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
		}
	}
	os.RemoveAll(s.dir)
}

// newDatabase creates an empty database for one test and returns its DSN.
func newDatabase(t *testing.T) string {
	t.Helper()
	if pg == nil {
		t.Skip(pgSkip)
	}
	name := fmt.Sprintf("test_%d_%s", databaseNo.Add(1), strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace(t.Name())))
	if len(name) > 60 {
		name = name[:60]
	}
	admin(t, `CREATE DATABASE "`+name+`"`)
	t.Cleanup(func() { admin(t, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`) })
	return pg.dsn(name)
}

func admin(t *testing.T, sql string) {
	t.Helper()
	query(t, pg.dsn("postgres"), func(c *pgx.Conn) error { _, err := c.Exec(context.Background(), sql); return err })
}

// query runs fn on a fresh connection to dsn and fails the test on error.
func query(t *testing.T, dsn string, fn func(*pgx.Conn) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer c.Close(context.Background())
	if err := fn(c); err != nil {
		t.Fatal(err)
	}
}

// freePort asks the kernel for a free port on loopback. Another process could take it before
// the caller listens; on a test machine that race is rare enough.
func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
