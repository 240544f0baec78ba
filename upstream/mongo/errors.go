package mongo

import (
	"context"
	"errors"
	"fmt"

	driver "go.mongodb.org/mongo-driver/v2/mongo"
)

var (
	// ErrNotFound is returned when no document matches a read, or a
	// find-and-modify.
	ErrNotFound = errors.New("no document matches")
	// ErrBadBSON is returned when a query, projection, change, id or
	// document is not one whole BSON document.
	ErrBadBSON = errors.New("not a BSON document")
	// ErrBadArgument is returned for a negative shard id, a negative limit
	// or skip, an empty sort field or an unknown transaction op.
	ErrBadArgument = errors.New("bad argument")
	// ErrLimit is returned when a shard has MaxConns calls in flight.
	ErrLimit = errors.New("too many calls in flight (max_conns)")
	// ErrBreakerOpen is returned while a shard's circuit breaker is open.
	ErrBreakerOpen = errors.New("circuit breaker open")
	// ErrTimeout is returned when a call had no answer within Timeout.
	ErrTimeout = errors.New("timeout")
	// ErrTooLarge is returned when FindAll's documents exceed
	// MaxResultBytes.
	ErrTooLarge = errors.New("result too large")
	// ErrClosed is returned by calls on a closed pool.
	ErrClosed = errors.New("pool closed")
)

// ServerError is an error the MongoDB server answered, with its code.
type ServerError struct {
	Code    int32
	Message string
}

func (e *ServerError) Error() string { return fmt.Sprintf("mongo error %d: %s", e.Code, e.Message) }

// serverError returns the server's answer in err, if err is one.
func serverError(err error) *ServerError {
	if driver.IsNetworkError(err) || driver.IsTimeout(err) {
		return nil
	}
	var ce driver.CommandError
	if errors.As(err, &ce) && ce.Code != 0 {
		return &ServerError{Code: ce.Code, Message: ce.Message}
	}
	var we driver.WriteException
	if errors.As(err, &we) {
		if len(we.WriteErrors) > 0 {
			return &ServerError{Code: int32(we.WriteErrors[0].Code), Message: we.WriteErrors[0].Message}
		}
		if wce := we.WriteConcernError; wce != nil {
			return &ServerError{Code: int32(wce.Code), Message: wce.Message}
		}
	}
	var bwe driver.BulkWriteException
	if errors.As(err, &bwe) {
		if len(bwe.WriteErrors) > 0 {
			return &ServerError{Code: int32(bwe.WriteErrors[0].Code), Message: bwe.WriteErrors[0].Message}
		}
		if wce := bwe.WriteConcernError; wce != nil {
			return &ServerError{Code: int32(wce.Code), Message: wce.Message}
		}
	}
	return nil
}

// outcome sorts a driver's error: what the caller gets, and whether the
// call failed without an answer from the server (what breakers count).
func outcome(err error) (_ error, failed bool) {
	switch {
	case err == nil:
		return nil, false
	case errors.Is(err, driver.ErrNoDocuments):
		return ErrNotFound, false
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrTooLarge):
		return err, false
	}
	if se := serverError(err); se != nil {
		return se, false
	}
	if driver.IsTimeout(err) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", ErrTimeout, err), true
	}
	return err, true
}
