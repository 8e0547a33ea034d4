package discovery

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

const token = "bearer-token-SECRET"

func TestDiscoverRequestAndParse(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, sampleBody)
	})
	eps, err := Discover(ctxT(t), s.URL+"/streaming/pricing/v1/?transport=websocket", token, s.opts())
	if err != nil {
		t.Fatal(err)
	}
	r := s.requests()
	if len(r) != 1 || r[0].Method != http.MethodGet || r[0].Path != "/streaming/pricing/v1/" ||
		r[0].Query != "transport=websocket" || r[0].Auth != "Bearer "+token {
		t.Fatalf("requests %+v", r)
	}
	want := []Endpoint{
		{"us-east-1-aws-1-sm.optimized-pricing-api.refinitiv.net", 443, []string{"us-east-1a"}, "aws", "websocket", []string{"tr_json2"}},
		{"us-east-1-aws-2-sm.optimized-pricing-api.refinitiv.net", 443, []string{"us-east-1b"}, "aws", "websocket", []string{"tr_json2"}},
		{"us-east-1-aws-3-lrg.optimized-pricing-api.refinitiv.net", 443, []string{"us-east-1a", "us-east-1b"}, "aws", "websocket", []string{"tr_json2"}},
	}
	if !reflect.DeepEqual(eps, want) {
		t.Fatalf("got %+v", eps)
	}
}

func TestDiscoverUnauthorizedIsTypedAndNotRetried(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(401)
		fmt.Fprintf(w, `{"error":{"id":"x","code":"401","message":"token expired: %s","status":"Unauthorized"}}`, r.Header.Get("Authorization"))
	})
	_, err := Discover(ctxT(t), s.URL+"/", token, s.opts())
	var he *HTTPError
	if !errors.Is(err, ErrUnauthorized) || !errors.As(err, &he) || he.Status != 401 || he.Code != "401" {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "token expired") || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("error text %q", err)
	}
	if n := len(s.requests()); n != 1 {
		t.Fatalf("%d requests", n)
	}
}

func TestDiscoverFatalStatuses(t *testing.T) {
	for _, status := range []int{403, 404, 410, 451} {
		s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.WriteHeader(status)
			io.WriteString(w, `{"error":"forbidden","error_description":"not entitled to streaming pricing"}`)
		})
		_, err := Discover(ctxT(t), s.URL+"/", token, s.opts())
		if !errors.Is(err, ErrFatal) || !strings.Contains(err.Error(), fmt.Sprint(status)) || !strings.Contains(err.Error(), "not entitled") {
			t.Fatalf("%d: err = %v", status, err)
		}
		if n := len(s.requests()); n != 1 {
			t.Fatalf("%d: %d requests", status, n)
		}
	}
}

func TestDiscoverRetries5xxAnd429(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch n {
		case 0:
			w.WriteHeader(503)
		case 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(429)
		default:
			io.WriteString(w, sampleBody)
		}
	})
	eps, err := Discover(ctxT(t), s.URL+"/", token, s.opts())
	if err != nil || len(eps) != 3 {
		t.Fatalf("%v %v", eps, err)
	}
	s2 := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(500) })
	_, err = Discover(ctxT(t), s2.URL+"/", token, s2.opts())
	if !errors.Is(err, ErrRetriesExhausted) || len(s2.requests()) != 3 {
		t.Fatalf("err = %v after %d requests", err, len(s2.requests()))
	}
}

func TestDiscoverRedirects(t *testing.T) {
	other := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) { io.WriteString(w, sampleBody) })
	cases := []struct {
		name    string
		loc     func(n int) string
		wantErr error
		reqs    int
	}{
		{"303 same host", func(n int) string { return "/v1/moved?transport=websocket" }, nil, 2},
		{"302 same host", func(n int) string { return "/v1/moved" }, nil, 2},
		{"3 hops", func(n int) string { return fmt.Sprintf("/hop%d", n) }, nil, 4},
		{"4 hops refused", func(n int) string { return fmt.Sprintf("/hop%d", n) }, ErrRedirect, 4},
		{"cross host refused", func(n int) string { return other.URL + "/" }, ErrRedirect, 1},
		{"plain http refused", func(n int) string { return "http://api.example.com/" }, ErrRedirect, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			last := c.reqs - 1
			if c.wantErr != nil {
				last = 1 << 30
			}
			s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == last {
					io.WriteString(w, sampleBody)
					return
				}
				w.Header().Set("Location", c.loc(n))
				w.WriteHeader(map[bool]int{true: 303, false: 302}[strings.HasPrefix(c.name, "303")])
			})
			eps, err := Discover(ctxT(t), s.URL+"/", token, s.opts())
			if c.wantErr == nil && (err != nil || len(eps) != 3) || c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Fatalf("eps %d err %v", len(eps), err)
			}
			r := s.requests()
			if len(r) != c.reqs {
				t.Fatalf("%d requests, want %d", len(r), c.reqs)
			}
			for _, x := range r {
				if x.Auth != "Bearer "+token || x.Method != http.MethodGet {
					t.Fatalf("hop lost its GET or bearer: %+v", x)
				}
			}
		})
	}
	if len(other.requests()) != 0 {
		t.Fatal("the bearer token was sent to another host")
	}
	// Allow-listed other host.
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Location", other.URL+"/")
		w.WriteHeader(307)
	})
	o := s.opts()
	o.AllowedRedirectHosts = []string{other.Listener.Addr().String()}
	if _, err := Discover(ctxT(t), s.URL+"/", token, o); err != nil || len(other.requests()) != 1 {
		t.Fatalf("allow-listed redirect: %v", err)
	}
}

func TestDiscoverRefusesInsecureURLAndEmptyToken(t *testing.T) {
	if _, err := Discover(ctxT(t), "http://api.example.com/streaming/pricing/v1/", token, Options{}); !errors.Is(err, ErrInsecureURL) {
		t.Fatalf("err = %v", err)
	}
	if _, err := Discover(ctxT(t), "", "", Options{}); err == nil {
		t.Fatal("empty token accepted")
	}
}

func TestDiscoverMalformedBody(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) { io.WriteString(w, `{"services": 5}`) })
	if _, err := Discover(ctxT(t), s.URL+"/", token, s.opts()); !errors.Is(err, ErrResponse) {
		t.Fatalf("err = %v", err)
	}
}
