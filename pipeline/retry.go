package pipeline

import (
	"context"
	"errors"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/llm"
)

// Retryable reports whether err is worth another attempt:
//
//   - an error in the chain with a Retryable() bool method decides for itself (see Retry and
//     Permanent, and OpenError, the breaker's refusal, which is retryable);
//   - a model provider's *llm.Error is retryable when it is rate_limited, unavailable or a
//     timeout, and not for a missing or refused key or a bad request;
//   - a *domain.Error is retryable for CodeUnavailable and CodeTimeout;
//   - a deadline exceeded (the attempt's own timeout) is retryable; a cancellation is not;
//   - anything else is not: an unknown error is assumed to be the node's own fault, and
//     repeating it would only repeat it.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var r interface{ Retryable() bool }
	if errors.As(err, &r) {
		return r.Retryable()
	}
	var le *llm.Error
	if errors.As(err, &le) {
		switch le.Kind {
		case llm.ErrRateLimited, llm.ErrUnavailable, llm.ErrTimeout:
			return true
		}
		return false
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return de.Code == domain.CodeUnavailable || de.Code == domain.CodeTimeout
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	return errors.Is(err, context.DeadlineExceeded)
}

type classified struct {
	error
	retryable bool
}

func (c classified) Retryable() bool { return c.retryable }
func (c classified) Unwrap() error   { return c.error }

// Retry marks err as retryable (nil stays nil).
func Retry(err error) error {
	if err == nil {
		return nil
	}
	return classified{err, true}
}

// Permanent marks err as not retryable, whatever it wraps (nil stays nil).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return classified{err, false}
}
