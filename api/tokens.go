package api

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/collabd/collabd/collab"
)

// Tokens mints and verifies the credentials collabd accepts:
//   - login tokens, JWTs signed with the server's own HMAC key (iss
//     "collabd");
//   - tokens an app mints for its users, JWTs from a trusted external
//     issuer with a configured key and a pinned algorithm;
//   - personal API tokens ("cdp_…"), random secrets stored hashed.
//
// The algorithm is always fixed by configuration, never taken from the
// token, so "alg":"none" and key-confusion tricks fail.
type Tokens struct {
	secret []byte
	users  collab.Users
	cache  *userCache // users by id, for the per-request lookup
	ttl    time.Duration
	leeway time.Duration
	now    func() time.Time

	issuer    string // expected iss of app tokens; "" = any other than ours
	issuerAlg string
	issuerKey any // []byte for HMAC, a public key otherwise; nil = no external issuer
}

// ourIssuer is the iss claim of the tokens this server signs.
const ourIssuer = "collabd"

// personalPrefix starts every personal API token.
const personalPrefix = "cdp_"

// TokenConfig configures Tokens.
type TokenConfig struct {
	Secret []byte        // signs login tokens
	TTL    time.Duration // login token lifetime (default 30 days)
	// Leeway is the clock skew allowed on exp and nbf: 0 takes the
	// default of 30 s, a negative value allows none.
	Leeway time.Duration
	// External issuer: Key is an HMAC secret for HS*, else a path to a PEM
	// public key (RS256, ES256, EdDSA). Empty Key disables it.
	Issuer    string
	IssuerAlg string
	IssuerKey string
}

// NewTokens returns a token service over users.
func NewTokens(c TokenConfig, users collab.Users) (*Tokens, error) {
	if len(c.Secret) < 32 {
		return nil, errors.New("the token secret must be at least 32 bytes")
	}
	t := &Tokens{secret: c.Secret, users: users, cache: newUserCache(users, 5*time.Second), ttl: c.TTL, leeway: c.Leeway, now: time.Now,
		issuer: c.Issuer, issuerAlg: c.IssuerAlg}
	if t.ttl <= 0 {
		t.ttl = 30 * 24 * time.Hour
	}
	switch {
	case t.leeway == 0:
		t.leeway = 30 * time.Second
	case t.leeway < 0:
		t.leeway = 0
	}
	if c.IssuerKey != "" {
		key, err := issuerKey(c.IssuerAlg, c.IssuerKey)
		if err != nil {
			return nil, err
		}
		t.issuerKey = key
	}
	return t, nil
}

func issuerKey(alg, key string) (any, error) {
	if strings.HasPrefix(alg, "HS") {
		if len(key) < 32 {
			return nil, errors.New("an HMAC issuer key must be at least 32 bytes")
		}
		return []byte(key), nil
	}
	pem, err := os.ReadFile(key)
	if err != nil {
		return nil, fmt.Errorf("read issuer public key: %w", err)
	}
	var pub crypto.PublicKey
	switch alg {
	case "RS256":
		pub, err = jwt.ParseRSAPublicKeyFromPEM(pem)
	case "ES256":
		pub, err = jwt.ParseECPublicKeyFromPEM(pem)
	case "EdDSA":
		pub, err = jwt.ParseEdPublicKeyFromPEM(pem)
	default:
		return nil, fmt.Errorf("issuer algorithm %q is not supported", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("parse issuer public key: %w", err)
	}
	return pub, nil
}

// claims are the JWT claims collabd reads: sub and name identify the user.
type claims struct {
	Name string `json:"name,omitempty"`
	jwt.RegisteredClaims
}

// Mint returns a login token for a user. Its jti names this login, so a
// logout can close the live connections it opened and no other.
func (t *Tokens) Mint(u collab.User) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(t.ttl)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		Name: u.Name,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: ourIssuer, Subject: string(u.ID), ID: collab.NewID(),
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
		},
	})
	s, err := tok.SignedString(t.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return s, exp, nil
}

var errBadToken = collab.Errorf(collab.Unauthorized, "invalid or expired token")

// Verify returns the user a credential belongs to and which credential it
// is, or an Unauthorized error that does not say which check failed.
func (t *Tokens) Verify(ctx context.Context, token string) (collab.User, Credential, error) {
	if strings.HasPrefix(token, personalPrefix) {
		tok, err := t.users.TokenByHash(ctx, hashSecret(token), t.now())
		if err != nil {
			if errors.Is(err, collab.ErrNotFound) {
				return collab.User{}, Credential{}, errBadToken
			}
			return collab.User{}, Credential{}, err
		}
		u, err := t.user(ctx, tok.User)
		if err != nil {
			return collab.User{}, Credential{}, err
		}
		return u, Credential{Kind: PersonalToken, ID: personalCredentialID(tok.ID)}, nil
	}
	var c claims
	parsed, err := jwt.ParseWithClaims(token, &c, func(tok *jwt.Token) (any, error) {
		iss, _ := tok.Claims.GetIssuer()
		if iss == ourIssuer {
			return t.secret, nil
		}
		if t.issuerKey == nil || (t.issuer != "" && iss != t.issuer) {
			return nil, errors.New("unknown issuer")
		}
		if tok.Method.Alg() != t.issuerAlg {
			return nil, errors.New("unexpected algorithm")
		}
		return t.issuerKey, nil
	}, jwt.WithValidMethods([]string{"HS256", t.issuerAlg}), jwt.WithExpirationRequired(),
		jwt.WithLeeway(t.leeway), jwt.WithTimeFunc(t.now))
	if err != nil || !parsed.Valid || c.Subject == "" {
		return collab.User{}, Credential{}, errBadToken
	}
	if c.Issuer == ourIssuer {
		if parsed.Method.Alg() != "HS256" {
			return collab.User{}, Credential{}, errBadToken
		}
		u, err := t.user(ctx, collab.UserID(c.Subject))
		if err != nil {
			return collab.User{}, Credential{}, err
		}
		return u, t.jwtCredential(LoginToken, token, &c), nil
	}
	// An app's user: known by issuer and subject, created on first sight.
	id := collab.UserID("ext:" + c.Issuer + ":" + c.Subject)
	name := c.Name
	if name == "" {
		name = c.Subject
	}
	u, err := t.users.UpsertUser(ctx, collab.User{ID: id, Username: string(id), Name: name, Color: collab.ColorFor(id)})
	if err != nil {
		return collab.User{}, Credential{}, fmt.Errorf("app user %s: %w", id, err)
	}
	return u, t.jwtCredential(AppToken, token, &c), nil
}

// personalCredentialID names a personal API token by its id.
func personalCredentialID(tokenID string) CredentialID {
	return CredentialID("pat:" + tokenID)
}

// jwtCredential names a verified JWT by its issuer and jti, or by the
// token's hash when it has none (login tokens minted before they carried
// one, app tokens without it). It expires when Verify stops accepting it.
func (t *Tokens) jwtCredential(kind CredentialKind, token string, c *claims) Credential {
	name := c.ID
	if name == "" {
		name = "#" + hex.EncodeToString(hashSecret(token))
	}
	return Credential{
		Kind:    kind,
		ID:      CredentialID("jwt:" + c.Issuer + ":" + name),
		Expires: c.ExpiresAt.Time.Add(t.leeway), // exp is required: never nil here
	}
}

func (t *Tokens) user(ctx context.Context, id collab.UserID) (collab.User, error) {
	u, err := t.cache.User(ctx, id)
	if errors.Is(err, collab.ErrNotFound) {
		return collab.User{}, errBadToken
	}
	return u, err
}

// NewPersonalToken returns a new personal API token secret and the hash
// to store; the secret is shown to its owner once.
func NewPersonalToken() (secret string, hash []byte) {
	var b [32]byte
	rand.Read(b[:])
	secret = personalPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, hashSecret(secret)
}

// hashSecret hashes a high-entropy token secret. A fast hash is right
// here: the secret is random, not a password, so there is nothing to
// brute-force.
func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}
