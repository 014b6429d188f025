# The project's vocabulary. `make synth` and `make test` are all a new machine
# needs: they install the pinned Node.js and CDK CLI (package.json) and the Go
# modules first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The pinned Node.js 22 and CDK CLI come first on PATH, for the CDK CLI and for
# the jsii runtime that the Go tests start.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

NODE_TOOLS := node_modules/.installed

$(NODE_TOOLS): package.json package-lock.json
	npm ci --no-audit --no-fund
	@test -f node_modules/go.mod || echo 'module ignore/node_modules' > node_modules/go.mod
	@touch $@

.PHONY: tools
tools: $(NODE_TOOLS) ## install the pinned Node.js and CDK CLI, and download the Go modules
	go mod download
	@node --version && cdk --version

.PHONY: synth
synth: tools ## synthesize the example app into cdk.out (no AWS account needed) and print what each restorable resource would do
	cdk synth --quiet

.PHONY: synth-dr
synth-dr: tools ## synthesize the DR example (examples/dr: three stacks, two regions) into cdk.out.dr
	cdk synth --quiet --app 'go run ./examples/dr/cmd/dr' --output cdk.out.dr

.PHONY: test
test: tools ## go vet, then every test (unit, template assertions, CDK CLI integration)
	go vet ./...
	go test -count=1 ./...

.PHONY: bench
bench: tools ## whole-process synth of restorable against the same app in plain L2s, and the EFS mover on 100 000 files
	go test -run '^$$' -bench . -benchtime 1x ./test/ ./internal/mover/

.PHONY: fmt
fmt: ## gofmt every Go file
	gofmt -w $$(git ls-files '*.go')

.PHONY: clean
clean: ## remove synth output and installed Node tools
	rm -rf cdk.out cdk.out.dr node_modules

.PHONY: help
help:
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 10
