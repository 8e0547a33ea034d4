package natsbus

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ertkit/ertkit/trjson"
)

// ErrName is returned (wrapped) for a name that cannot be encoded or a
// subject token that is not a valid encoding.
var ErrName = errors.New("natsbus: invalid name")

// escape starts an escaped byte in an encoded token: '_' followed by two
// upper-case hex digits.
const escape = '_'

// literal reports whether b stands for itself in an encoded token. The set
// is the intersection of what a NATS subject token and a JetStream
// key-value key accept, minus the escape byte: letters, digits, '-', '='
// and '/'. Everything else ('.', '*', '>', '#', spaces, '_', control and
// non-ASCII bytes) is escaped, so a token is always one printable-ASCII
// subject token whatever the RIC holds.
func literal(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '=' || b == '/'
}

const hexDigits = "0123456789ABCDEF"

// Encode turns a RIC (or a service name) into one subject token: bytes in
// [A-Za-z0-9=/-] stay, every other byte b becomes "_" and b in two
// upper-case hex digits ("TRI.N" → "TRI_2EN", "0#.FTSE" → "0_23_2EFTSE").
// The empty name has no encoding.
func Encode(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty", ErrName)
	}
	n := 0
	for i := 0; i < len(name); i++ {
		if !literal(name[i]) {
			n++
		}
	}
	if n == 0 {
		return name, nil
	}
	var b strings.Builder
	b.Grow(len(name) + 2*n)
	for i := 0; i < len(name); i++ {
		c := name[i]
		if literal(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte(escape)
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String(), nil
}

// Decode reverses Encode. It accepts only canonical encodings (no escaped
// literal, upper-case hex), so Encode(Decode(t)) == t for every token it
// accepts and the mapping is one to one.
func Decode(token string) (string, error) {
	if token == "" {
		return "", fmt.Errorf("%w: empty token", ErrName)
	}
	if !strings.ContainsRune(token, escape) {
		for i := 0; i < len(token); i++ {
			if !literal(token[i]) {
				return "", fmt.Errorf("%w: byte %q at %d of token %q", ErrName, token[i], i, token)
			}
		}
		return token, nil
	}
	out := make([]byte, 0, len(token))
	for i := 0; i < len(token); i++ {
		c := token[i]
		if literal(c) {
			out = append(out, c)
			continue
		}
		if c != escape || i+2 >= len(token) {
			return "", fmt.Errorf("%w: byte %q at %d of token %q", ErrName, c, i, token)
		}
		hi, lo := unhex(token[i+1]), unhex(token[i+2])
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("%w: bad escape at %d of token %q", ErrName, i, token)
		}
		v := byte(hi<<4 | lo)
		if literal(v) {
			return "", fmt.Errorf("%w: escaped literal %q at %d of token %q", ErrName, v, i, token)
		}
		out = append(out, v)
		i += 2
	}
	return string(out), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// Key names one item on the bus: the service, the domain and the RIC.
type Key struct {
	Service string
	Domain  trjson.Domain
	Name    string
}

func (k Key) String() string { return k.Service + "/" + k.Domain.String() + "/" + k.Name }

// tokens returns the key's three subject tokens: service, domain, RIC.
func (k Key) tokens() (string, error) {
	svc, err := Encode(k.Service)
	if err != nil {
		return "", fmt.Errorf("service of %q: %w", k.Name, err)
	}
	if k.Domain == trjson.DomainUnknown || k.Domain == trjson.DomainLogin {
		return "", fmt.Errorf("%w: domain %v of %q", ErrName, k.Domain, k.Name)
	}
	ric, err := Encode(k.Name)
	if err != nil {
		return "", err
	}
	return svc + "." + k.Domain.String() + "." + ric, nil
}

// parseTokens reverses tokens: "SVC.MarketPrice.TRI_2EN" → Key.
func parseTokens(s string) (Key, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Key{}, fmt.Errorf("%w: %q is not service.domain.ric", ErrName, s)
	}
	svc, err := Decode(parts[0])
	if err != nil {
		return Key{}, err
	}
	d, ok := trjson.ParseDomain([]byte(parts[1]))
	if !ok || d == trjson.DomainLogin {
		return Key{}, fmt.Errorf("%w: unknown domain %q", ErrName, parts[1])
	}
	ric, err := Decode(parts[2])
	if err != nil {
		return Key{}, err
	}
	return Key{Service: svc, Domain: d, Name: ric}, nil
}
