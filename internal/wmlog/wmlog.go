// Package wmlog lets watermill log through zerolog, so its lines carry the same JSON shape and
// fields as the rest of the server's.
package wmlog

import (
	"github.com/ThreeDotsLabs/watermill"
	"github.com/rs/zerolog"
)

type adapter struct {
	l      zerolog.Logger
	fields watermill.LogFields
}

// New wraps l. Watermill's Info level is chatty (every subscriber start and stop), so it is
// logged at debug; errors stay errors.
func New(l zerolog.Logger) watermill.LoggerAdapter {
	return adapter{l: l.With().Str("component", "watermill").Logger()}
}

func (a adapter) event(e *zerolog.Event, fields watermill.LogFields) *zerolog.Event {
	for k, v := range a.fields {
		e = e.Interface(k, v)
	}
	for k, v := range fields {
		e = e.Interface(k, v)
	}
	return e
}

func (a adapter) Error(msg string, err error, fields watermill.LogFields) {
	a.event(a.l.Error().Err(err), fields).Msg(msg)
}
func (a adapter) Info(msg string, fields watermill.LogFields)  { a.event(a.l.Debug(), fields).Msg(msg) }
func (a adapter) Debug(msg string, fields watermill.LogFields) { a.event(a.l.Trace(), fields).Msg(msg) }
func (a adapter) Trace(msg string, fields watermill.LogFields) { a.event(a.l.Trace(), fields).Msg(msg) }
func (a adapter) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return adapter{l: a.l, fields: a.fields.Add(fields)}
}
