// Command collabd serves the collaborative editor, the REST API and the
// live editing endpoint. It is the only place where the pieces meet: it
// reads the configuration, opens the store, starts the session registry and
// serves the api.
//
//	collabd [serve] [flags]                 serve (the default subcommand)
//	collabd migrate [flags]                 apply database migrations and exit
//	collabd user create --username NAME     add an account (password from COLLABD_PASSWORD or stdin)
//	collabd token --username NAME           print a login token for scripts
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/collabd/collabd/api"
	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/session"
	"github.com/collabd/collabd/store/postgres"
	"github.com/collabd/collabd/store/sqlite"
	"github.com/collabd/collabd/web"
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
	case "migrate":
		c, err := parseConfig("collabd migrate", args, getenv)
		if err != nil {
			return err
		}
		if err := migrate(ctx, c); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "migrations applied")
		return nil
	case "user":
		if len(args) == 0 || args[0] != "create" {
			return errors.New("usage: collabd user create --username NAME [--name DISPLAY] (password from COLLABD_PASSWORD or standard input)")
		}
		return userCreate(ctx, args[1:], getenv, stdout)
	case "token":
		return mintToken(ctx, args, getenv, stdout)
	default:
		return fmt.Errorf("unknown command %q (want serve, migrate, user create or token)", cmd)
	}
}

// userCreate adds a built-in account, for servers with sign-up closed.
func userCreate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	var username, name string
	c, err := parseConfigWith("collabd user create", args, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&username, "username", "", "the new user's username")
		fs.StringVar(&name, "name", "", "display name (default: the username)")
	})
	if err != nil {
		return err
	}
	password := getenv("COLLABD_PASSWORD")
	if password == "" {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return errors.New("give the password in COLLABD_PASSWORD or on standard input")
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if name == "" {
		name = username
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	u, err := api.CreateAccount(ctx, st, username, password, name, 0)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created user %s (id %s)\n", u.Username, u.ID)
	return nil
}

// mintToken prints a login token for a user: for scripts and local testing.
func mintToken(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	var username string
	var ttl time.Duration
	c, err := parseConfigWith("collabd token", args, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&username, "username", "", "whose token")
		fs.DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token is valid")
	})
	if err != nil {
		return err
	}
	if username == "" {
		return errors.New("usage: collabd token --username NAME [--ttl 24h]")
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	secret, err := jwtSecret(c)
	if err != nil {
		return err
	}
	tokens, err := api.NewTokens(api.TokenConfig{Secret: secret, TTL: ttl}, st)
	if err != nil {
		return err
	}
	u, _, err := st.UserByUsername(ctx, username)
	if err != nil {
		return fmt.Errorf("user %q: %w", username, err)
	}
	tok, _, err := tokens.Mint(u)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// openStore opens Postgres when a URL is configured, else the embedded
// database in the data dir. Either applies the migrations.
func openStore(ctx context.Context, c config) (collab.Store, error) {
	if c.DatabaseURL != "" {
		return postgres.Open(ctx, c.DatabaseURL)
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	return sqlite.Open(ctx, filepath.Join(c.DataDir, "collabd.db"))
}

func migrate(ctx context.Context, c config) error {
	if c.DatabaseURL != "" {
		return postgres.Migrate(ctx, c.DatabaseURL)
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	return sqlite.Migrate(ctx, filepath.Join(c.DataDir, "collabd.db"))
}

// jwtSecret returns the configured secret, or the one kept in the data
// dir, generating it on first start so tokens survive restarts.
func jwtSecret(c config) ([]byte, error) {
	if c.JWTSecret != "" {
		if len(c.JWTSecret) < 32 {
			return nil, errors.New("--jwt-secret must be at least 32 bytes")
		}
		return []byte(c.JWTSecret), nil
	}
	path := filepath.Join(c.DataDir, "jwt-secret")
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return b, nil
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	secret := make([]byte, 48)
	rand.Read(secret)
	secret = []byte(hex.EncodeToString(secret))
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		return nil, fmt.Errorf("keep the generated JWT secret: %w", err)
	}
	return secret, nil
}

func serve(ctx context.Context, c config, stdout, stderr io.Writer, ready chan<- string) error {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	st, err := openStore(ctx, c)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	secret, err := jwtSecret(c)
	if err != nil {
		return err
	}
	tokens, err := api.NewTokens(api.TokenConfig{Secret: secret, Issuer: c.Issuer, IssuerAlg: c.IssuerAlg, IssuerKey: c.IssuerKey}, st)
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	scfg := session.DefaultConfig()
	scfg.Log = st
	scfg.Logger = log
	scfg.Users = func(ctx context.Context, id collab.UserID) (collab.UserInfo, error) {
		u, err := st.User(ctx, id)
		return u.Info(), err
	}
	scfg.MaxDocLen = int(c.Limits.MaxDocBytes)
	scfg.MaxPeers = c.Limits.EditorsPerDoc
	scfg.IdleTimeout = c.Limits.IdleTimeout
	scfg.CheckpointEvery = c.Limits.CheckpointEvery
	scfg.CheckpointInterval = c.Limits.CheckpointAfter
	registry := session.NewRegistry(scfg)
	a := api.New(api.Config{
		Logger: log, Sessions: registry, Log: st, Documents: st, Users: st, Tokens: tokens,
		AllowedOrigins: c.AllowedOrigins, OpenSignup: c.OpenSignup, MaxDocBytes: c.Limits.MaxDocBytes,
		Ready: st.Ping, UserRate: c.Limits.RequestsPerSecond, UserBurst: 2 * int(c.Limits.RequestsPerSecond),
		IPRate: c.Limits.IPRate, IPBurst: c.Limits.IPBurst,
		Live: api.LiveConfig{
			MaxMessageBytes:    c.Limits.MaxMessageBytes,
			EditsPerSecond:     c.Limits.EditsPerSecond,
			EditBurst:          c.Limits.EditBurst,
			UserEditsPerSecond: c.Limits.UserEditRate,
		},
		Assets: web.Assets(),
	})

	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if c.DebugAddr != "" {
		stop, err := serveDebug(c.DebugAddr, stdout, log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
	}

	addr := ln.Addr().String()
	fmt.Fprintf(stdout, "collabd is serving on http://%s\n", addr)
	log.Info("serving", "url", "http://"+addr+"/")
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
	// Graceful: stop accepting, let sessions commit what they accepted,
	// checkpoint and close their clients with 1001, then wait for the
	// sockets to finish.
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := registry.Close(shutdownCtx); err != nil {
		log.Warn("sessions did not all close in time", "err", err)
	}
	if err := a.Wait(shutdownCtx); err != nil {
		log.Warn("live connections did not all close in time", "err", err)
	}
	return nil
}

// serveDebug serves Go's profiler on its own listener, apart from the API,
// so that it is never exposed with it. It returns a function that stops it.
func serveDebug(addr string, stdout io.Writer, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on debug address %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	url := "http://" + ln.Addr().String() + "/debug/pprof/"
	fmt.Fprintf(stdout, "profiler on %s\n", url)
	log.Info("profiler", "url", url)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("profiler stopped", "err", err)
		}
	}()
	return func() { srv.Close() }, nil
}
