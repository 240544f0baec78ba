// Package auth proves that a peer message comes from a holder of the
// cluster's shared secret, once: [Auth.Seal] frames a payload with a kind, a
// timestamp and a random nonce under an HMAC-SHA256, and [Auth.Open] checks
// the MAC in constant time, refuses a timestamp outside the window and a
// nonce already seen within it (a fixed-size set of recent nonces), and
// counts every refusal by [Reason].
//
// Beacons travel sealed; a peer link opens with [Auth.Client] and
// [Auth.Server], a sealed hello and a welcome bound to it, within the
// caller's deadline. It imports nothing of fae's.
package auth
