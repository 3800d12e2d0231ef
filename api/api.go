package api

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gorilla/websocket"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/session"
)

// Config is what the HTTP surface needs from the process that wires it.
type Config struct {
	Logger    *slog.Logger
	Sessions  *session.Registry
	Log       collab.Log
	Documents collab.Documents
	Users     collab.Users
	Tokens    *Tokens
	// Verifier checks credentials; nil uses Tokens.
	Verifier Verifier
	// AllowedOrigins may make cookie-authenticated requests besides the
	// server's own origin.
	AllowedOrigins []string
	OpenSignup     bool
	PasswordCost   int   // bcrypt cost; 0 = bcrypt.DefaultCost
	MaxDocBytes    int64 // longest document (and initial content)
	Live           LiveConfig
	// Ready reports whether the store is reachable and migrated (/readyz).
	Ready func(context.Context) error
	// Requests per second (and burst) per authenticated user, and per IP
	// for requests without credentials. Zero takes the defaults.
	UserRate, IPRate   float64
	UserBurst, IPBurst int
	// RequestTimeout bounds each request but the live endpoint; zero is
	// 30 seconds.
	RequestTimeout time.Duration
	// Assets is the built browser editor (web.Assets()): index.html and
	// assets/. Nil serves no editor routes.
	Assets fs.FS
}

// API serves collabd's routes.
type API struct {
	// Set by New; read-only afterwards.
	logger       *slog.Logger
	sessions     *session.Registry
	log          collab.Log
	docs         collab.Documents
	users        collab.Users
	tokens       *Tokens
	verifier     Verifier
	origins      map[string]bool
	openSignup   bool
	passwordCost int
	dummyHash    []byte // compared against when a username is unknown
	loginLimiter *failureLimiter
	maxDocBytes  int64
	live         LiveConfig
	ready        func(context.Context) error
	upgrader     websocket.Upgrader
	metrics      *metrics
	userLimit    *rateLimiter
	ipLimit      *rateLimiter
	timeout      time.Duration // per request, but the live endpoint
	userEdits    *rateLimiter  // live edits per user and document, over all connections
	userCache    *userCache    // owners and authors shown in answers
	static       *staticFiles  // the browser editor; nil serves none

	conns     connTracker      // open live connections
	liveCreds *liveCredentials // open live connections by credential, for revocation
}

// connTracker counts live connections so shutdown can wait for them; once
// shutdown has begun, no new connection is let in.
type connTracker struct {
	mu      sync.Mutex // guards the fields below
	n       int
	closing bool
	idle    chan struct{} // closed when closing and n is 0
}

func (t *connTracker) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return false
	}
	t.n++
	return true
}

func (t *connTracker) leave() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.closing && t.n == 0 {
		close(t.idle)
	}
}

// close stops admitting connections and returns a channel closed when the
// last one has left.
func (t *connTracker) close() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closing {
		t.closing = true
		t.idle = make(chan struct{})
		if t.n == 0 {
			close(t.idle)
		}
	}
	return t.idle
}

// New returns the API for c.
func New(c Config) *API {
	a := &API{
		logger:       c.Logger,
		sessions:     c.Sessions,
		log:          c.Log,
		docs:         c.Documents,
		users:        c.Users,
		tokens:       c.Tokens,
		verifier:     c.Verifier,
		origins:      map[string]bool{},
		openSignup:   c.OpenSignup,
		passwordCost: c.PasswordCost,
		loginLimiter: newFailureLimiter(10, time.Minute),
		maxDocBytes:  c.MaxDocBytes,
		live:         c.Live.withDefaults(),
		ready:        c.Ready,
		liveCreds:    newLiveCredentials(),
	}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	if a.verifier == nil && a.tokens != nil {
		a.verifier = a.tokens
	}
	if a.passwordCost == 0 {
		a.passwordCost = bcrypt.DefaultCost
	}
	if a.maxDocBytes <= 0 {
		a.maxDocBytes = 16 << 20
	}
	a.timeout = c.RequestTimeout
	if a.timeout <= 0 {
		a.timeout = 30 * time.Second
	}
	a.userLimit = newRateLimiter(orDefault(c.UserRate, 200), int(orDefault(float64(c.UserBurst), 400)))
	a.ipLimit = newRateLimiter(orDefault(c.IPRate, 50), int(orDefault(float64(c.IPBurst), 100)))
	a.userEdits = newRateLimiter(a.live.UserEditsPerSecond, int(2*a.live.UserEditsPerSecond))
	a.userCache = newUserCache(a.users, 5*time.Second)
	if a.tokens != nil {
		a.userCache = a.tokens.cache // one cache for authentication and answers
	}
	a.metrics = newMetrics(a)
	if c.Assets != nil {
		st, err := loadStatic(c.Assets)
		if err != nil {
			a.logger.Error("the browser editor is not served", "err", err)
		}
		a.static = st
	}
	a.dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a password of anyone"), a.passwordCost)
	for _, o := range c.AllowedOrigins {
		a.origins[strings.TrimRight(o, "/")] = true
	}
	a.upgrader = websocket.Upgrader{
		// Only the handshake is gorilla's: live.go reads and writes the
		// frames. With no buffer sizes, gorilla allocates none of its own.
		WriteBufferPool: &sync.Pool{},
		// Origins are checked before the upgrade, and only where they
		// matter: for cookie-authenticated handshakes (see authenticate).
		// A bearer token is not sent by a browser on its own.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	return a
}

// Wait refuses new live connections and returns when every open one has
// ended (after the sessions were closed), or when ctx ends.
func (a *API) Wait(ctx context.Context) error {
	select {
	case <-a.conns.close():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sameOrAllowedOrigin reports whether a browser request comes from the
// server's own origin or an allowed one.
func (a *API) sameOrAllowedOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	if a.origins[origin] {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

func orDefault(v, def float64) float64 {
	if v <= 0 {
		return def
	}
	return v
}
