# ssecfs: `make demo` to see it work, `make test` to run every test.
# Both install what they need on a fresh Debian machine (fuse3, the SeaweedFS test
# server built once into $(HOME)/.cache/ssecfs, Go modules).

GO      ?= go
BIN     := bin
SSECFS  := $(BIN)/ssecfs
TESTTIMEOUT ?= 25m
BENCH_SIZE ?= 1GiB
BENCH_FLAGS ?=
FUZZTIME ?= 30s
SSECFS_STRESS_SCALE ?= 10

# Installation: the binary in $(PREFIX)/bin, where mount(8)'s helpers find it (they run
# with PATH cleared, so in a directory of the shell's default PATH), and the helper for
# `mount -t ssecfs` in /sbin, the only place mount(8) looks.
PREFIX  ?= /usr/local
SBINDIR ?= /sbin
MANDIR  ?= $(PREFIX)/share/man/man1
# The version `ssecfs --version` shows, from git when there is one.
VERSION ?= $(shell git describe --always --dirty 2>/dev/null)

.PHONY: all build deps test unit integration demo vet fmt clean bench fuzz stress man install uninstall

all: build

build:
	$(GO) build $(if $(VERSION),-ldflags "-X main.version=$(VERSION)") -o $(SSECFS) ./cmd/ssecfs

# The man pages, made from the same flag definitions as --help; not committed.
man: build
	$(SSECFS) man docs/man

install: build
	install -D -m 0755 $(SSECFS) $(DESTDIR)$(PREFIX)/bin/ssecfs
	sed 's|^ssecfs=ssecfs$$|ssecfs=$(PREFIX)/bin/ssecfs|' scripts/mount.ssecfs > $(BIN)/mount.ssecfs
	install -D -m 0755 $(BIN)/mount.ssecfs $(DESTDIR)$(SBINDIR)/mount.ssecfs
	mkdir -p $(DESTDIR)$(MANDIR) && $(SSECFS) man $(DESTDIR)$(MANDIR)

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/ssecfs $(DESTDIR)$(SBINDIR)/mount.ssecfs $(DESTDIR)$(MANDIR)/ssecfs.1 $(DESTDIR)$(MANDIR)/ssecfs-*.1

# fusermount3 is needed to mount as a non-root user (and tests check that path);
# the SeaweedFS binary is the local S3 server of the tests and the demo.
deps:
	@scripts/install-deps.sh

test: deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout $(TESTTIMEOUT) ./...

# Every package but the integration tests: no FUSE, no server.
unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /integration)

integration: deps
	$(GO) test -race -count=1 -timeout $(TESTTIMEOUT) -v ./integration/...

demo: deps build
	@scripts/demo.sh

# ssecfs against the AWS SDK's ceiling, s3fs and rclone mount, on SSE-C objects of a local
# server, over HTTP/1.1 and HTTP/2; writes docs/BENCHMARKS.md (about half an hour). Not part of
# `make test`. BENCH_SIZE=256MiB, or BENCH_FLAGS='-runs 1', for a quicker run (go run ./bench -h).
bench: deps build
	scripts/install-bench-deps.sh
	$(GO) run ./bench -size $(BENCH_SIZE) $(BENCH_FLAGS) -out docs/BENCHMARKS.md

# Every native fuzz target (func FuzzXxx in a _test.go file) for FUZZTIME each, one
# after the other: go test -fuzz runs one target at a time. A failure stops here, its
# input saved under the package's testdata/fuzz/ (make test then replays it).
fuzz:
	@set -e; for file in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
		for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$file); do \
			echo "== $$target in $$(dirname $$file) for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$(dirname $$file)/; \
		done; \
	done

# The long stress, differential and fault-injection tests, with SSECFS_STRESS_SCALE
# times their usual operation counts. Not part of `make test`.
stress: deps
	SSECFS_STRESS_SCALE=$(SSECFS_STRESS_SCALE) $(GO) test -race -count=1 -timeout 60m -run 'Stress|Differential|Fault' ./integration/

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }

clean:
	rm -rf $(BIN) .demo docs/man
