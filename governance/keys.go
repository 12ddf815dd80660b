package governance

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// KeyPrefix starts every gateway key, so scanners and people recognise
// one (and scrubbers can cut it out of text).
const KeyPrefix = "sk-sb-"

// secretChars is 43 base62 characters: 43·log2(62) ≈ 256 bits, the
// entropy of 32 random bytes. Base62 selects with one double-click and
// needs no escaping in headers, shells or YAML.
const secretChars = 43

// displayChars of the secret are kept in Key.Prefix. Eight base62
// characters (about 48 bits) tell keys apart in a listing and leave over
// 200 bits unknown.
const displayChars = 8

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewSecret is a fresh key: the secret to show once, and the Key fields
// derived from it (Hash, Prefix, ID). The caller fills tenant, label and
// rules.
func NewSecret(now time.Time) (secret string, k Key, err error) {
	s, err := randomBase62(secretChars)
	if err != nil {
		return "", Key{}, fmt.Errorf("governance: new key: %w", err)
	}
	id, err := randomBase62(12)
	if err != nil {
		return "", Key{}, fmt.Errorf("governance: new key id: %w", err)
	}
	secret = KeyPrefix + s
	return secret, Key{ID: "k_" + id, Hash: HashKey(secret), Prefix: secret[:len(KeyPrefix)+displayChars], Created: now.UTC(), Source: CreatedInStore}, nil
}

// HashKey is what the store keeps of a key. A plain SHA-256 is enough
// here, unlike for passwords: a 256-bit random secret cannot be guessed
// from its hash by any amount of hashing, so a slow KDF (bcrypt, argon2)
// would only add milliseconds to every request. It is also what lets the
// hot path find a key with one map lookup instead of trying each.
func HashKey(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// FormatHash is a hash as written in the config: "sha256:" and 64 hex
// digits.
func FormatHash(h [32]byte) string { return "sha256:" + hex.EncodeToString(h[:]) }

// ParseHash reads FormatHash's output.
func ParseHash(s string) ([32]byte, error) {
	var h [32]byte
	hexs, ok := strings.CutPrefix(s, "sha256:")
	if !ok {
		return h, errors.New(`must start with "sha256:"`)
	}
	b, err := hex.DecodeString(hexs)
	if err != nil || len(b) != 32 {
		return h, errors.New("must be sha256: and 64 hex digits")
	}
	copy(h[:], b)
	return h, nil
}

// wellFormed checks the shape of a presented key without saying anything
// about which key it might be.
func wellFormed(presented string) bool {
	s, ok := strings.CutPrefix(presented, KeyPrefix)
	if !ok || len(s) != secretChars {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(base62, s[i]) < 0 {
			return false
		}
	}
	return true
}

// randomBase62 draws n characters uniformly: bytes of 248 and over are
// rejected, since 256 is not a multiple of 62 and "byte % 62" would favour
// the first characters.
func randomBase62(n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4+8)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if b < 248 && len(out) < n {
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out), nil
}
