package server

import (
	"context"
	"fmt"
	"log/slog"
)

// gnetLogger routes gnet's own log lines into faed's slog logger, one level
// down for its chatty start-up lines.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) log(lvl slog.Level, format string, args ...any) {
	if g.l.Enabled(context.Background(), lvl) {
		g.l.Log(context.Background(), lvl, fmt.Sprintf(format, args...), "component", "gnet")
	}
}

func (g gnetLogger) Debugf(format string, args ...any) { g.log(slog.LevelDebug, format, args...) }
func (g gnetLogger) Infof(format string, args ...any)  { g.log(slog.LevelDebug, format, args...) }
func (g gnetLogger) Warnf(format string, args ...any)  { g.log(slog.LevelWarn, format, args...) }
func (g gnetLogger) Errorf(format string, args ...any) { g.log(slog.LevelError, format, args...) }
func (g gnetLogger) Fatalf(format string, args ...any) { g.log(slog.LevelError, format, args...) }
