# Polydev: `make run` starts the server on embedded SQLite in ./data; `make test` runs the whole suite
# (installing what it needs and starting a throwaway PostgreSQL).
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/polydev/polydev.Version=$(VERSION)
# The pure-Go SQLite library is one huge generated package; compiling it without inlining saves about
# a fifth of a cold build (docs/PERFORMANCE.md) at a small cost in SQLite speed. Benchmarks build with
# the default flags.
GCFLAGS := modernc.org/sqlite/lib=-l
# Go 1.26's experimental vector package (simd/archsimd) lets the passthrough's JSON scan take 64
# bytes at a time (gateway/passthrough/scan_blocks.go); a build without it uses the scalar scan,
# with the same results.
# (test.sh sets it for the suite itself, after the VM image is built, which does not need it.)
GOEXPERIMENT ?= simd

.PHONY: run build test vet fmt clean

build:
	GOEXPERIMENT=$(GOEXPERIMENT) $(GO) build -ldflags '$(LDFLAGS)' -gcflags '$(GCFLAGS)' -o bin/polydev ./cmd/polydev

run: build
	./bin/polydev serve

test:
	./scripts/test.sh

vet:
	GOEXPERIMENT=$(GOEXPERIMENT) $(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
