// Package domain holds GatheRing's aggregates, their events and their rules. It is pure Go: no
// database, HTTP or messaging import belongs here, so every decision can be tested in isolation
// and replayed from the log without side effects.
package domain

import (
	"errors"
	"fmt"
	"strings"
)

// Code classifies an error for callers. Only the HTTP and WebSocket layers translate codes into
// status codes; everything below them speaks codes.
type Code string

const (
	CodeInvalid         Code = "invalid"          // the input breaks a rule; nothing was changed
	CodeNotFound        Code = "not_found"        // no such aggregate (or it was deleted)
	CodeConflict        Code = "conflict"         // the request contradicts the current state
	CodeVersionConflict Code = "version_conflict" // the caller's expected version is stale
	CodeUnauthorized    Code = "unauthorized"
	CodeForbidden       Code = "forbidden"
	CodeUnavailable     Code = "unavailable" // starting, draining, or a dependency is down
	CodeTimeout         Code = "timeout"
	CodeUpstream        Code = "upstream" // a model provider failed or refused
	CodeInternal        Code = "internal"
)

// FieldError names one input field at fault and why.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the one application error type. Message is safe to show to a client.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	Err     error // the underlying cause, never shown to clients
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Code))
	b.WriteString(": ")
	b.WriteString(e.Message)
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an application error with a client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, or CodeInternal for anything that is not an *Error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the client-safe message of err; internal details are never exposed.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// Validation collects every field error of one input, so a client learns all of them at once.
type Validation struct{ fields []FieldError }

func (v *Validation) Add(field, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *Validation) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	msg := v.fields[0].Field + ": " + v.fields[0].Message
	if len(v.fields) > 1 {
		msg = fmt.Sprintf("%s (and %d more)", msg, len(v.fields)-1)
	}
	return &Error{Code: CodeInvalid, Message: msg, Fields: v.fields}
}
