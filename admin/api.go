package admin

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/fae-sidecar/fae/internal/hist"
)

// maxBody bounds a POST's JSON body.
const maxBody = 4 << 10

// writeJSON answers v as indented JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// apiError is every error's body.
type apiError struct {
	Error string `json:"error"`
	// Problems lists each problem of a refused configuration.
	Problems []string `json:"problems,omitempty"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.Source.Serving() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not serving"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "serving"})
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.cfg.Source.Snapshot())
}

// poolSummary is a pool in GET /pools: what it is, not its counters.
type poolSummary struct {
	Name    string     `json:"name"`
	Kind    string     `json:"kind"`
	Mode    string     `json:"mode"`
	Default bool       `json:"default,omitempty"`
	Routes  []string   `json:"routes"`
	Servers []Upstream `json:"servers,omitempty"`
}

func (s *Server) pools(w http.ResponseWriter, r *http.Request) {
	snap := s.cfg.Source.Snapshot()
	out := make([]poolSummary, 0, len(snap.Pools))
	for _, p := range snap.Pools {
		out = append(out, poolSummary{Name: p.Name, Kind: p.Kind, Mode: p.Mode, Default: p.Default, Routes: p.Routes, Servers: p.Servers})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) ring(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("key")
	if key == "" {
		writeError(w, http.StatusBadRequest, "give the key: /ring?key=K")
		return
	}
	o, err := s.cfg.Source.Ring(key)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, o)
}

// readBody decodes a POST's small JSON body into v, answering 400 when it
// cannot.
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "body: "+err.Error())
		return false
	}
	return true
}

func (s *Server) setMode(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Mode string `json:"mode"`
	}
	if !readBody(w, r, &body) {
		return
	}
	name := r.PathValue("name")
	if err := s.cfg.Control.SetMode(name, body.Mode); err != nil {
		status := http.StatusBadRequest
		if errors.As(err, new(ErrNotFound)) {
			status = http.StatusNotFound
		}
		writeError(w, status, err.Error())
		return
	}
	s.cfg.Log.Warn("pool mode set", "pool", name, "mode", body.Mode, "by", "admin API", "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]string{"pool": name, "mode": body.Mode})
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	res, err := s.cfg.Control.Reload(r.Context())
	if err != nil {
		body := apiError{Error: "reload refused, the configuration in force is unchanged: " + firstLine(err.Error())}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				body.Problems = append(body.Problems, e.Error())
			}
		}
		writeJSON(w, http.StatusBadRequest, body)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

type levelBody struct {
	Level string `json:"level"`
}

func (s *Server) logLevel(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, levelBody{Level: strings.ToLower(s.cfg.Level.Level().String())})
}

func (s *Server) setLogLevel(w http.ResponseWriter, r *http.Request) {
	var body levelBody
	if !readBody(w, r, &body) {
		return
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(body.Level)); err != nil {
		writeError(w, http.StatusBadRequest, "level "+body.Level+": use debug, info, warn or error")
		return
	}
	s.cfg.Level.Set(l)
	s.cfg.Log.Warn("log level set", "level", l.String(), "by", "admin API", "remote", r.RemoteAddr)
	s.logLevel(w, r)
}

// latencyJSON is a pool's latency in /stats: quantiles estimated from the
// histogram (as Prometheus's histogram_quantile does), and its buckets,
// cumulative, as in Prometheus.
type latencyJSON struct {
	Count      uint64       `json:"count"`
	SumSeconds float64      `json:"sum_seconds"`
	P50        float64      `json:"p50_seconds"`
	P90        float64      `json:"p90_seconds"`
	P99        float64      `json:"p99_seconds"`
	Buckets    []bucketJSON `json:"buckets"`
}

type bucketJSON struct {
	// LE is the bucket's upper bound in seconds; 0 for the last, unbounded one.
	LE    float64 `json:"le"`
	Count uint64  `json:"count"`
}

// MarshalJSON writes p with its latency, when it has one.
func (p Pool) MarshalJSON() ([]byte, error) {
	type plain Pool // without this method
	out := struct {
		plain
		Latency *latencyJSON `json:"latency,omitempty"`
	}{plain: plain(p)}
	if h := p.Latency; h != nil {
		l := &latencyJSON{Count: h.Count(), SumSeconds: h.Sum.Seconds(),
			P50: h.Quantile(0.5).Seconds(), P90: h.Quantile(0.9).Seconds(), P99: h.Quantile(0.99).Seconds()}
		var cum uint64
		for i, c := range h.Counts {
			cum += c
			l.Buckets = append(l.Buckets, bucketJSON{LE: hist.Bound(i).Seconds(), Count: cum})
		}
		out.Latency = l
	}
	return json.Marshal(out)
}
