package main_test

// The differential test: one script of memcached text-protocol steps
// (testdata/diff/script.txt, whose header documents the format) is played
// against a real memcached, which is the reference, and against each target;
// every step's replies must be byte-identical after the normalization
// described in the script header (VERSION text, STAT lines, cas uniques).
//
// Extra flags: -diff.dump FILE writes the reference's replies to every step,
// for writing and debugging the script; -diff.skip LINE,LINE leaves out the
// steps starting at those script lines (e.g. one that crashes a target, to
// see what else differs).

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
)

// TestMain removes the faed binary that testproc.BuildFaed built.
func TestMain(m *testing.M) { testproc.Main(m) }

var (
	diffDump = flag.String("diff.dump", "", "write memcached's reply to every step of the diff script to this `file`")
	diffSkip = flag.String("diff.skip", "", "comma-separated script `lines` of steps to leave out (to look past a crash while debugging)")
)

const (
	scriptPath  = "testdata/diff/script.txt"
	stepTimeout = 20 * time.Second // guards against a hang; never a pass criterion
	waitTimeout = 30 * time.Second // bound of the wait-* polls
	maxReported = 10               // mismatching steps reported per target
)

// TestDiff plays the script against a reference memcached and against each
// target, each on a fresh process, and compares the replies step by step.
func TestDiff(t *testing.T) {
	sc, err := parseScriptFile(scriptPath)
	if err != nil {
		t.Fatal(err)
	}
	if *diffSkip != "" {
		sc = skipSteps(t, sc, *diffSkip)
	}
	t.Logf("%s: %d steps", scriptPath, len(sc.steps))

	ref := playScript(t, sc, testproc.StartMemcached(t))
	for _, r := range ref {
		if r.abnormal != "" {
			t.Errorf("script bug: reference memcached: step %q (%s:%d): %s; got %s",
				r.step.name, scriptPath, r.step.line, r.abnormal, quote(r.raw, 400))
		}
	}
	if *diffDump != "" {
		if err := os.WriteFile(*diffDump, dumpResults(ref), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Two fresh memcached processes must agree: this proves the script and
	// the runner deterministic, so a mismatch below is the target's.
	for _, tg := range serverTargets("memcached-vs-memcached") {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			got := playScript(t, sc, tg.start(t))
			compareResults(t, ref, got)
		})
	}
}

func skipSteps(t *testing.T, sc *script, lines string) *script {
	skip := map[int]bool{}
	for _, l := range strings.Split(lines, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(l))
		if err != nil {
			t.Fatalf("-diff.skip: %v", err)
		}
		skip[n] = true
	}
	out := &script{}
	for _, st := range sc.steps {
		if skip[st.line] {
			t.Logf("-diff.skip: leaving out step %q (line %d)", st.name, st.line)
			continue
		}
		out.steps = append(out.steps, st)
	}
	return out
}

// TestDiffScriptParses checks the script format parser on the script itself
// and on small inputs, so a broken script fails with a line number.
func TestDiffScriptParses(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		wantErr   string
	}{
		{"ok", "=== a\n> get a\n---\n>> x\\r\\n\n< END\neof\n", ""},
		{"send outside step", "> get a\n", "before the first step"},
		{"trailing space", "=== a\n> get a \n", "trailing white space"},
		{"empty step", "=== a\n=== b\n> get b\n", "sends nothing"},
		{"bad directive", "=== a\nfoo\n", "unknown line"},
		{"drop needs expect", "=== a\n> get a\ndrop\n", "drop needs"},
		{"wait alone", "=== a\n> get a\nwait-gone a\n", "alone"},
		{"bad repeat", "=== a\n>*x get a\n", "repeat"},
		{"bad escape", "=== a\n> \\q\n", "escape"},
		{"bad placeholder", "=== a\n> ${nope}\n", "placeholder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseScript(strings.NewReader(tc.src))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	if _, err := parseScriptFile(scriptPath); err != nil {
		t.Fatal(err)
	}
}

// TestDiffNormalize checks the reply normalization.
func TestDiffNormalize(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"version", "VERSION 1.6.18\r\n", "VERSION <masked>\r\n"},
		{"stats", "STAT pid 1\r\nSTAT uptime 2\r\nEND\r\n", "STAT <masked>\r\nEND\r\n"},
		{"cas ordinals", "VALUE a 0 1 77\r\nx\r\nVALUE b 0 1 5\r\ny\r\nVALUE a 0 1 77\r\nx\r\nEND\r\n",
			"VALUE a 0 1 #1\r\nx\r\nVALUE b 0 1 #2\r\ny\r\nVALUE a 0 1 #1\r\nx\r\nEND\r\n"},
		{"data is not parsed", "VALUE a 0 16\r\nVERSION x\r\nSTAT y\r\nEND\r\n", "VALUE a 0 16\r\nVERSION x\r\nSTAT y\r\nEND\r\n"},
		{"partial", "VALUE a 0 10\r\nabc", "VALUE a 0 10\r\nabc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNormalizer()
			if got := string(n.normalize([]byte(tc.in))); got != tc.want {
				t.Fatalf("normalize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// ---- script model and parser ----

type stepKind int

const (
	kindSend         stepKind = iota
	kindWaitGone              // wait-gone KEY
	kindWaitStorable          // wait-storable KEY
)

type step struct {
	name   string
	line   int
	kind   stepKind
	writes []string // unexpanded text of each write, escapes and placeholders intact
	expect *string  // unexpanded expected reply, if the script gave one
	eof    bool     // the server closes the connection after the writes
	drop   bool     // read len(expect) bytes, then drop the connection
	key    string   // of the wait-* kinds
}

type script struct{ steps []*step }

func parseScriptFile(path string) (*script, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc, err := parseScript(f)
	if err != nil {
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	return sc, nil
}

var repeatRe = regexp.MustCompile(`%(0\d+)?d`)

func parseScript(r io.Reader) (*script, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	sc := &script{}
	var cur *step
	var curWrite *strings.Builder
	flushWrite := func() {
		if curWrite != nil && curWrite.Len() > 0 {
			cur.writes = append(cur.writes, curWrite.String())
		}
		curWrite = nil
	}
	finish := func() error {
		if cur == nil {
			return nil
		}
		flushWrite()
		if cur.kind == kindSend && len(cur.writes) == 0 {
			return fmt.Errorf("%d: step %q sends nothing", cur.line, cur.name)
		}
		if cur.drop && cur.expect == nil {
			return fmt.Errorf("%d: step %q: drop needs an expected reply (< lines)", cur.line, cur.name)
		}
		if cur.drop && cur.eof {
			return fmt.Errorf("%d: step %q: drop and eof exclude each other", cur.line, cur.name)
		}
		return nil
	}
	addExpect := func(s string) {
		if cur.expect == nil {
			cur.expect = new(string)
		}
		*cur.expect += s
	}
	for i, ln := range strings.Split(string(src), "\n") {
		n := i + 1
		if ln == "" || strings.HasPrefix(ln, "#") {
			continue
		}
		if strings.TrimRight(ln, " \t\r") != ln {
			return nil, fmt.Errorf("%d: trailing white space (write a trailing space as \\s)", n)
		}
		if name, ok := strings.CutPrefix(ln, "=== "); ok {
			if err := finish(); err != nil {
				return nil, err
			}
			cur = &step{name: name, line: n}
			sc.steps = append(sc.steps, cur)
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("%d: line before the first step (=== NAME)", n)
		}
		waitErr := func() error {
			if cur.kind != kindSend || len(cur.writes) > 0 || curWrite != nil || cur.expect != nil || cur.eof || cur.drop {
				return fmt.Errorf("%d: a wait directive must be alone in its step", n)
			}
			return nil
		}
		sendErr := func() error {
			if cur.kind != kindSend {
				return fmt.Errorf("%d: a wait directive must be alone in its step", n)
			}
			return nil
		}
		appendText := func(s string) error {
			if err := checkText(s); err != nil {
				return fmt.Errorf("%d: %w", n, err)
			}
			if curWrite == nil {
				curWrite = new(strings.Builder)
			}
			curWrite.WriteString(s)
			return nil
		}
		var err error
		switch {
		case ln == "---":
			flushWrite()
		case ln == "eof":
			cur.eof = true
		case ln == "drop":
			cur.drop = true
		case strings.HasPrefix(ln, "wait-gone "), strings.HasPrefix(ln, "wait-storable "):
			if err := waitErr(); err != nil {
				return nil, err
			}
			verb, key, _ := strings.Cut(ln, " ")
			cur.kind, cur.key = kindWaitGone, key
			if verb == "wait-storable" {
				cur.kind = kindWaitStorable
			}
		case strings.HasPrefix(ln, ">*"):
			countStr, text, _ := strings.Cut(ln[2:], " ")
			count, cerr := strconv.Atoi(countStr)
			if cerr != nil || count <= 0 {
				return nil, fmt.Errorf("%d: bad repeat count %q", n, countStr)
			}
			if err = sendErr(); err != nil {
				break
			}
			for i := range count {
				line := repeatRe.ReplaceAllStringFunc(text, func(m string) string { return fmt.Sprintf(m, i) })
				if err = appendText(line + `\r\n`); err != nil {
					break
				}
			}
		case ln == ">>" || strings.HasPrefix(ln, ">> "):
			if err = sendErr(); err == nil {
				err = appendText(strings.TrimPrefix(ln[2:], " "))
			}
		case ln == ">" || strings.HasPrefix(ln, "> "):
			if err = sendErr(); err == nil {
				err = appendText(strings.TrimPrefix(ln[1:], " ") + `\r\n`)
			}
		case ln == "<<" || strings.HasPrefix(ln, "<< "):
			if err = checkText(ln[2:]); err == nil {
				addExpect(strings.TrimPrefix(ln[2:], " "))
			}
		case ln == "<" || strings.HasPrefix(ln, "< "):
			if err = checkText(ln[1:]); err == nil {
				addExpect(strings.TrimPrefix(ln[1:], " ") + `\r\n`)
			}
		default:
			return nil, fmt.Errorf("%d: unknown line %q", n, ln)
		}
		if err != nil {
			return nil, fmt.Errorf("%d: %w", n, err)
		}
	}
	if err := finish(); err != nil {
		return nil, err
	}
	if len(sc.steps) == 0 {
		return nil, errors.New("no steps")
	}
	return sc, nil
}

// checkText validates escapes and placeholders without expanding them.
func checkText(s string) error {
	_, err := expand(s, &env{check: true})
	return err
}

// env is what placeholders expand from during one play of the script.
type env struct {
	check bool              // only validate: dynamic placeholders expand to "0"
	cas   map[string]string // key -> cas unique of its latest gets/gats reply
	now   func() int64
}

// expand decodes escapes and placeholders of script text into bytes.
func expand(s string, e *env) ([]byte, error) {
	var out []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("escape at end of line")
			}
			i++
			switch s[i] {
			case 'r':
				out = append(out, '\r')
			case 'n':
				out = append(out, '\n')
			case 't':
				out = append(out, '\t')
			case '0':
				out = append(out, 0)
			case 's':
				out = append(out, ' ')
			case '\\', '$':
				out = append(out, s[i])
			case 'x':
				if i+2 >= len(s) {
					return nil, errors.New("short \\x escape")
				}
				b, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
				if err != nil {
					return nil, fmt.Errorf("bad \\x escape %q", s[i-1:i+3])
				}
				out = append(out, byte(b))
				i += 2
			default:
				return nil, fmt.Errorf("unknown escape \\%c", s[i])
			}
		case c == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, errors.New("unterminated placeholder")
			}
			v, err := placeholder(s[i+2:i+end], e)
			if err != nil {
				return nil, err
			}
			out = append(out, v...)
			i += end
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

func placeholder(p string, e *env) ([]byte, error) {
	name, arg, _ := strings.Cut(p, ":")
	switch {
	case name == "cas":
		if e.check {
			return []byte("0"), nil
		}
		v, ok := e.cas[arg]
		if !ok {
			return nil, fmt.Errorf("${cas:%s}: no gets/gats reply for %q seen yet", arg, arg)
		}
		return []byte(v), nil
	case strings.HasPrefix(p, "now"):
		d := int64(0)
		if rest := p[3:]; rest != "" {
			var err error
			if d, err = strconv.ParseInt(rest, 10, 64); err != nil {
				return nil, fmt.Errorf("bad placeholder ${%s}", p)
			}
		}
		if e.check {
			return []byte("0"), nil
		}
		return strconv.AppendInt(nil, e.now()+d, 10), nil
	case name == "fill":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad placeholder ${%s}", p)
		}
		return fill(n), nil
	case name == "keys":
		countStr, format, ok := strings.Cut(arg, ":")
		n, err := strconv.Atoi(countStr)
		if !ok || err != nil || n <= 0 || !repeatRe.MatchString(format) {
			return nil, fmt.Errorf("bad placeholder ${%s} (want ${keys:N:FORMAT-with-%%d})", p)
		}
		var b []byte
		for i := range n {
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, repeatRe.ReplaceAllStringFunc(format, func(m string) string { return fmt.Sprintf(m, i) })...)
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown placeholder ${%s}", p)
}

// fill returns n bytes of a fixed pattern: "abcdefghijklmnopqrstuvwxyz"
// repeated, with a newline-free, space-free alphabet.
func fill(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// ---- playing the script ----

// result is what one target answered to one step.
type result struct {
	step     *step
	sent     []byte // the bytes written, all writes concatenated
	raw      []byte // the reply as read, without the sentinel's reply
	norm     []byte // raw, normalized
	abnormal string // why reading ended early (EOF, timeout), or a runner error
	// unreachable: the target refused a new connection (it crashed or
	// exited); this and later steps were not played.
	unreachable bool
}

// player plays a script on one target.
type player struct {
	t    testing.TB
	addr string
	conn net.Conn
	env  env
	norm *normalizer
}

func playScript(t testing.TB, sc *script, addr string) []result {
	t.Helper()
	p := &player{t: t, addr: addr, norm: newNormalizer(),
		env: env{cas: map[string]string{}, now: func() int64 { return time.Now().Unix() }}}
	defer p.hangUp()
	res := make([]result, 0, len(sc.steps))
	for i, st := range sc.steps {
		r := p.play(i, st)
		r.norm = p.norm.normalize(r.raw)
		res = append(res, r)
		if r.unreachable {
			// The target is gone (crashed?): the steps left are not played.
			for _, st := range sc.steps[i+1:] {
				res = append(res, result{step: st, unreachable: true, abnormal: "not played: target unreachable"})
			}
			break
		}
	}
	return res
}

func (p *player) dial() error {
	if p.conn != nil {
		return nil
	}
	c, err := net.DialTimeout("tcp", p.addr, stepTimeout)
	if err != nil {
		return err
	}
	p.conn = c
	return nil
}

func (p *player) hangUp() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}

func (p *player) play(i int, st *step) (r result) {
	r.step = st
	if err := p.dial(); err != nil {
		r.abnormal = "dial: " + err.Error()
		r.unreachable = true
		return r
	}
	switch st.kind {
	case kindWaitGone, kindWaitStorable:
		if err := p.wait(st); err != nil {
			r.abnormal = err.Error()
			p.hangUp()
		}
		return r
	}
	var writes [][]byte
	for _, w := range st.writes {
		b, err := expand(w, &p.env)
		if err != nil {
			r.abnormal = "script: " + err.Error()
			return r
		}
		writes = append(writes, b)
		r.sent = append(r.sent, b...)
	}
	var want []byte
	if st.expect != nil {
		var err error
		if want, err = expand(*st.expect, &p.env); err != nil {
			r.abnormal = "script: " + err.Error()
			return r
		}
	}
	sentinelKey := fmt.Sprintf("__sentinel_%d", i)
	sentinel := []byte("set " + sentinelKey + " 0 0 2\r\nok\r\nget " + sentinelKey + "\r\n")
	sentinelReply := []byte("STORED\r\nVALUE " + sentinelKey + " 0 2\r\nok\r\nEND\r\n")
	if !st.eof && !st.drop {
		writes = append(writes, sentinel)
	}

	// Read concurrently with writing: a server may answer (or close)
	// before it has read everything, and a big pipelined write must not
	// deadlock against unread replies.
	p.conn.SetDeadline(time.Now().Add(stepTimeout))
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, w := range writes {
			if _, werr = p.conn.Write(w); werr != nil {
				return
			}
		}
	}()
	buf := make([]byte, 0, 4096)
	var rerr error
	for {
		if st.drop && len(buf) >= len(want) {
			break
		}
		if !st.eof && !st.drop && bytes.HasSuffix(buf, sentinelReply) {
			buf = buf[:len(buf)-len(sentinelReply)]
			break
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		var n int
		n, rerr = p.conn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if rerr != nil {
			break
		}
	}
	if rerr != nil {
		// Unblock a writer stuck on a full socket buffer.
		p.conn.SetDeadline(time.Now())
	}
	wg.Wait()
	r.raw = buf
	switch {
	case st.eof && (errors.Is(rerr, io.EOF) || isReset(rerr)):
		p.hangUp() // expected
	case st.eof && rerr == nil:
		r.abnormal = "runner: read ended without error" // cannot happen
	case errors.Is(rerr, io.EOF), isReset(rerr):
		r.abnormal = "connection closed by the server before the sentinel reply"
		p.hangUp()
	case rerr != nil:
		r.abnormal = fmt.Sprintf("no complete reply within %v (%v)", stepTimeout, rerr)
		if st.eof {
			r.abnormal = fmt.Sprintf("connection not closed within %v (%v)", stepTimeout, rerr)
		}
		p.hangUp()
	case st.drop:
		p.hangUp()
	default:
		p.conn.SetDeadline(time.Time{})
	}
	if werr != nil && r.abnormal == "" && !st.eof {
		r.abnormal = "write: " + werr.Error()
	}
	if r.abnormal != "" {
		r.raw = append(r.raw, fmt.Sprintf("\n<<%s>>", r.abnormal)...)
	}
	if st.expect != nil && r.abnormal == "" {
		if got := newNormalizer().normalize(buf); !bytes.Equal(got, want) {
			r.abnormal = "reply differs from the script's expected reply (< lines): want " + quote(want, 600)
		}
	}
	p.captureCas(buf)
	return r
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}

// captureCas records the cas unique of every gets/gats VALUE line.
func (p *player) captureCas(reply []byte) {
	walkReply(reply, func(kind lineKind, line []byte) {
		if kind != lineValue {
			return
		}
		f := strings.Fields(string(line))
		if len(f) == 5 {
			p.env.cas[f[1]] = f[4]
		}
	})
}

// wait polls until the condition of a wait-* step holds.
func (p *player) wait(st *step) error {
	deadline := time.Now().Add(waitTimeout)
	var last []byte
	for time.Now().Before(deadline) {
		var req, hit string
		switch st.kind {
		case kindWaitGone:
			req = "get " + st.key + "\r\n"
		case kindWaitStorable:
			req = "set " + st.key + " 0 0 1\r\nx\r\nget " + st.key + "\r\n"
			hit = "STORED\r\nVALUE " + st.key + " 0 1\r\nx\r\nEND\r\n"
		}
		reply, err := p.roundTrip(req)
		if err != nil {
			return fmt.Errorf("%s %s: %v", kindName(st.kind), st.key, err)
		}
		last = reply
		switch {
		case st.kind == kindWaitGone && string(reply) == "END\r\n":
			return nil
		case st.kind == kindWaitStorable && string(reply) == hit:
			_, err := p.roundTrip("delete " + st.key + "\r\n")
			return err
		}
		// A poll interval, not a wait for a condition: the condition is
		// re-checked until the deadline.
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s %s: condition not reached within %v; last reply %s", kindName(st.kind), st.key, waitTimeout, quote(last, 300))
}

func kindName(k stepKind) string {
	if k == kindWaitGone {
		return "wait-gone"
	}
	return "wait-storable"
}

// roundTrip sends req and reads replies until they end with END, DELETED or
// NOT_FOUND at a reply boundary.
func (p *player) roundTrip(req string) ([]byte, error) {
	p.conn.SetDeadline(time.Now().Add(stepTimeout))
	defer p.conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(p.conn, req); err != nil {
		return nil, err
	}
	var buf []byte
	tmp := make([]byte, 4096)
	for {
		n, err := p.conn.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if complete, ok := replyComplete(buf); ok && complete {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// replyComplete reports whether buf ends at the end of a get, delete or
// error reply.
func replyComplete(buf []byte) (complete, ok bool) {
	var lastKind lineKind = -1
	var lastLine []byte
	rest := walkReply(buf, func(kind lineKind, line []byte) { lastKind, lastLine = kind, line })
	if len(rest) > 0 || lastKind != lineOther {
		return false, true
	}
	s := string(lastLine)
	return s == "END" || s == "DELETED" || s == "NOT_FOUND" || strings.HasSuffix(s, "ERROR") ||
		strings.HasPrefix(s, "CLIENT_ERROR") || strings.HasPrefix(s, "SERVER_ERROR"), true
}

// ---- normalizing and comparing ----

type lineKind int

const (
	lineOther lineKind = iota
	lineValue          // a VALUE line; its data block follows and is not reported
	lineData           // the data block of the VALUE line before, with its \r\n
)

// walkReply splits a reply stream into lines (without "\r\n") and data
// blocks and calls f for each; it returns the incomplete tail it could not
// split.
func walkReply(b []byte, f func(kind lineKind, line []byte)) []byte {
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			return b
		}
		line := b[:i]
		if n, ok := valueLen(line); ok {
			if len(b) < i+2+n+2 {
				return b
			}
			f(lineValue, line)
			f(lineData, b[i+2:i+2+n+2])
			b = b[i+2+n+2:]
			continue
		}
		f(lineOther, line)
		b = b[i+2:]
	}
	return nil
}

// valueLen parses "VALUE key flags bytes [cas]" and returns bytes.
func valueLen(line []byte) (int, bool) {
	if !bytes.HasPrefix(line, []byte("VALUE ")) {
		return 0, false
	}
	f := bytes.Split(line, []byte(" "))
	if len(f) != 4 && len(f) != 5 {
		return 0, false
	}
	n, err := strconv.Atoi(string(f[3]))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// normalizer masks what legitimately differs between servers; it keeps the
// cas ordinals of one stream (one play of the script).
type normalizer struct{ cas map[string]int }

func newNormalizer() *normalizer { return &normalizer{cas: map[string]int{}} }

func (n *normalizer) normalize(b []byte) []byte {
	var out []byte
	inStats := false
	rest := walkReply(b, func(kind lineKind, line []byte) {
		if kind == lineOther && bytes.HasPrefix(line, []byte("STAT ")) {
			if !inStats {
				out = append(out, "STAT <masked>\r\n"...)
			}
			inStats = true
			return
		}
		inStats = false
		switch {
		case kind == lineData:
			out = append(out, line...)
			return
		case kind == lineOther && bytes.HasPrefix(line, []byte("VERSION ")):
			out = append(out, "VERSION <masked>"...)
		case kind == lineValue:
			f := bytes.Split(line, []byte(" "))
			if len(f) == 5 {
				ord, ok := n.cas[string(f[4])]
				if !ok {
					ord = len(n.cas) + 1
					n.cas[string(f[4])] = ord
				}
				f[4] = []byte("#" + strconv.Itoa(ord))
			}
			out = append(out, bytes.Join(f, []byte(" "))...)
		default:
			out = append(out, line...)
		}
		out = append(out, '\r', '\n')
	})
	return append(out, rest...)
}

func compareResults(t *testing.T, ref, got []result) {
	t.Helper()
	reported := 0
	for i := range ref {
		w, g := ref[i], got[i]
		if bytes.Equal(w.norm, g.norm) && g.abnormal == "" {
			continue
		}
		if g.unreachable {
			t.Errorf("step %d %q (%s:%d) and all later steps not played: the target no longer accepts connections (%s); see the step before and the target's output",
				i, w.step.name, scriptPath, w.step.line, g.abnormal)
			return
		}
		reported++
		if reported > maxReported {
			t.Errorf("more mismatching steps not shown (limit %d)", maxReported)
			return
		}
		msg := fmt.Sprintf("step %d %q (%s:%d) differs", i, w.step.name, scriptPath, w.step.line)
		if g.abnormal != "" {
			msg += " (" + g.abnormal + ")"
		}
		msg += "\n  sent:     " + quote(g.sent, 600)
		msg += "\n" + showDiff(w.norm, g.norm)
		t.Error(msg)
	}
}

// showDiff shows want and got (normalized), cut around the first
// difference when they are long.
func showDiff(want, got []byte) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	const ctx = 300
	from := max(0, i-ctx)
	cut := func(b []byte) string {
		to := min(len(b), i+ctx)
		if from == 0 && to == len(b) {
			return strconv.Quote(string(b))
		}
		return fmt.Sprintf("%s[%d:%d] of %d bytes", strconv.Quote(string(b[min(from, len(b)):to])), min(from, len(b)), to, len(b))
	}
	return fmt.Sprintf("  expected: %s\n  got:      %s\n  first difference at byte %d", cut(want), cut(got), i)
}

// quote renders b as a Go string, cut to about limit bytes.
func quote(b []byte, limit int) string {
	if len(b) <= limit {
		return strconv.Quote(string(b))
	}
	return fmt.Sprintf("%s...(%d bytes)", strconv.Quote(string(b[:limit])), len(b))
}

func dumpResults(rs []result) []byte {
	var b bytes.Buffer
	for i, r := range rs {
		fmt.Fprintf(&b, "=== %d %s (line %d)\n  sent: %s\n  got:  %s\n", i, r.step.name, r.step.line, quote(r.sent, 400), quote(r.norm, 1000))
		if r.abnormal != "" {
			fmt.Fprintf(&b, "  ABNORMAL: %s\n", r.abnormal)
		}
	}
	return b.Bytes()
}
