# The Makefile only delegates; CI is .ci/run.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/ertkit/ertkit/internal/cli.Version=$(VERSION)

.PHONY: test ci build static bench fuzz
test:
	go test -race ./...
ci:
	bash .ci/run
build:
	go build -ldflags '$(LDFLAGS)' -o bin/ert ./cmd/ert
# Static binaries for linux/amd64 and linux/arm64 (no cgo).
static:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/ert-linux-amd64 ./cmd/ert
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/ert-linux-arm64 ./cmd/ert
bench:
	go test -run '^$$' -bench . -benchmem ./...
