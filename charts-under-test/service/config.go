package main

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// config is everything the service reads from its environment, resolved once at start.
type config struct {
	Port, InternalPort, MetricsPort string
	DatabaseURL                     string // empty: no database, clock-based event ids
	PodName                         string
	Heartbeat                       time.Duration // 0 disables the SSE heartbeat comment
	SSEInterval                     time.Duration // time between two events of the stream
	ReadyDBTimeout                  time.Duration // how long /ready waits for a database ping
	ShutdownTimeout                 time.Duration // budget for in-flight requests after SIGTERM
	ShutdownDelay                   time.Duration // keep accepting (while unready) after SIGTERM
	Graceful                        bool          // false: exit at once on SIGTERM (a broken variant)
	LogLevel                        slog.Level
}

// loadConfig reads the environment through getenv (os.Getenv in main, a map in tests).
// Errors name the variable, so a typo in a chart's values shows up in the pod's log.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		Port:         orDefault(getenv("PORT"), "8080"),
		InternalPort: orDefault(getenv("INTERNAL_PORT"), "8081"),
		MetricsPort:  orDefault(getenv("METRICS_PORT"), "9090"),
		DatabaseURL:  getenv("DATABASE_URL"),
		PodName:      getenv("POD_NAME"),
	}
	var errs []string
	dur := func(name, def string, unit time.Duration) time.Duration {
		v := orDefault(getenv(name), def)
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Sprintf("%s=%q is not a non-negative integer", name, v))
		}
		return time.Duration(n) * unit
	}
	c.Heartbeat = dur("HEARTBEAT_SECONDS", "15", time.Second)
	c.SSEInterval = dur("SSE_INTERVAL_MS", "1000", time.Millisecond)
	c.ReadyDBTimeout = dur("READY_DB_TIMEOUT", "1000", time.Millisecond)
	c.ShutdownTimeout = dur("SHUTDOWN_TIMEOUT", "10", time.Second)
	c.ShutdownDelay = dur("SHUTDOWN_DELAY_MS", "0", time.Millisecond)
	if c.SSEInterval <= 0 {
		errs = append(errs, "SSE_INTERVAL_MS must be at least 1")
	}
	switch g := strings.ToLower(orDefault(getenv("GRACEFUL_SHUTDOWN"), "true")); g {
	case "true", "1", "yes":
		c.Graceful = true
	case "false", "0", "no":
	default:
		errs = append(errs, fmt.Sprintf("GRACEFUL_SHUTDOWN=%q is not true or false", g))
	}
	if err := c.LogLevel.UnmarshalText([]byte(orDefault(getenv("LOG_LEVEL"), "info"))); err != nil {
		errs = append(errs, fmt.Sprintf("LOG_LEVEL: %v", err))
	}
	if c.PodName == "" {
		c.PodName = hostname()
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("invalid configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
