package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/store/internal/record"
)

// dbErr maps a driver error to collab's codes, by SQLSTATE and by error
// type, never by message text; what says what was being done. An error
// that is already a *collab.Error keeps its code. Anything unexpected stays
// without a code (internal) and keeps its chain for the log.
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
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if code := sqlstateCode(pe.Code); code != "" {
			return &collab.Error{Code: code, Message: what + ": " + codeMessage(code), Err: err}
		}
	}
	if isConnErr(err) {
		return &collab.Error{Code: collab.Unavailable, Message: what + ": " + codeMessage(collab.Unavailable), Err: err}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// sqlstateCode maps the SQLSTATEs that mean something to a caller.
func sqlstateCode(state string) collab.Code {
	switch state {
	case "23505": // unique_violation
		return collab.Duplicate
	case "23503": // foreign_key_violation: the user or document referred to
		return collab.NotFound
	case "23502", "23514": // not_null_violation, check_violation
		return collab.Invalid
	case "57014": // query_canceled: statement_timeout
		return collab.Unavailable
	case "40001", "40P01": // serialization_failure, deadlock_detected: retry
		return collab.Unavailable
	}
	switch state[:2] {
	case "08", // connection_exception
		"53", // insufficient_resources: too many connections, disk full
		"57": // operator_intervention: admin_shutdown, cannot_connect_now
		return collab.Unavailable
	case "22": // data_exception: a value the column cannot hold
		return collab.Invalid
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

// isConnErr reports whether err means the database could not be reached or
// the connection broke: the caller may retry, and a group commit is not
// retried request by request.
func isConnErr(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return sqlstateCode(pe.Code) == collab.Unavailable && pe.Code[:2] != "40"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, puddle.ErrClosedPool) ||
		pgconn.SafeToRetry(err) ||
		pgconn.Timeout(err) ||
		errors.As(err, &ne) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, context.DeadlineExceeded)
}

// constraint returns the name of the constraint err violated, or "".
func constraint(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.ConstraintName
	}
	return ""
}
