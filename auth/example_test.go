package auth_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/ertkit/ertkit/auth"
)

// A v1 machine account: one Manager for the credential, Run for proactive
// renewal, Subscribe to reissue the Login on every live connection.
func ExampleManager() {
	// A stand-in for https://api.refinitiv.com/auth/oauth2/v1/token.
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"opaque","refresh_token":"r","expires_in":"300","token_type":"Bearer"}`)
	}))
	defer srv.Close()

	m := auth.NewManager(auth.PasswordGrant(auth.PasswordConfig{
		TokenURL: srv.URL + "/auth/oauth2/v1/token",
		Username: "GE-A-01234567-8-9012", // machine ID
		Password: "read from a file or the environment, never argv",
		ClientID: "app-key",
	}), auth.Options{HTTPClient: srv.Client()})
	defer m.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stop := m.Subscribe(func(tok auth.Token) {
		// Send {"ID":1,"Domain":"Login","Refresh":false,...AuthenticationToken: tok.AccessToken}
		// on every logged-in connection.
	})
	defer stop()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }() // returns when ctx ends or m is closed
	defer func() { cancel(); <-done }()

	tok, err := m.Token(ctx) // for the Login on connect
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok.Version, tok.ExpiresIn)
	fmt.Println(strings.Contains(tok.String(), tok.AccessToken)) // String() never shows secrets
	// Output:
	// 1 5m0s
	// false
}
