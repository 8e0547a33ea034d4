package gateway_test

import (
	"errors"
	"testing"

	"github.com/ertkit/ertkit/gateway"
)

func FuzzParseAccess(f *testing.F) {
	f.Add([]byte(`{"users":[{"name":"alice","allow":["*.N"],"deny":["IBM.N"]}]}`))
	f.Add([]byte(`{"users":[{"name":"svc","client_secret":"s3cret-s3cret","allow":["*","/*"]}]}`))
	f.Add([]byte(`{"users":[{"name":"a","allow":["["]}]}`))
	f.Add([]byte(`{"users":[{"name":"t","token":"0123456789abcdefg"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := gateway.ParseAccess(b)
		if err != nil {
			if !errors.Is(err, gateway.ErrAccess) {
				t.Fatalf("error not matchable: %v", err)
			}
			return
		}
		for _, u := range a.Users {
			if u.Name == "" {
				t.Fatal("user without a name accepted")
			}
		}
	})
}
