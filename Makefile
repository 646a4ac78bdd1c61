# Shelf's make targets. `make run` and `make test` need nothing but Go and a
# Debian-like machine: scripts/ensure-mysql.sh finds, starts or installs a
# MySQL-compatible server when SHELF_MYSQL_DSN is not set.
SHELL := /bin/bash
# The Go release with the standard-library security fixes Shelf is built with.
# A machine whose own Go ignores go.mod's toolchain line still gets it: the
# go command fetches that release through the module proxy once per machine.
export GOTOOLCHAIN := go1.27.3
.DEFAULT_GOAL := help

GO       ?= go
DB_NAME  ?= shelf
BIN      := bin/shelf
SQLC     := bin/sqlc
GOFILES   = $(shell git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

.PHONY: build
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS  := -X github.com/shelfcommerce/shelf/internal/version.Version=$(VERSION) \
            -X github.com/shelfcommerce/shelf/internal/version.Commit=$(COMMIT)

build: ## build bin/shelf (its --version says which commit)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/shelf

.PHONY: install
install: ## install shelf into $$(go env GOBIN) or ~/go/bin
	$(GO) install -ldflags "$(LDFLAGS)" ./cmd/shelf

.PHONY: run
run: build ## get a database, migrate, load the demo catalog, serve on :8080
	@dsn=$$(scripts/ensure-mysql.sh $(DB_NAME)) && export SHELF_MYSQL_DSN="$$dsn" && \
	$(BIN) migrate up >/dev/null && \
	if $(BIN) help | grep -q '^  seed '; then $(BIN) seed; fi && \
	exec $(BIN) serve

.PHONY: migrate
migrate: build ## apply pending migrations to SHELF_MYSQL_DSN (or the local database)
	@dsn=$$(scripts/ensure-mysql.sh $(DB_NAME)) && SHELF_MYSQL_DSN="$$dsn" $(BIN) migrate up

$(SQLC): tools/go.mod tools/go.sum
	cd tools && $(GO) build -o ../$(SQLC) github.com/sqlc-dev/sqlc/cmd/sqlc

.PHONY: generate
generate: $(SQLC) ## regenerate db/ from queries/ and migrations/ with the pinned sqlc
	rm -f db/*.go
	$(SQLC) generate

.PHONY: check-generated
check-generated: $(SQLC) ## fail when db/ is not exactly what sqlc generates (stale files included)
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	cp -r sqlc.yaml migrations queries $$tmp/ && \
	(cd $$tmp && $(CURDIR)/$(SQLC) generate) && \
	if ! diff -r $$tmp/db db >/dev/null; then \
		diff -r $$tmp/db db | head -40; \
		echo "db/ is out of date with queries/ or migrations/: run 'make generate' and commit db/"; exit 1; \
	fi && echo "check-generated: db/ matches sqlc output"

# vet -race compiles the packages it checks as `go test -race` does, so the
# tests that follow (make test, make test-cluster) reuse them instead of
# compiling everything a second time.
.PHONY: lint
lint: ## gofmt and go vet
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet -race ./...

.PHONY: test
test: lint check-generated ## the whole suite against a real database, with -race
	@dsn=$$(scripts/ensure-mysql.sh) && export SHELF_TEST_MYSQL_DSN="$${SHELF_TEST_MYSQL_DSN:-$$dsn}" && \
	$(GO) test -race -count=1 -timeout 15m ./...

.PHONY: test-cluster
test-cluster: ## the cluster tier: shelf serve processes on a private Galera cluster and on killed/frozen servers
	@dsns=$$(scripts/ensure-galera.sh | paste -sd, -) && \
	$(GO) vet -race -tags cluster ./internal/clustertest/ && \
	SHELF_TEST_GALERA_DSNS="$$dsns" $(GO) test -race -count=1 -timeout 20m -tags cluster ./internal/clustertest/

.PHONY: bench
bench: ## the benchmarks on realistic data (minutes; prints tables, writes docs/benchmarks/README.md)
	@dsn=$$(scripts/ensure-mysql.sh) && export SHELF_TEST_MYSQL_DSN="$${SHELF_TEST_MYSQL_DSN:-$$dsn}" && \
	mkdir -p bin && export SHELF_BENCH_SUMMARY=$(CURDIR)/bin/bench-summary.tsv && rm -f $$SHELF_BENCH_SUMMARY && \
	$(GO) test -p 1 -run '^$$' -bench . -benchtime 1x -timeout 90m ./... && \
	$(GO) run ./internal/benchload/summarize $$SHELF_BENCH_SUMMARY > docs/benchmarks/README.md && \
	echo "summary: docs/benchmarks/README.md"

.PHONY: bench-cluster
bench-cluster: ## the scale-out benchmark on the private Galera cluster (writes docs/benchmarks/cluster.md)
	@dsns=$$(scripts/ensure-galera.sh | paste -sd, -) && \
	SHELF_TEST_GALERA_DSNS="$$dsns" $(GO) test -run '^$$' -bench Cluster -benchtime 1x -timeout 30m -tags cluster ./internal/clustertest/

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME (default 30s) each
	@for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $${FUZZTIME:-30s} $$pkg || exit 1; \
		done; \
	done

.PHONY: clean
clean:
	rm -rf bin
