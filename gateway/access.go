package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"time"

	"github.com/ertkit/ertkit/server/tokens"
	"github.com/ertkit/ertkit/trjson"
)

// ErrAccess is wrapped by errors about an unusable access file.
var ErrAccess = errors.New("gateway: invalid access configuration")

// Access is the downstream access control: who may log in, how, and
// which items each user may open. It is read from a JSON file:
//
//	{"users": [
//	  {"name": "alice", "allow": ["TRI.N", "*.N", "EUR="]},
//	  {"name": "risk-engine", "token": "…", "allow": ["*"], "deny": ["/*"]}
//	]}
//
// A user without a secret logs in by name (Key.Name, as with an ADS); a
// user with a token logs in with it (Key.NameType "AuthnToken", as with
// RTO); a user with a password (v1) or a client secret (v2) gets tokens
// from the gateway's token endpoint (Gateway.TokenHandler) and logs in
// with them. A user with any secret cannot log in by name. A file that
// holds secrets must not be readable by other users. Patterns are path.Match globs over the item name
// ("*" does not cross "/", so "/*" is every delayed item); deny wins over
// allow; a user with no allow pattern may open nothing.
type Access struct {
	Users  []User `json:"users"`
	byName map[string]*User
}

// User is one downstream user.
type User struct {
	Name string `json:"name"`
	// Token, when set, is the user's access token; the user must log in
	// with it.
	Token string `json:"token,omitempty"`
	// Password, when set, is the user's password for the v1 password
	// grant of the gateway's token endpoint (username = Name).
	Password string `json:"password,omitempty"`
	// ClientSecret, when set, is the user's secret for the v2
	// client_credentials grant of the gateway's token endpoint
	// (client_id = Name).
	ClientSecret string   `json:"client_secret,omitempty"`
	Allow        []string `json:"allow"`
	Deny         []string `json:"deny,omitempty"`
}

// String never shows the secrets.
func (u User) String() string { return "user " + u.Name }

func (u *User) hasSecret() bool { return u.Token != "" || u.Password != "" || u.ClientSecret != "" }

// LoadAccess reads and checks an access file.
func LoadAccess(file string) (*Access, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAccess, err)
	}
	a, err := ParseAccess(b)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(file); err == nil && fi.Mode().Perm()&0o077 != 0 {
		for i := range a.Users {
			if a.Users[i].hasSecret() {
				return nil, fmt.Errorf("%w: %s holds secrets and is readable by other users (chmod 600 it)", ErrAccess, file)
			}
		}
	}
	return a, nil
}

// ParseAccess parses and checks an access configuration (JSON).
func ParseAccess(b []byte) (*Access, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var a Access
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAccess, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrAccess)
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	return &a, nil
}

func (a *Access) check() error {
	a.byName = map[string]*User{}
	tokens := map[string]bool{}
	for i := range a.Users {
		u := &a.Users[i]
		if u.Name == "" {
			return fmt.Errorf("%w: user %d has no name", ErrAccess, i+1)
		}
		if a.byName[u.Name] != nil {
			return fmt.Errorf("%w: user %q twice", ErrAccess, u.Name)
		}
		for what, s := range map[string]string{"password": u.Password, "client secret": u.ClientSecret} {
			if s != "" && len(s) < 8 {
				return fmt.Errorf("%w: the %s of user %q is shorter than 8 characters", ErrAccess, what, u.Name)
			}
		}
		if u.Token != "" {
			if len(u.Token) < 16 {
				return fmt.Errorf("%w: the token of user %q is shorter than 16 characters", ErrAccess, u.Name)
			}
			if tokens[u.Token] {
				return fmt.Errorf("%w: user %q shares a token with another user", ErrAccess, u.Name)
			}
			tokens[u.Token] = true
		}
		for _, p := range append(append([]string(nil), u.Allow...), u.Deny...) {
			if _, err := path.Match(p, ""); err != nil {
				return fmt.Errorf("%w: user %q: pattern %q: %w", ErrAccess, u.Name, p, err)
			}
		}
		a.byName[u.Name] = u
	}
	return nil
}

// allowNames reports whether some user logs in by name.
func (a *Access) allowNames() bool {
	for i := range a.Users {
		if !a.Users[i].hasSecret() {
			return true
		}
	}
	return false
}

// checkUser accepts a Login by name.
func (a *Access) checkUser(name string) error {
	u := a.byName[name]
	switch {
	case u == nil:
		return errors.New("login rejected: unknown user")
	case u.hasSecret():
		return errors.New("login rejected: this user logs in with a token")
	}
	return nil
}

// registerTokens makes the users' tokens valid Logins.
func (a *Access) registerTokens(s *tokens.Store) {
	never := time.Now().AddDate(100, 0, 0)
	for _, u := range a.Users {
		if u.Token != "" {
			// Version 2: a session is not ended when the token "expires".
			s.Register(u.Token, tokens.Principal{Version: 2, ClientID: u.Name}, never)
		}
	}
}

// entitled decides whether user may open name.
func (a *Access) entitled(user string, _ trjson.Domain, name string) bool {
	u := a.byName[user]
	if u == nil {
		return false
	}
	for _, p := range u.Deny {
		if ok, _ := path.Match(p, name); ok {
			return false
		}
	}
	for _, p := range u.Allow {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}
