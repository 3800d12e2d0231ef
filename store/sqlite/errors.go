package sqlite

import (
	"context"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	lib "modernc.org/sqlite/lib"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/store/internal/record"
)

// dbErr maps a driver error to collab's codes by SQLite's (extended) result
// code, never by message text; what says what was being done. An error that
// is already a *collab.Error keeps its code; anything unexpected stays
// without a code (internal).
func dbErr(err error, what string) error {
	if err == nil {
		return nil
	}
	var ce *collab.Error
	if errors.As(err, &ce) {
		return fmt.Errorf("%s: %w", what, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, record.ContextError(err))
	}
	if code := resultCode(err); code != "" {
		return &collab.Error{Code: code, Message: what + ": " + codeMessage(code), Err: err}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// sqliteCode returns err's SQLite result code, or -1.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return -1
}

func resultCode(err error) collab.Code {
	code := sqliteCode(err)
	if code < 0 {
		return ""
	}
	switch code {
	case lib.SQLITE_CONSTRAINT_UNIQUE, lib.SQLITE_CONSTRAINT_PRIMARYKEY:
		return collab.Duplicate
	case lib.SQLITE_CONSTRAINT_FOREIGNKEY: // the user or document referred to
		return collab.NotFound
	case lib.SQLITE_CONSTRAINT_CHECK, lib.SQLITE_CONSTRAINT_NOTNULL, lib.SQLITE_CONSTRAINT_DATATYPE:
		return collab.Invalid
	}
	switch code & 0xff { // the primary result code
	case lib.SQLITE_BUSY, // another process holds the write lock past the busy timeout
		lib.SQLITE_LOCKED,
		lib.SQLITE_IOERR,
		lib.SQLITE_FULL,
		lib.SQLITE_CANTOPEN,
		lib.SQLITE_PROTOCOL,
		lib.SQLITE_NOLFS,
		lib.SQLITE_INTERRUPT:
		return collab.Unavailable
	}
	return ""
}

func codeMessage(c collab.Code) string {
	switch c {
	case collab.Duplicate:
		return "already exists"
	case collab.NotFound:
		return "not found"
	case collab.Invalid:
		return "invalid value"
	case collab.Unavailable:
		return "database unavailable"
	}
	return string(c)
}

// isUnavailable reports whether err means the file cannot be written now:
// then a failed group commit is not retried request by request.
func isUnavailable(err error) bool {
	return resultCode(err) == collab.Unavailable ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// isConstraint reports whether err is the given extended constraint code.
func isConstraint(err error, code int) bool { return sqliteCode(err) == code }
