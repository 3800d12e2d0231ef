-- The initial schema, the same tables as postgres/00001_init.sql. Times are
-- integer microseconds since the Unix epoch (Postgres keeps microseconds
-- too, so both stores return equal times). Deltas and snapshots are JSON
-- text, kept byte for byte.

-- +goose Up
CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	username      TEXT NOT NULL UNIQUE,
	name          TEXT NOT NULL,
	color         TEXT NOT NULL,
	password_hash BLOB,
	created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE tokens (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	hash       BLOB NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	last_used  INTEGER
) STRICT;
CREATE INDEX tokens_user ON tokens (user_id, created_at);

CREATE TABLE documents (
	id         TEXT PRIMARY KEY,
	title      TEXT NOT NULL,
	owner_id   TEXT NOT NULL REFERENCES users (id),
	version    INTEGER NOT NULL DEFAULT 0 CHECK (version >= 0),
	deleted    INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE members (
	document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
	user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role        TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'owner')),
	PRIMARY KEY (document_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX members_user ON members (user_id);

-- The op log: small rows read in version ranges, so WITHOUT ROWID keeps
-- them in primary-key order. No foreign keys, as in Postgres.
CREATE TABLE edits (
	document_id TEXT NOT NULL,
	version     INTEGER NOT NULL CHECK (version > 0),
	client_id   TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	author_id   TEXT NOT NULL,
	delta       TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	PRIMARY KEY (document_id, version),
	UNIQUE (document_id, client_id, seq)
) STRICT, WITHOUT ROWID;

-- Snapshots may be megabytes: an ordinary rowid table.
CREATE TABLE snapshots (
	document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
	version     INTEGER NOT NULL CHECK (version >= 0),
	content     TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	PRIMARY KEY (document_id, version)
) STRICT;

-- +goose Down
DROP TABLE snapshots;
DROP TABLE edits;
DROP TABLE members;
DROP TABLE documents;
DROP TABLE tokens;
DROP TABLE users;
