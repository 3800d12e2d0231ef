package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/collabd/collabd/api"
	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/internal/pgtest"
	"github.com/collabd/collabd/ot"
	"github.com/collabd/collabd/session"
	"github.com/collabd/collabd/store/postgres"
	"github.com/collabd/collabd/store/sqlite"
)

// env is a real server over HTTP on 127.0.0.1 with the embedded store in a
// temp dir.
type env struct {
	t     testing.TB
	store collab.Store
	reg   *session.Registry
	api   *api.API
	tok   *api.Tokens
	srv   *httptest.Server
}

type testConfig struct {
	live     api.LiveConfig
	session  session.Config
	postgres bool            // the store: Postgres (a throwaway database) instead of SQLite
	closed   bool            // sign-up closed
	bench    bool            // raise the REST rate limits
	tokens   api.TokenConfig // login token TTL and leeway (the secret is set by newEnv)

	requestTimeout time.Duration               // api.Config.RequestTimeout (0: its default)
	ipRate         float64                     // api.Config.IPRate (0: its default)
	ipBurst        int                         // api.Config.IPBurst (0: its default)
	wrapLog        func(collab.Log) collab.Log // wraps the op log the sessions and handlers use
}

func TestMain(m *testing.M) { pgtest.Main(m) }

// onBothStores runs a test once on SQLite and once on Postgres.
func onBothStores(t *testing.T, test func(t *testing.T, opt func(*testConfig))) {
	t.Run("sqlite", func(t *testing.T) { test(t, func(*testConfig) {}) })
	t.Run("postgres", func(t *testing.T) { test(t, func(c *testConfig) { c.postgres = true }) })
}

func newEnv(t *testing.T, opts ...func(*testConfig)) *env { return newEnvTB(t, opts...) }

func newEnvTB(t testing.TB, opts ...func(*testConfig)) *env {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := testConfig{session: session.DefaultConfig()}
	for _, o := range opts {
		o(&cfg)
	}
	var st collab.Store
	var err error
	if cfg.postgres {
		st, err = postgres.Open(ctx, pgtest.Shared(t).NewDatabase(t))
	} else {
		st, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "collabd.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	var log collab.Log = st
	if cfg.wrapLog != nil {
		log = cfg.wrapLog(st)
	}
	cfg.session.Log = log
	cfg.session.Logger = logger
	reg := session.NewRegistry(cfg.session)
	cfg.tokens.Secret = []byte("0123456789abcdef0123456789abcdef")
	tok, err := api.NewTokens(cfg.tokens, st)
	if err != nil {
		t.Fatal(err)
	}
	a := api.New(api.Config{
		Logger: logger, Sessions: reg, Log: log, Documents: st, Users: st, Tokens: tok,
		OpenSignup: !cfg.closed, PasswordCost: 4, Live: cfg.live, Ready: st.Ping,
		UserRate: map[bool]float64{true: 1e6, false: 0}[cfg.bench], UserBurst: map[bool]int{true: 1e6, false: 0}[cfg.bench],
		IPRate: cfg.ipRate, IPBurst: cfg.ipBurst, RequestTimeout: cfg.requestTimeout,
	})
	srv := httptest.NewServer(a.Handler())
	e := &env{t: t, store: st, reg: reg, api: a, tok: tok, srv: srv}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		reg.Close(ctx)
		a.Wait(ctx)
		srv.Close()
		st.Close()
	})
	return e
}

// user creates an account and returns it with a login token.
func (e *env) user(name string) (collab.User, string) {
	e.t.Helper()
	u, err := e.store.CreateUser(context.Background(), collab.User{
		ID: collab.UserID("u-" + name), Username: name, Name: name, Color: "#123456", CreatedAt: time.Now().UTC(),
	}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	tok, _, err := e.tok.Mint(u)
	if err != nil {
		e.t.Fatal(err)
	}
	return u, tok
}

// document creates a document owned by owner holding text.
func (e *env) document(owner collab.User, text string) collab.DocumentID {
	e.t.Helper()
	doc, err := ot.DocFromDelta(ot.Delta{ot.InsertText(text+"\n", nil)})
	if err != nil {
		e.t.Fatal(err)
	}
	d, err := e.store.CreateDocument(context.Background(), collab.Document{
		ID: collab.DocumentID(collab.NewID()), Title: "t", Owner: owner.ID,
	}, collab.Snapshot{Doc: doc, CreatedAt: time.Now().UTC()})
	if err != nil {
		e.t.Fatal(err)
	}
	return d.ID
}

func (e *env) share(doc collab.DocumentID, u collab.User, role collab.Role) {
	e.t.Helper()
	if err := e.store.SetMember(context.Background(), doc, u.ID, role); err != nil {
		e.t.Fatal(err)
	}
}

// text is the document's stored text at its newest version.
func (e *env) text(doc collab.DocumentID) string {
	e.t.Helper()
	ctx := context.Background()
	d, err := e.store.Document(ctx, doc)
	if err != nil {
		e.t.Fatal(err)
	}
	content, err := collab.DocAt(ctx, e.store, doc, d.Version)
	if err != nil {
		e.t.Fatal(err)
	}
	return content.Text()
}

// newEnvB is newEnv for a benchmark (a real server, quiet logs, the rate
// limits raised so they do not shape what is measured).
func newEnvB(b *testing.B, pg bool) *env {
	b.Helper()
	return newEnvTB(b, func(c *testConfig) { c.postgres = pg; c.bench = true })
}

func (e *env) signupB(b *testing.B, name string) string {
	b.Helper()
	_, tok := e.user(name)
	return tok
}

func (e *env) createB(b *testing.B, token string) string {
	b.Helper()
	u, _, err := e.tok.Verify(context.Background(), token)
	if err != nil {
		b.Fatal(err)
	}
	return string(e.document(u, "hello"))
}
