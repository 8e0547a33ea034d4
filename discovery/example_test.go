package discovery_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/ertkit/ertkit/discovery"
)

func ExampleDiscover() {
	// A stand-in for https://api.refinitiv.com/streaming/pricing/v1/.
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer my-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `{"services":[
		 {"endpoint":"us-east-1-aws-1-sm.example.net","port":443,"location":["us-east-1a"],"transport":"websocket"},
		 {"endpoint":"us-east-1-aws-3-lrg.example.net","port":443,"location":["us-east-1a","us-east-1b"],"transport":"websocket"}]}`)
	}))
	defer srv.Close()
	defer srv.Client().CloseIdleConnections()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eps, err := discovery.Discover(ctx, srv.URL+"/streaming/pricing/v1/?transport=websocket", "my-token",
		discovery.Options{HTTPClient: srv.Client()})
	if errors.Is(err, discovery.ErrUnauthorized) {
		// Get a fresh token (auth.Manager.Fresh) once and call Discover again.
		return
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	sel, err := discovery.Select(eps, "us-east-1", false)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("connect to", sel.Primary[0].Address())
	fmt.Println("backups", sel.Backups)
	// Output:
	// connect to us-east-1-aws-3-lrg.example.net:443
	// backups [us-east-1-aws-1-sm.example.net:443 [us-east-1a]]
}

func ExampleSelect() {
	eps := []discovery.Endpoint{
		{Host: "sm-a.example.net", Port: 443, Locations: []string{"us-east-1a"}},
		{Host: "sm-b.example.net", Port: 443, Locations: []string{"us-east-1b"}},
		{Host: "lrg.example.net", Port: 443, Locations: []string{"us-east-1a", "us-east-1b"}},
		{Host: "eu.example.net", Port: 443, Locations: []string{"eu-west-1a", "eu-west-1b"}},
	}
	one, _ := discovery.Select(eps, "us-east-1", false)
	fmt.Println("single connection:", one.Primary[0].Address(), "then", len(one.Backups), "backups")

	hot, _ := discovery.Select(eps, "us-east-1", true)
	fmt.Println("hot standby:", hot.Primary[0].Address(), hot.Primary[1].Address())

	_, err := discovery.Select(eps, "ap-southeast-1", false)
	fmt.Println(errors.Is(err, discovery.ErrNoEndpoint))
	// Output:
	// single connection: lrg.example.net:443 then 2 backups
	// hot standby: sm-a.example.net:443 sm-b.example.net:443
	// true
}
