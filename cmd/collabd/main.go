// Command collabd serves the collaborative editor, the REST API and the
// live editing endpoint. It is the only place where the pieces meet: it
// reads the configuration, opens the store, starts the session registry and
// serves the api.
//
//	collabd [serve] [flags]   serve (the default subcommand)
//	collabd migrate [flags]   apply database migrations and exit
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/collabd/collabd/api"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "collabd:", err)
		os.Exit(1)
	}
}

// Main runs collabd with the given arguments until ctx is cancelled. When
// ready is not nil, the listening address is sent on it once the server
// accepts connections (tests listen on 127.0.0.1:0).
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready chan<- string) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		c, err := parseConfig("collabd serve", args, getenv)
		if err != nil {
			return err
		}
		return serve(ctx, c, stdout, stderr, ready)
	default:
		return fmt.Errorf("unknown command %q (want serve)", cmd)
	}
}

func serve(ctx context.Context, c config, stdout, stderr io.Writer, ready chan<- string) error {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	srv := &http.Server{
		Handler:           api.NewRouter(api.Config{Logger: log}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	addr := ln.Addr().String()
	fmt.Fprintf(stdout, "collabd is serving on http://%s\n", addr)
	if ready != nil {
		ready <- addr
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}
