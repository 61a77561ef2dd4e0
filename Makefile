# podlife — `make demo` and `make test` are the README's quick start.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BINARIES := probe warmup prestop install
BIN      := bin

export CGO_ENABLED := 0

.PHONY: all build test test-short lint demo image bench bench-probe bench-warmup clean e2e-kube

all: build

## build: static, stripped, -trimpath binaries in bin/
build:
	@mkdir -p $(BIN)
	@for b in $(BINARIES); do \
	  if [ -d cmd/$$b ]; then \
	    $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/$$b ./cmd/$$b || exit 1; \
	  fi; \
	done
	cd cmd/kubectl-podlife && $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o ../../$(BIN)/kubectl-podlife .

## lint: gofmt, go vet, and the binaries link no test-only module
lint: build
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd e2e && $(GO) vet ./...
	cd e2e/kubelet && $(GO) vet ./...
	cd cmd/kubectl-podlife && $(GO) vet ./...
	cd e2e/kube && $(GO) vet ./...
	@if $(GO) version -m $(BIN)/probe | grep -qE 'google.golang.org/grpc[[:space:]]'; then echo "bin/probe links grpc-go; it must not"; exit 1; fi
	@if $(GO) list -deps ./cmd/install | grep -qx 'net/http'; then echo "cmd/install imports net/http; it must not (it stays small)"; exit 1; fi
	@for b in $(BIN)/*; do if $(GO) version -m $$b | grep -qE 'rogpeppe/go-internal|go.uber.org/goleak'; then echo "$$b links a test-only module"; exit 1; fi; done

## test: the whole suite with the race detector (fuzz seed corpora included),
## then the e2e module (manifests, Docker; no -race: it builds images), the
## differential test against kubelet's own probers (e2e/kubelet), and the
## suite on a real Kubernetes (e2e-kube: it skips with one line where it
## cannot run — not root, not Linux, no Docker engine — and fails so under
## CI=true)
test: lint
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 15m ./...
	cd cmd/kubectl-podlife && CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 10m ./...
	cd e2e && $(GO) test -count=1 -timeout 10m ./...
	cd e2e/kubelet && $(GO) test -count=1 -timeout 10m ./...
	cd e2e/kube && $(GO) test -count=1 ./cluster
	bash e2e/kube/run.sh

## e2e-kube: the suite on a real single-node Kubernetes built from upstream
## source (root, Linux, Docker engine; elsewhere it skips, and fails under
## CI=true). See e2e/kube/run.sh.
e2e-kube:
	bash e2e/kube/run.sh

## test-short: the suite without the race detector
test-short:
	$(GO) test -short -count=1 ./...

## demo: the lifecycle on this machine, no cluster needed. The demo then
## builds the service and the binaries itself (minutes with a cold Go cache,
## with progress); only its rollout has a time limit.
demo:
	@mkdir -p $(BIN)
	@echo "demo: compiling the demo (with a cold Go cache this takes a minute or more)"
	$(GO) build -o $(BIN)/demo ./examples/demo
	$(BIN)/demo

## image: the toolkit image ghcr.io/podlife/podlife:dev in the local Docker engine
image:
	bash images/build.sh

## bench: the benchmark scripts (not part of test): all of them run, then
## a summary; it exits non-zero if any missed a target or failed
BENCHES := probe warmup
bench:
	@failed=; for b in $(BENCHES); do \
	  echo "== bench/$$b"; \
	  bash bench/$$b/run.sh; rc=$$?; \
	  if [ $$rc -ne 0 ]; then failed="$$failed $$b(exit $$rc)"; fi; \
	done; \
	echo "== bench summary: $(words $(BENCHES)) run, missed or failed:$${failed:- none}"; \
	[ -z "$$failed" ]
bench-probe:
	bash bench/probe/run.sh
bench-warmup:
	bash bench/warmup/run.sh

clean:
	rm -rf $(BIN)
