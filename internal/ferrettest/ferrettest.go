// Package ferrettest runs FerretDB, a real MongoDB-wire server, inside a
// test process: the embedded FerretDB v1 (github.com/FerretDB/FerretDB/ferretdb)
// with its SQLite backend in a temporary directory, listening on
// 127.0.0.1:0. Only tests import it, so faed's own build does not carry
// FerretDB.
//
// FerretDB has no transactions and no replica sets; a test that needs them
// runs against the server named by FAE_MONGO_URI instead (ReplicaSetURI).
package ferrettest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Server is one running FerretDB.
type Server struct {
	// URI is the server's connection string, mongodb://127.0.0.1:PORT/.
	URI string
	// Addr is its host:port.
	Addr string

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Start runs a FerretDB with its own SQLite directory under tb.TempDir(),
// stopped by tb's cleanup. Its logs go to tb.Log when verbose is set
// (FAE_FERRET_LOG=1), and nowhere otherwise.
func Start(tb testing.TB) *Server {
	tb.Helper()
	dir := tb.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("FAE_FERRET_LOG") != "" {
		log = slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Logger:    log,
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	})
	if err != nil {
		tb.Fatalf("ferrettest: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = f.Run(ctx)
	}()
	// MongoDBURI waits for the listener, which New has bound already.
	s.URI = f.MongoDBURI()
	s.Addr = s.URI[len("mongodb://") : len(s.URI)-1]
	tb.Cleanup(s.Stop)
	return s
}

// Stop stops the server and returns once its listener and every connection
// are closed (FerretDB gives open connections a few seconds to finish).
// It may be called more than once.
func (s *Server) Stop() {
	s.once.Do(s.cancel)
	<-s.done
}

// ReplicaSetURI returns FAE_MONGO_URI, a MongoDB replica set for the tests
// that FerretDB cannot serve (transactions); it skips tb, saying why, when
// the variable is not set.
func ReplicaSetURI(tb testing.TB) string {
	tb.Helper()
	uri := os.Getenv("FAE_MONGO_URI")
	if uri == "" {
		tb.Skip("FAE_MONGO_URI is not set: transactions need a MongoDB replica set, which FerretDB is not; " +
			"set FAE_MONGO_URI=mongodb://HOST:PORT/?replicaSet=NAME to run this test")
	}
	return uri
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(p))
	return len(p), nil
}
