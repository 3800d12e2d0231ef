package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	lib "modernc.org/sqlite/lib"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/store/internal/record"
)

const userColumns = `u.id, u.username, u.name, u.color, u.created_at`

func scanUser(row scanner, extra ...any) (collab.User, error) {
	var (
		u       collab.User
		created int64
	)
	err := row.Scan(append([]any{&u.ID, &u.Username, &u.Name, &u.Color, &created}, extra...)...)
	u.CreatedAt = record.FromMicros(created)
	return u, err
}

// userErr names the duplicate a user's insert ran into. SQLite's error
// does not name the constraint in a field, so look.
func (s *Store) userErr(ctx context.Context, err error, u collab.User, what string) error {
	if isConstraint(err, lib.SQLITE_CONSTRAINT_UNIQUE) || isConstraint(err, lib.SQLITE_CONSTRAINT_PRIMARYKEY) {
		var id collab.UserID
		if s.write.QueryRowContext(ctx, `SELECT id FROM users WHERE username = $1`, u.Username).Scan(&id) == nil && id != u.ID {
			return collab.Errorf(collab.Duplicate, "%s: username %s is taken", what, u.Username)
		}
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
	_, err := s.write.ExecContext(ctx, `INSERT INTO users (id, username, name, color, password_hash, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, u.ID, u.Username, u.Name, u.Color, passwordHash, record.Micros(u.CreatedAt))
	if err != nil {
		return collab.User{}, s.userErr(ctx, err, u, what)
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
	got, err := scanUser(s.write.QueryRowContext(ctx, `INSERT INTO users AS u (id, username, name, color, created_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, color = excluded.color
		RETURNING id, username, name, color, created_at`, u.ID, u.Username, u.Name, u.Color, record.Micros(record.OrNow(u.CreatedAt, record.Now()))))
	if err != nil {
		return collab.User{}, s.userErr(ctx, err, u, what)
	}
	return got, nil
}

// User returns the user with id.
func (s *Store) User(ctx context.Context, id collab.UserID) (collab.User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
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
	u, err := scanUser(s.read.QueryRowContext(ctx, `SELECT `+userColumns+`, u.password_hash
		FROM users u WHERE u.username = $1`, username), &hash)
	if errors.Is(err, sql.ErrNoRows) {
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
	var lastUsed any
	if !t.LastUsed.IsZero() {
		lastUsed = record.Micros(t.LastUsed)
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO tokens (id, user_id, name, hash, created_at, last_used)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		t.ID, t.User, t.Name, t.Hash, record.Micros(record.OrNow(t.CreatedAt, record.Now())), lastUsed)
	if isConstraint(err, lib.SQLITE_CONSTRAINT_FOREIGNKEY) {
		return collab.Errorf(collab.NotFound, "%s: user not found", what)
	}
	return dbErr(err, what)
}

const tokenColumns = `id, user_id, name, hash, created_at, last_used`

func scanToken(row scanner) (collab.Token, error) {
	var (
		t        collab.Token
		created  int64
		lastUsed sql.NullInt64
	)
	if err := row.Scan(&t.ID, &t.User, &t.Name, &t.Hash, &created, &lastUsed); err != nil {
		return collab.Token{}, err
	}
	t.CreatedAt = record.FromMicros(created)
	if lastUsed.Valid {
		t.LastUsed = record.FromMicros(lastUsed.Int64)
	}
	return t, nil
}

// TokenByHash finds a token by the hash of its secret and records its use
// at now.
func (s *Store) TokenByHash(ctx context.Context, hash []byte, now time.Time) (collab.Token, error) {
	t, err := scanToken(s.write.QueryRowContext(ctx, `UPDATE tokens SET last_used = $2 WHERE hash = $1
		RETURNING `+tokenColumns, hash, record.Micros(now)))
	if errors.Is(err, sql.ErrNoRows) {
		err = record.NotFound("token")
	}
	if err != nil {
		return collab.Token{}, dbErr(err, "token by hash")
	}
	return t, nil
}

// Tokens lists user's tokens, oldest first.
func (s *Store) Tokens(ctx context.Context, user collab.UserID) ([]collab.Token, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens
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
	res, err := s.write.ExecContext(ctx, `DELETE FROM tokens WHERE id = $1 AND user_id = $2`, id, user)
	if err == nil {
		if n, _ := res.RowsAffected(); n == 0 {
			err = record.NotFound("token %s", id)
		}
	}
	return dbErr(err, "revoke token "+id)
}
