package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/ertkit/ertkit/emulator/internal/gateway"
	"github.com/ertkit/ertkit/server/tokens"
)

// A v1 password grant followed by service discovery with the token.
func Example() {
	gw, err := gateway.New(gateway.Config{
		Store:    tokens.NewStore(nil),
		User:     "GE-A-00000000-1-0000",
		Password: "Emulator-Passw0rd-For-Local-Tests!",
		ClientID: "emulator-client-id",
		Services: func() []gateway.Service {
			return []gateway.Service{{Endpoint: "127.0.0.1", Port: 15000, Location: []string{"us-east-1a", "us-east-1b"}}}
		},
	})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()

	resp, err := http.PostForm(srv.URL+gateway.PathTokenV1, url.Values{
		"grant_type": {"password"}, "username": {"GE-A-00000000-1-0000"},
		"password": {"Emulator-Passw0rd-For-Local-Tests!"}, "client_id": {"emulator-client-id"},
		"scope": {"trapi.streaming.pricing.read"}, "takeExclusiveSignOnControl": {"true"},
	})
	if err != nil {
		panic(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   string `json:"expires_in"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.StatusCode, tok.ExpiresIn)

	req, _ := http.NewRequest(http.MethodGet, srv.URL+gateway.PathDiscovery+"?transport=websocket", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	var sb strings.Builder
	var disc struct {
		Services []gateway.Service `json:"services"`
	}
	err = json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if err != nil {
		panic(err)
	}
	for _, s := range disc.Services {
		fmt.Fprintf(&sb, "%s:%d %v", s.Endpoint, s.Port, s.Location)
	}
	fmt.Println(resp.StatusCode, sb.String())
	http.DefaultClient.CloseIdleConnections()
	// Output:
	// 200 300
	// 200 127.0.0.1:15000 [us-east-1a us-east-1b]
}
