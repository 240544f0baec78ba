package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Proc is a process whose use of CPU and syscalls a turn measures: the
// target's own server (named after the target), or another process on the
// request's path (a relay, the backend), named as the report should say.
type Proc struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
}

// ParseProc parses "name=PID".
func ParseProc(s string) (Proc, error) {
	name, pid, ok := strings.Cut(s, "=")
	n, err := strconv.Atoi(pid)
	if !ok || name == "" || err != nil || n <= 0 {
		return Proc{}, fmt.Errorf("pid %q: want name=PID", s)
	}
	return Proc{Name: name, PID: n}, nil
}

// ProcSample is a process's counters at one moment.
type ProcSample struct {
	CPU time.Duration // user + system time so far (to 10ms)
	// Syscr and Syscw count the read and write system calls so far
	// (/proc/PID/io: read, readv, pread; write, writev, pwrite; not
	// recvmsg, sendmsg or epoll).
	Syscr, Syscw uint64
}

// ReadProc samples process pid from /proc/PID/stat and /proc/PID/io
// (which needs the right to ptrace it: the same user, or root).
func ReadProc(pid int) (ProcSample, error) {
	cpu, err := ReadCPU(pid)
	if err != nil {
		return ProcSample{}, err
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		return ProcSample{}, err
	}
	s := ProcSample{CPU: cpu}
	var seen int
	var errs []error
	for line := range bytes.Lines(data) {
		name, value, ok := bytes.Cut(bytes.TrimSpace(line), []byte(": "))
		var p *uint64
		switch string(name) {
		case "syscr":
			p = &s.Syscr
		case "syscw":
			p = &s.Syscw
		}
		if !ok || p == nil {
			continue
		}
		n, err := strconv.ParseUint(string(value), 10, 64)
		errs = append(errs, err)
		*p = n
		seen++
	}
	if err := errors.Join(errs...); err != nil {
		return ProcSample{}, fmt.Errorf("/proc/%d/io: %w", pid, err)
	}
	if seen < 2 {
		return ProcSample{}, fmt.Errorf("/proc/%d/io lacks syscr or syscw", pid)
	}
	return s, nil
}

// ProcUse is what one process used over a turn's measured part, and per
// request of the turn.
type ProcUse struct {
	Proc
	CPUSeconds float64 `json:"cpu_s"`
	Syscr      uint64  `json:"syscr"`
	Syscw      uint64  `json:"syscw"`
	// CPUPerReq is CPU time over the turn's requests, in µs; ReadsPerReq
	// and WritesPerReq its read and write syscalls per request.
	CPUPerReq    float64 `json:"cpu_us_per_req"`
	ReadsPerReq  float64 `json:"reads_per_req"`
	WritesPerReq float64 `json:"writes_per_req"`
}

// procUse is p's use between two samples, over requests.
func procUse(p Proc, before, after ProcSample, requests int64) ProcUse {
	u := ProcUse{Proc: p, CPUSeconds: (after.CPU - before.CPU).Seconds(),
		Syscr: after.Syscr - before.Syscr, Syscw: after.Syscw - before.Syscw}
	if requests > 0 {
		r := float64(requests)
		u.CPUPerReq = u.CPUSeconds * 1e6 / r
		u.ReadsPerReq = float64(u.Syscr) / r
		u.WritesPerReq = float64(u.Syscw) / r
	}
	return u
}

// sampleProcs samples every process of ps.
func sampleProcs(ps []Proc) ([]ProcSample, error) {
	out := make([]ProcSample, len(ps))
	for i, p := range ps {
		s, err := ReadProc(p.PID)
		if err != nil {
			return nil, fmt.Errorf("process %s (pid %d): %w", p.Name, p.PID, err)
		}
		out[i] = s
	}
	return out, nil
}
