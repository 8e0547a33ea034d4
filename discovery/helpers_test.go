package discovery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type seen struct {
	Method, Path, Query, Auth string
}

type server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func newServer(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		n := len(s.reqs)
		s.reqs = append(s.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization")})
		s.mu.Unlock()
		h(w, r, n)
	}))
	t.Cleanup(func() { s.Client().CloseIdleConnections(); s.Close() })
	return s
}

func (s *server) requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.reqs...)
}

func (s *server) opts() Options {
	return Options{HTTPClient: s.Client(), RetryBaseDelay: time.Millisecond, RetryMaxDelay: 5 * time.Millisecond, MaxAttempts: 3}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// sampleBody is the response shape of auth-and-discovery.md §4.2.
const sampleBody = `{"services":[
  {"endpoint":"us-east-1-aws-1-sm.optimized-pricing-api.refinitiv.net","port":443,
   "location":["us-east-1a"],"provider":"aws","transport":"websocket","dataFormat":["tr_json2"]},
  {"endpoint":"us-east-1-aws-2-sm.optimized-pricing-api.refinitiv.net","port":443,
   "location":["us-east-1b"],"provider":"aws","transport":"websocket","dataFormat":["tr_json2"]},
  {"endpoint":"us-east-1-aws-3-lrg.optimized-pricing-api.refinitiv.net","port":443,
   "location":["us-east-1a","us-east-1b"],"provider":"aws","transport":"websocket","dataFormat":["tr_json2"]}]}`
