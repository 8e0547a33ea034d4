package gateway

import "strings"

// Password policy of the v1 change-password flow, as enforced by LSEG's
// example clients before they send newPassword (auth-and-discovery.md
// §2.3). The gateway enforces it server side, so a client that skips the
// check is refused the same way.
const (
	passwordMinLength = 30
	passwordSpecials  = "~!@#$%^&*()-_=+[]{}|;:,.<>/?"
)

// Policy violation bits, the same values the examples use.
const (
	policyTooShort    = 0x1
	policyNoUpper     = 0x2
	policyNoLower     = 0x4
	policyNoDigit     = 0x8
	policyNoSpecial   = 0x10
	policyInvalidChar = 0x20
)

// checkPasswordPolicy returns the violated rules (0 = acceptable): no
// character outside A-Z a-z 0-9 and passwordSpecials, at least
// passwordMinLength characters, and at least 3 of the 4 categories.
func checkPasswordPolicy(p string) int {
	var bits int
	if len([]rune(p)) < passwordMinLength {
		bits |= policyTooShort
	}
	var upper, lower, digit, special bool
	for _, c := range p {
		switch {
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= '0' && c <= '9':
			digit = true
		case strings.ContainsRune(passwordSpecials, c):
			special = true
		default:
			bits |= policyInvalidChar
		}
	}
	missing := 0
	for _, m := range []struct {
		ok  bool
		bit int
	}{{upper, policyNoUpper}, {lower, policyNoLower}, {digit, policyNoDigit}, {special, policyNoSpecial}} {
		if !m.ok {
			missing++
			bits |= m.bit
		}
	}
	// One missing category is allowed: only report category bits when the
	// 3-of-4 rule fails.
	if missing <= 1 {
		bits &^= policyNoUpper | policyNoLower | policyNoDigit | policyNoSpecial
	}
	return bits
}

// policyDescription explains violated rules without quoting the password.
func policyDescription(bits int) string {
	var parts []string
	if bits&policyTooShort != 0 {
		parts = append(parts, "shorter than 30 characters")
	}
	if bits&policyInvalidChar != 0 {
		parts = append(parts, "contains a character outside A-Z a-z 0-9 "+passwordSpecials)
	}
	if bits&(policyNoUpper|policyNoLower|policyNoDigit|policyNoSpecial) != 0 {
		parts = append(parts, "needs at least 3 of: uppercase, lowercase, digit, special character")
	}
	return "new password rejected by the password policy: " + strings.Join(parts, "; ")
}
