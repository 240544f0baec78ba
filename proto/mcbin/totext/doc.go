// Package totext translates memcached binary requests to text/meta
// requests and text/meta replies back to binary responses.
//
// The pools behind faed speak only the text protocol, so a binary
// request is served as its [Translation]: [Translation.Translate] fills
// Translation.Req, a [memcache.Request] (a meta command for every
// mutation, see translate.go for the table), from an [mcbin.Request], and
// [Translation.AppendResponse] appends the binary response memcached
// 1.6.18 sends for the text reply to it. [Sendable] says which keys can be
// translated; [Translation.Unlink] is the delete memcached does after a
// set too large; [AppendStats] translates a stats reply. Reused, a
// Translation allocates nothing. The package holds no state and starts no
// goroutines.
package totext
