# ssecfs: `make demo` to see it work, `make test` to run every test.
# Both install what they need on a fresh Debian machine (fuse3, the SeaweedFS test
# server built once into $(HOME)/.cache/ssecfs, Go modules).

GO      ?= go
BIN     := bin
SSECFS  := $(BIN)/ssecfs
TESTTIMEOUT ?= 25m
BENCH_SIZE ?= 1GiB

.PHONY: all build deps test unit integration demo vet fmt clean bench

all: build

build:
	$(GO) build -o $(SSECFS) ./cmd/ssecfs

# fusermount3 is needed to mount as a non-root user (and tests check that path);
# the SeaweedFS binary is the local S3 server of the tests and the demo.
deps:
	@scripts/install-deps.sh

test: deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout $(TESTTIMEOUT) ./...

unit:
	$(GO) test -race -count=1 ./keysrc/ ./cache/ ./bucket/ ./fs/ ./cmd/...

integration: deps
	$(GO) test -race -count=1 -timeout $(TESTTIMEOUT) -v ./integration/...

demo: deps build
	@scripts/demo.sh

# ssecfs against the AWS SDK's ceiling, s3fs and rclone mount, on SSE-C objects of a local
# server; writes docs/BENCHMARKS.md. Not part of `make test`. BENCH_SIZE=256MiB for a quick run.
bench: deps build
	scripts/install-bench-deps.sh
	$(GO) run ./integration/bench -size $(BENCH_SIZE) -out docs/BENCHMARKS.md

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }

clean:
	rm -rf $(BIN) .demo
