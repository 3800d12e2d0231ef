package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/collabd/collabd/collab"
)

// The REST API's codes of its own.
const (
	codeMethodNotAllowed collab.Code = "method_not_allowed"
	codeTimeout          collab.Code = "timeout" // the request ran out of time (504)
)

// httpStatus is the one table from error code to HTTP status.
var httpStatus = map[collab.Code]int{
	collab.BadMessage:    http.StatusBadRequest,
	collab.BadRequest:    http.StatusBadRequest,
	collab.InvalidOp:     http.StatusUnprocessableEntity,
	collab.VersionAhead:  http.StatusConflict,
	collab.Forbidden:     http.StatusForbidden,
	collab.RateLimited:   http.StatusTooManyRequests,
	collab.TooLarge:      http.StatusRequestEntityTooLarge,
	collab.Unavailable:   http.StatusServiceUnavailable,
	collab.Unauthorized:  http.StatusUnauthorized,
	collab.NotFound:      http.StatusNotFound,
	collab.Conflict:      http.StatusConflict,
	collab.Duplicate:     http.StatusConflict,
	collab.Invalid:       http.StatusUnprocessableEntity,
	collab.Internal:      http.StatusInternalServerError,
	codeMethodNotAllowed: http.StatusMethodNotAllowed,
	codeTimeout:          http.StatusGatewayTimeout,
}

// closeCode is the one table from error code to the WebSocket close code
// used when an error ends a live connection.
var closeCode = map[collab.Code]int{
	collab.BadMessage:   collab.ClosePolicy,
	collab.Forbidden:    collab.CloseAccessRevoked,
	collab.NotFound:     collab.CloseDocumentGone,
	collab.RateLimited:  collab.CloseTryAgainLater,
	collab.Unavailable:  collab.CloseTryAgainLater,
	collab.TooLarge:     collab.CloseTooBig,
	collab.Unauthorized: collab.ClosePolicy,
	collab.Internal:     collab.CloseInternal,
}

// StatusOf returns the HTTP status for an error.
func StatusOf(err error) int {
	if s, ok := httpStatus[collab.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// CloseCodeOf returns the WebSocket close code for an error that ends a
// live connection.
func CloseCodeOf(err error) int {
	if c, ok := closeCode[collab.ErrorCode(err)]; ok {
		return c
	}
	return collab.CloseInternal
}

type errorBody struct {
	Error struct {
		Code    collab.Code `json:"code"`
		Message string      `json:"message"`
	} `json:"error"`
}

// writeError answers with the one error shape of the REST API. An error
// without a code is internal: its details go to the log, not the client.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if collab.ErrorCode(err) == collab.Internal && errors.Is(r.Context().Err(), context.DeadlineExceeded) {
		// The request timeout (timeoutRequests) ended what failed: a 504
		// with the error shape, not an internal error.
		log.Warn("request timed out", "method", r.Method, "path", r.URL.Path, "err", err)
		err = errTimeout
	}
	var body errorBody
	body.Error.Code = collab.ErrorCode(err)
	body.Error.Message = collab.UserMessage(err)
	if body.Error.Code == collab.Internal {
		log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(StatusOf(err))
	json.NewEncoder(w).Encode(body)
}

var (
	errNoRoute  = collab.Errorf(collab.NotFound, "no such route")
	errNoMethod = &collab.Error{Code: codeMethodNotAllowed, Message: "method not allowed on this route"}
	errTimeout  = &collab.Error{Code: codeTimeout, Message: "the request took too long and was stopped; try again"}
)

// fromSession maps what a document's session answered to a REST error. A
// session that did not answer before the request's deadline (or before the
// request was cancelled) is unavailable, not an internal error: ask returns
// the bare context error. The edit may still be applied after the answer,
// so the message says to check the version before retrying.
func fromSession(err error) error {
	if collab.ErrorCode(err) == collab.Internal && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		return &collab.Error{Code: collab.Unavailable, Err: err,
			Message: "the document did not answer in time; the edit may still be applied: read the document's version before retrying"}
	}
	return err
}
