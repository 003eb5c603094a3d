# Polydev: `make run` starts the server on embedded SQLite in ./data; `make test` runs the whole suite
# (installing what it needs and starting a throwaway PostgreSQL).
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/polydev/polydev.Version=$(VERSION)
# The pure-Go SQLite library is one huge generated package; compiling it without inlining saves about
# a fifth of a cold build (docs/PERFORMANCE.md) at a small cost in SQLite speed. Benchmarks build with
# the default flags.
GCFLAGS := modernc.org/sqlite/lib=-l

.PHONY: run build test vet fmt clean

build:
	$(GO) build -ldflags '$(LDFLAGS)' -gcflags '$(GCFLAGS)' -o bin/polydev ./cmd/polydev

run: build
	./bin/polydev serve

test:
	./scripts/test.sh

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
