package gateway_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The SDK and the server side must not be able to agree on a private
// misreading of the protocol: consumer and server never import each
// other, and trjson imports neither (docs/ARCHITECTURE.md).
func TestImportBoundaries(t *testing.T) {
	deps := func(pkg string) map[string]bool {
		out, err := exec.Command("go", "list", "-deps", "github.com/ertkit/ertkit/"+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		m := map[string]bool{}
		for _, l := range strings.Fields(string(out)) {
			m[l] = true
		}
		return m
	}
	const mod = "github.com/ertkit/ertkit/"
	for _, c := range []struct{ pkg, never string }{
		{"consumer", "server"}, {"server", "consumer"}, {"trjson", "server"}, {"trjson", "consumer"},
		{"consumer", "emulator"}, {"server", "emulator"}, {"gateway", "emulator"},
	} {
		if deps(c.pkg)[mod+c.never] {
			t.Errorf("%s imports %s", c.pkg, c.never)
		}
	}
}
