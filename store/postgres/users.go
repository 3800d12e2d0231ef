package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/store/internal/record"
)

const userColumns = `u.id, u.username, u.name, u.color, u.created_at`

func scanUser(row pgx.Row, extra ...any) (collab.User, error) {
	var u collab.User
	err := row.Scan(append([]any{&u.ID, &u.Username, &u.Name, &u.Color, &u.CreatedAt}, extra...)...)
	u.CreatedAt = u.CreatedAt.UTC()
	return u, err
}

// userErr names the duplicate a user's insert ran into.
func userErr(err error, u collab.User, what string) error {
	switch constraint(err) {
	case "users_username":
		return collab.Errorf(collab.Duplicate, "%s: username %s is taken", what, u.Username)
	case "users_pkey":
		return collab.Errorf(collab.Duplicate, "%s: the id is taken", what)
	}
	return dbErr(err, what)
}

// CreateUser stores a new user.
func (s *Store) CreateUser(ctx context.Context, u collab.User, passwordHash []byte) (collab.User, error) {
	what := "create user " + u.Username
	if err := record.CheckUser(&u); err != nil {
		return collab.User{}, fmt.Errorf("%s: %w", what, err)
	}
	u.CreatedAt = record.OrNow(u.CreatedAt, record.Now())
	_, err := s.pool.Exec(ctx, `INSERT INTO users (id, username, name, color, password_hash, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, u.ID, u.Username, u.Name, u.Color, passwordHash, u.CreatedAt)
	if err != nil {
		return collab.User{}, userErr(err, u, what)
	}
	return u, nil
}

// UpsertUser creates u, or updates the name and colour of the user with its
// id.
func (s *Store) UpsertUser(ctx context.Context, u collab.User) (collab.User, error) {
	what := "upsert user " + string(u.ID)
	if err := record.CheckUser(&u); err != nil {
		return collab.User{}, fmt.Errorf("%s: %w", what, err)
	}
	got, err := scanUser(s.pool.QueryRow(ctx, `INSERT INTO users AS u (id, username, name, color, created_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, color = EXCLUDED.color
		RETURNING `+userColumns, u.ID, u.Username, u.Name, u.Color, record.OrNow(u.CreatedAt, record.Now())))
	if err != nil {
		return collab.User{}, userErr(err, u, what)
	}
	return got, nil
}

// User returns the user with id.
func (s *Store) User(ctx context.Context, id collab.UserID) (collab.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = record.NotFound("user %s", id)
	}
	if err != nil {
		return collab.User{}, dbErr(err, "user")
	}
	return u, nil
}

// UserByUsername returns a user and its password hash (nil if none).
func (s *Store) UserByUsername(ctx context.Context, username string) (collab.User, []byte, error) {
	var hash []byte
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+`, u.password_hash
		FROM users u WHERE u.username = $1`, username), &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		err = record.NotFound("user %s", username)
	}
	if err != nil {
		return collab.User{}, nil, dbErr(err, "user by username")
	}
	return u, hash, nil
}

// CreateToken stores a personal API token.
func (s *Store) CreateToken(ctx context.Context, t collab.Token) error {
	what := "create token for " + string(t.User)
	if t.ID == "" || t.User == "" || len(t.Hash) == 0 {
		return collab.Errorf(collab.Invalid, "%s: a token needs an id, a user and a hash", what)
	}
	var lastUsed *time.Time
	if !t.LastUsed.IsZero() {
		lu := record.Time(t.LastUsed)
		lastUsed = &lu
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO tokens (id, user_id, name, hash, created_at, last_used)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		t.ID, t.User, t.Name, t.Hash, record.OrNow(t.CreatedAt, record.Now()), lastUsed)
	if constraint(err) == "tokens_user_id_fkey" {
		return collab.Errorf(collab.NotFound, "%s: user not found", what)
	}
	return dbErr(err, what)
}

const tokenColumns = `id, user_id, name, hash, created_at, last_used`

func scanToken(row pgx.Row) (collab.Token, error) {
	var (
		t        collab.Token
		lastUsed *time.Time
	)
	if err := row.Scan(&t.ID, &t.User, &t.Name, &t.Hash, &t.CreatedAt, &lastUsed); err != nil {
		return collab.Token{}, err
	}
	t.CreatedAt = t.CreatedAt.UTC()
	if lastUsed != nil {
		t.LastUsed = lastUsed.UTC()
	}
	return t, nil
}

// TokenByHash finds a token by the hash of its secret and records its use
// at now.
func (s *Store) TokenByHash(ctx context.Context, hash []byte, now time.Time) (collab.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `UPDATE tokens SET last_used = $2 WHERE hash = $1
		RETURNING `+tokenColumns, hash, record.Time(now)))
	if errors.Is(err, pgx.ErrNoRows) {
		err = record.NotFound("token")
	}
	if err != nil {
		return collab.Token{}, dbErr(err, "token by hash")
	}
	return t, nil
}

// Tokens lists user's tokens, oldest first.
func (s *Store) Tokens(ctx context.Context, user collab.UserID) ([]collab.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tokens
		WHERE user_id = $1 ORDER BY created_at, id`, user)
	if err != nil {
		return nil, dbErr(err, "tokens of "+string(user))
	}
	defer rows.Close()
	var tokens []collab.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, dbErr(err, "tokens of "+string(user))
		}
		tokens = append(tokens, t)
	}
	return tokens, dbErr(rows.Err(), "tokens of "+string(user))
}

// RevokeToken deletes user's token id.
func (s *Store) RevokeToken(ctx context.Context, user collab.UserID, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE id = $1 AND user_id = $2`, id, user)
	if err == nil && tag.RowsAffected() == 0 {
		err = record.NotFound("token %s", id)
	}
	return dbErr(err, "revoke token "+id)
}
