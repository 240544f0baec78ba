# fae: build, test and fuzz. See .ci/run for what CI runs (make test).

GO       ?= go
FUZZTIME ?= 10s
# Debian packages the tests run for real (memcached, PHP and Python clients,
# memccapable from libmemcached-tools, nutcracker, the Thrift Python library
# under the generated client/python/fae, pymongo's bson for the mg_* calls of
# client/python/test_mongo.py, promtool from prometheus for the metrics'
# check, chromium for the admin page's test).
DEBS     := memcached php-cli php-memcached php-memcache python3-pymemcache libmemcached-tools nutcracker python3-thrift python3-bson prometheus chromium

# What make build stamps into faed (faed -version).
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: all deps build test fuzz thrift

all: build

# deps installs the packages of DEBS that are missing, and nothing when none
# is: apt-get update runs only before an install. As root it runs apt-get
# itself, otherwise through sudo when there is one.
deps:
	@missing=""; \
	for p in $(DEBS); do \
		dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q '^install ok installed$$' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all installed"; exit 0; fi; \
	if [ "$$(id -u)" -eq 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; \
	else echo "deps: missing$$missing; run as root or install sudo" >&2; exit 1; fi; \
	echo "deps: installing$$missing"; \
	$$sudo apt-get update && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing

# build puts the binaries in bin/: faed (stamped with VERSION and COMMIT)
# and fae-bench.
build:
	$(GO) build ./...
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/faed ./cmd/faed
	$(GO) build -o bin/fae-bench ./cmd/fae-bench

# The race detector makes sync.Pool drop items, so the allocation tests skip
# their counts under -race: test runs them again without it.
test: deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -count=1 -run 'Allocs|TestMetaBase64Placement' ./...

# fuzz runs every Fuzz target of every package for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' "$$pkg" | grep '^Fuzz' || true); do \
			echo "fuzz: $$pkg $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) "$$pkg"; \
		done; \
	done

.PHONY: bench
# bench runs faed, nutcracker and memcached side by side (bench/compare.sh)
# and writes a report to bench/results/.
bench:
	bash bench/compare.sh --duration $(or $(DURATION),5s) --rounds $(or $(ROUNDS),3)

# thrift regenerates the code of proto/thrift/fae.thrift: Go in
# proto/thrift/fae (package github.com/fae-sidecar/fae/proto/thrift/fae) and
# Python in client/python/fae. The generated code is committed, so only this
# target needs Debian's thrift-compiler, at the version that wrote it.
THRIFT         ?= thrift
THRIFT_VERSION := 0.17.0
thrift:
	@$(THRIFT) --version | grep -qx 'Thrift version $(THRIFT_VERSION)' || { \
		echo "thrift: want Thrift version $(THRIFT_VERSION) (apt-get install thrift-compiler), have: $$($(THRIFT) --version)" >&2; exit 1; }
	rm -rf proto/thrift/fae client/python/fae
	$(THRIFT) --gen go:package_prefix=github.com/fae-sidecar/fae/proto/thrift/,skip_remote -out proto/thrift proto/thrift/fae.thrift
	$(THRIFT) --gen py -out client/python proto/thrift/fae.thrift
	rm -f client/python/__init__.py client/python/fae/FunServant-remote
	gofmt -w proto/thrift/fae
