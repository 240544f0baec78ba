package servant

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/fae-sidecar/fae/proto/thrift"
	"github.com/fae-sidecar/fae/proto/thrift/fae"
	"github.com/fae-sidecar/fae/upstream/mongo"
)

// Every mg_* call waits on the network: none may run on an event loop.
func TestMongoCallsBlock(t *testing.T) {
	f := New(Parts{})
	for m := thrift.MethodMgFindOne; m <= thrift.MethodMgTransaction; m++ {
		if !f.Blocks(m) {
			t.Errorf("%s runs on the event loop", m)
		}
	}
}

func TestMongoErrors(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want func(error) bool
	}{
		{"miss", fmt.Errorf("x: %w", mongo.ErrNotFound), func(err error) bool {
			var e *fae.TMongoNotFound
			return errors.As(err, &e)
		}},
		{"server error", fmt.Errorf("x: %w", &mongo.ServerError{Code: 11000, Message: "dup"}), func(err error) bool {
			var e *fae.TMongoError
			return errors.As(err, &e) && e.Code == 11000 && e.Message == "dup"
		}},
		{"bad bson", fmt.Errorf("query: %w", mongo.ErrBadBSON), isServantError("query: not a BSON document")},
		{"breaker", fmt.Errorf("mongo p shard 0: %w", mongo.ErrBreakerOpen), isServantError("mongo p shard 0: circuit breaker open")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := mgError(tc.err); !tc.want(got) {
				t.Fatalf("mgError(%v) = %#v", tc.err, got)
			}
		})
	}
	if mgError(nil) != nil {
		t.Fatal("mgError(nil) is not nil")
	}
}

func isServantError(msg string) func(error) bool {
	return func(err error) bool {
		var e *fae.TServantError
		return errors.As(err, &e) && e.Message == msg
	}
}

// A call naming a pool that is not configured fails with TServantError.
func TestMongoUnknownPool(t *testing.T) {
	f := New(Parts{})
	_, err := f.MgFindOne(context.Background(), &fae.Context{}, "nosuch", "t", 0, nil, nil)
	if !isServantError(`mongo pool "nosuch" is not configured (pools with kind: mongo)`)(err) {
		t.Fatalf("unknown pool: %v", err)
	}
	_, err = f.MgTransaction(context.Background(), &fae.Context{}, "nosuch", 0, nil)
	if !isServantError(`mongo pool "nosuch" is not configured (pools with kind: mongo)`)(err) {
		t.Fatalf("unknown pool: %v", err)
	}
}
