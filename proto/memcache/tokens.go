package memcache

// maxTokens is memcached's MAX_TOKENS. Its tokenizer splits at most
// maxTokens-1 tokens off a line; what follows stays unsplit in the terminal
// token. Token-count checks (WANT_TOKENS) therefore never see more than
// maxTokens-1 tokens, and only multi-gets go on to split the rest.
const maxTokens = 24

// tokens is one pass of memcached's tokenize_command over a command line.
// Only ' ' separates tokens: tabs and other control bytes are part of them.
type tokens struct {
	tok [maxTokens - 1][]byte
	n   int
	// rest is what follows the last token when the split stopped at
	// maxTokens-1 tokens with more bytes on the line; nil otherwise.
	rest []byte
}

func (t *tokens) split(line []byte) {
	t.n, t.rest = 0, nil
	s := 0
	for i := 0; i < len(line); i++ {
		if line[i] != ' ' {
			continue
		}
		if s != i {
			t.tok[t.n] = line[s:i:i]
			t.n++
			if t.n == len(t.tok) {
				if i+1 < len(line) {
					t.rest = line[i+1:]
				}
				return
			}
		}
		s = i + 1
	}
	if s < len(line) {
		t.tok[t.n] = line[s:len(line):len(line)]
		t.n++
	}
}

// last returns the last token split, the one memcached's set_noreply_maybe
// and HTTP check look at (tokens[ntokens-2]).
func (t *tokens) last() []byte { return t.tok[t.n-1] }

// nextToken returns the first space-separated token of b and what follows it.
func nextToken(b []byte) (tok, rest []byte) {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	j := i
	for j < len(b) && b[j] != ' ' {
		j++
	}
	return b[i:j:j], b[j:]
}
