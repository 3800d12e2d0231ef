package ot

import (
	"errors"
	"fmt"
)

// The kinds of error this package returns. Every error from decoding,
// validating or applying is an *Error whose Kind is one of these, so callers
// branch with errors.Is(err, ot.ErrDoesNotFit) and friends.
var (
	ErrMalformed       = errors.New("malformed delta")                 // wrong JSON shape, types or values
	ErrDoesNotFit      = errors.New("delta does not fit the document") // runs past the end, or leaves no final "\n"
	ErrSplitsSurrogate = errors.New("delta splits a surrogate pair")
	ErrInvalidUTF8     = errors.New("invalid UTF-8 or lone surrogate")
	ErrTooLarge        = errors.New("too large")
)

// Error is a typed error with a message that says what was wrong and where.
type Error struct {
	Kind error  // one of the Err* values above
	Msg  string // detail, e.g. "op 3: retain must be a positive integer"
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Msg }
func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}
