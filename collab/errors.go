package collab

import (
	"errors"
	"fmt"
)

// Code is a machine-readable error code. The codes are the live protocol's
// (error.code) and the REST API's ({"error":{"code"}}); api/errors.go is the
// one table mapping them to HTTP statuses and WebSocket close codes.
type Code string

const (
	// Live protocol codes.
	BadMessage   Code = "bad_message"   // not JSON, unknown type, missing field
	InvalidOp    Code = "invalid_op"    // delta malformed or does not fit the document
	VersionAhead Code = "version_ahead" // op based on a version the server has not reached
	Forbidden    Code = "forbidden"     // authenticated, but the role does not allow it
	RateLimited  Code = "rate_limited"
	TooLarge     Code = "too_large"
	Unavailable  Code = "unavailable" // the store is failing; nothing was applied, safe to retry

	// REST and store codes.
	BadRequest   Code = "bad_request"  // a malformed request: not JSON, wrong types, a bad parameter
	Unauthorized Code = "unauthorized" // no or expired credentials
	NotFound     Code = "not_found"    // unknown, deleted, or not visible to the caller
	Conflict     Code = "conflict"     // a version was taken by another writer
	Duplicate    Code = "duplicate"    // a unique thing exists already: (client, seq), username
	Invalid      Code = "invalid"      // valid JSON that makes no sense
	Internal     Code = "internal"     // a bug or an unexpected failure; details go to the log only
)

// Error is an error with a code and a message fit to show the user. Err, if
// set, is the underlying cause (for logs and errors.Is), never shown.
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return string(e.Code) + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, collab.ErrNotFound) match any error with the same
// code, so callers branch on the code, not on the message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Errorf returns an *Error with the given code and a formatted message. A
// %w verb in the format wraps the cause as Err.
func Errorf(code Code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Err: errors.Unwrap(err)}
}

// ErrorCode returns the code of the first *Error in err's chain, Internal if
// there is none, and "" for a nil error.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// UserMessage returns the user-facing message of err: the message of its
// *Error, or "internal error" when it has none (the details are for logs).
func UserMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		return e.Message
	}
	return "internal error"
}

// Sentinels for the cases callers branch on. Match with errors.Is; they
// compare by code, so a store's wrapped Errorf(NotFound, ...) matches.
var (
	ErrNotFound     = &Error{Code: NotFound, Message: "not found"}
	ErrVersionTaken = &Error{Code: Conflict, Message: "version already taken"}
	ErrDuplicate    = &Error{Code: Duplicate, Message: "already exists"}
	ErrUnavailable  = &Error{Code: Unavailable, Message: "store unavailable"}
)
