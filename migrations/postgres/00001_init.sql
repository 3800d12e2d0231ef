-- The initial schema. Deltas and snapshots are JSON kept as text, not jsonb:
-- jsonb reorders keys and reformats numbers, and embed values must come back
-- byte for byte as they went in.

-- Ids, usernames and client ids compare byte by byte (COLLATE "C"), as
-- SQLite's BINARY does: the same order ("ties by id") and uniqueness in
-- both stores whatever the database's locale, and cheaper index lookups.

-- +goose Up
CREATE TABLE users (
	id            text COLLATE "C" PRIMARY KEY,
	username      text COLLATE "C" NOT NULL,
	name          text NOT NULL,
	color         text NOT NULL,
	password_hash bytea,
	created_at    timestamptz NOT NULL,
	CONSTRAINT users_username UNIQUE (username)
);

-- Personal API tokens; only a hash of the secret is kept.
CREATE TABLE tokens (
	id         text COLLATE "C" PRIMARY KEY,
	user_id    text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name       text NOT NULL,
	hash       bytea NOT NULL,
	created_at timestamptz NOT NULL,
	last_used  timestamptz,
	CONSTRAINT tokens_hash UNIQUE (hash)
);
CREATE INDEX tokens_user ON tokens (user_id, created_at);

-- version is the newest edit's version: Append moves it from first-1 to the
-- last version it stores, which is what makes one writer per version win.
CREATE TABLE documents (
	id         text COLLATE "C" PRIMARY KEY,
	title      text NOT NULL,
	owner_id   text COLLATE "C" NOT NULL REFERENCES users (id),
	version    bigint NOT NULL DEFAULT 0 CHECK (version >= 0),
	deleted    boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);

CREATE TABLE members (
	document_id text COLLATE "C" NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
	user_id     text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role        text NOT NULL CHECK (role IN ('viewer', 'editor', 'owner')),
	PRIMARY KEY (document_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

-- The op log. No foreign keys: it is the hot table, only Append writes it,
-- and Append holds the document's row lock and checks it in the same
-- statement; documents are never deleted, only marked.
CREATE TABLE edits (
	document_id text COLLATE "C" NOT NULL,
	version     bigint NOT NULL CHECK (version > 0),
	client_id   text COLLATE "C" NOT NULL,
	seq         bigint NOT NULL,
	author_id   text COLLATE "C" NOT NULL,
	delta       text NOT NULL,
	created_at  timestamptz NOT NULL,
	PRIMARY KEY (document_id, version),
	CONSTRAINT edits_client_seq UNIQUE (document_id, client_id, seq)
);

CREATE TABLE snapshots (
	document_id text COLLATE "C" NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
	version     bigint NOT NULL CHECK (version >= 0),
	content     text NOT NULL,
	created_at  timestamptz NOT NULL,
	PRIMARY KEY (document_id, version)
);
-- Out of line but not compressed: loading a large document is on the path
-- of a session's start, and pglz would cost it more than the disk saved.
ALTER TABLE snapshots ALTER COLUMN content SET STORAGE EXTERNAL;

-- +goose Down
DROP TABLE snapshots;
DROP TABLE edits;
DROP TABLE members;
DROP TABLE documents;
DROP TABLE tokens;
DROP TABLE users;
