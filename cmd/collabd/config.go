package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// config is the server's configuration: every flag has an environment
// variable, and a flag given on the command line wins over the variable.
type config struct {
	Addr           string
	DatabaseURL    string // postgres:// URL; empty means the embedded database in DataDir
	DataDir        string
	AllowedOrigins []string
	JWTSecret      string // signs login tokens; generated and kept in DataDir when empty
	OpenSignup     bool
	DebugAddr      string // serves Go's profiler (/debug/pprof) when set; keep it private

	// Tokens minted by an app for its users (external issuer).
	IssuerKey string // HMAC secret, or a path to a PEM public key
	IssuerAlg string // pinned algorithm: HS256, RS256, ES256, EdDSA; never taken from the token
	Issuer    string // expected "iss" claim; empty accepts any

	Limits limits
}

// limits bound what one client or document may cost the server. Each is
// refused with its own error code when exceeded.
type limits struct {
	MaxMessageBytes   int64         // one live message (too_large / close 1009)
	MaxDocBytes       int64         // document text (too_large)
	EditorsPerDoc     int           // connected clients per document
	EditsPerSecond    float64       // per connection, sustained (rate_limited)
	EditBurst         int           // per connection, burst
	UserEditRate      float64       // per user and document, over all their connections
	IdleTimeout       time.Duration // a document with no clients is checkpointed and closed after this
	CheckpointEvery   int           // a document is checkpointed after about this many edits...
	CheckpointAfter   time.Duration // ...or about this long after its last checkpoint, if it changed
	RequestsPerSecond float64       // REST requests per user (rate_limited / 429)
	IPRate            float64       // live handshakes and requests without credentials per client IP (429, Retry-After)
	IPBurst           int           // per client IP, burst
}

func defaultConfig() config {
	return config{
		Addr:       "127.0.0.1:8080",
		DataDir:    "./data",
		OpenSignup: true,
		IssuerAlg:  "HS256",
		Limits: limits{
			MaxMessageBytes:   1 << 20,
			MaxDocBytes:       16 << 20,
			EditorsPerDoc:     1000,
			EditsPerSecond:    100,
			EditBurst:         200,
			UserEditRate:      1000,
			IdleTimeout:       time.Minute,
			CheckpointEvery:   1000,
			CheckpointAfter:   30 * time.Second,
			RequestsPerSecond: 200,
			IPRate:            50,
			IPBurst:           100,
		},
	}
}

// parseConfig reads flags from args, falling back to the environment
// (getenv) for any flag not given, then to the defaults.
func parseConfig(name string, args []string, getenv func(string) string) (config, error) {
	return parseConfigWith(name, args, getenv, nil)
}

// parseConfigWith is parseConfig for a subcommand with flags of its own,
// which extra defines.
func parseConfigWith(name string, args []string, getenv func(string) string, extra func(*flag.FlagSet)) (config, error) {
	c := defaultConfig()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if extra != nil {
		extra(fs)
	}
	fs.SetOutput(os.Stderr)
	type bound struct {
		env   string
		apply func(string) error
	}
	envs := map[string]bound{} // by flag name
	str := func(p *string, flagName, env, usage string) {
		fs.StringVar(p, flagName, *p, usage+" ("+env+")")
		envs[flagName] = bound{env, func(v string) error { *p = v; return nil }}
	}
	value := func(v flag.Value, flagName, env, usage string) {
		fs.Var(v, flagName, usage+" ("+env+")")
		envs[flagName] = bound{env, v.Set}
	}
	str(&c.Addr, "addr", "COLLABD_ADDR", "address to listen on")
	str(&c.DatabaseURL, "database-url", "DATABASE_URL", "postgres:// URL; empty uses the embedded database")
	str(&c.DataDir, "data-dir", "COLLABD_DATA_DIR", "embedded database and generated secrets")
	value((*listValue)(&c.AllowedOrigins), "allowed-origins", "COLLABD_ALLOWED_ORIGINS", "comma-separated origins allowed for cookie-authenticated requests")
	str(&c.JWTSecret, "jwt-secret", "COLLABD_JWT_SECRET", "secret signing login tokens; generated into the data dir when empty")
	value((*boolValue)(&c.OpenSignup), "open-signup", "COLLABD_OPEN_SIGNUP", "allow anyone to sign up")
	str(&c.DebugAddr, "debug-addr", "COLLABD_DEBUG_ADDR", "private address serving Go's profiler at /debug/pprof/; empty serves none")
	str(&c.IssuerKey, "issuer-key", "COLLABD_ISSUER_KEY", "trusted app token key: HMAC secret or path to a PEM public key")
	str(&c.IssuerAlg, "issuer-alg", "COLLABD_ISSUER_ALG", "algorithm of trusted app tokens: HS256, RS256, ES256 or EdDSA")
	str(&c.Issuer, "issuer", "COLLABD_ISSUER", "required iss claim of trusted app tokens")
	value((*int64Value)(&c.Limits.MaxMessageBytes), "max-message-bytes", "COLLABD_MAX_MESSAGE_BYTES", "largest live message")
	value((*int64Value)(&c.Limits.MaxDocBytes), "max-doc-bytes", "COLLABD_MAX_DOC_BYTES", "largest document")
	value((*intValue)(&c.Limits.EditorsPerDoc), "max-editors", "COLLABD_MAX_EDITORS", "connected clients per document")
	value((*floatValue)(&c.Limits.EditsPerSecond), "edit-rate", "COLLABD_EDIT_RATE", "edits per second per connection, sustained")
	value((*intValue)(&c.Limits.EditBurst), "edit-burst", "COLLABD_EDIT_BURST", "edits per connection in a burst")
	value((*floatValue)(&c.Limits.UserEditRate), "user-edit-rate", "COLLABD_USER_EDIT_RATE", "edits per second per user and document, over all their connections")
	value((*floatValue)(&c.Limits.RequestsPerSecond), "request-rate", "COLLABD_REQUEST_RATE", "REST requests per second per user")
	value((*floatValue)(&c.Limits.IPRate), "ip-rate", "COLLABD_IP_RATE", "live handshakes and requests without credentials per second per client IP")
	value((*intValue)(&c.Limits.IPBurst), "ip-burst", "COLLABD_IP_BURST", "live handshakes and requests without credentials per client IP in a burst")
	value((*durationValue)(&c.Limits.IdleTimeout), "idle-timeout", "COLLABD_IDLE_TIMEOUT", "close a document this long after its last client left")
	value((*intValue)(&c.Limits.CheckpointEvery), "checkpoint-every", "COLLABD_CHECKPOINT_EVERY", "snapshot a document after between half and all of this many edits")
	value((*durationValue)(&c.Limits.CheckpointAfter), "checkpoint-after", "COLLABD_CHECKPOINT_AFTER", "snapshot a changed document between half and all of this long after its last snapshot")

	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		b, ok := envs[f.Name]
		if !ok || given[f.Name] {
			return
		}
		if v := getenv(b.env); v != "" {
			if err := b.apply(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", b.env, v, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return config{}, err
	}
	return c, c.validate()
}

func (c config) validate() error {
	switch {
	case c.Addr == "":
		return errors.New("--addr must not be empty")
	case c.DatabaseURL == "" && c.DataDir == "":
		return errors.New("--data-dir must not be empty when --database-url is unset")
	case c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://"):
		return errors.New("--database-url must be a postgres:// URL")
	case c.Limits.MaxMessageBytes < 1024:
		return errors.New("--max-message-bytes must be at least 1024")
	case c.Limits.MaxDocBytes < 1024:
		return errors.New("--max-doc-bytes must be at least 1024")
	case c.Limits.EditorsPerDoc < 1:
		return errors.New("--max-editors must be at least 1")
	case !finitePositive(c.Limits.EditsPerSecond) || c.Limits.EditBurst < 1:
		return errors.New("--edit-rate must be positive and finite and --edit-burst at least 1")
	case !finitePositive(c.Limits.UserEditRate):
		return errors.New("--user-edit-rate must be positive and finite")
	case !finitePositive(c.Limits.RequestsPerSecond):
		return errors.New("--request-rate must be positive and finite")
	case !finitePositive(c.Limits.IPRate) || c.Limits.IPBurst < 1:
		return errors.New("--ip-rate must be positive and finite and --ip-burst at least 1")
	case c.Limits.IdleTimeout <= 0:
		return errors.New("--idle-timeout must be positive")
	case c.Limits.CheckpointEvery < 1:
		return errors.New("--checkpoint-every must be at least 1")
	case c.Limits.CheckpointAfter < time.Second:
		return errors.New("--checkpoint-after must be at least 1s")
	}
	switch c.IssuerAlg {
	case "HS256", "HS384", "HS512", "RS256", "ES256", "EdDSA":
	default:
		return fmt.Errorf("--issuer-alg %q is not one of HS256, HS384, HS512, RS256, ES256, EdDSA", c.IssuerAlg)
	}
	return nil
}

// finitePositive is false for NaN and ±Inf too: a rate limiter fed either
// would let everything through or nothing.
func finitePositive(f float64) bool { return f > 0 && !math.IsInf(f, 1) }

// Typed flag values, so that flags and environment variables parse alike.
type (
	listValue     []string
	boolValue     bool
	intValue      int
	int64Value    int64
	floatValue    float64
	durationValue time.Duration
)

func (v *listValue) String() string { return strings.Join(*v, ",") }
func (v *listValue) Set(s string) error {
	*v = nil
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*v = append(*v, p)
		}
	}
	return nil
}
func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	*v = boolValue(b)
	return err
}
func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	*v = intValue(n)
	return err
}
func (v *int64Value) String() string { return strconv.FormatInt(int64(*v), 10) }
func (v *int64Value) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	*v = int64Value(n)
	return err
}
func (v *floatValue) String() string { return strconv.FormatFloat(float64(*v), 'g', -1, 64) }
func (v *floatValue) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	*v = floatValue(f)
	return err
}
func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	*v = durationValue(d)
	return err
}
