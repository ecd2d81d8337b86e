# Entry points. The README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NODE_MODULES_STAMP := node_modules/.package-lock.json

.PHONY: help deps system-deps build-cli demo test lint format clean lab-image lab-appliance lab-up lab-down

CONTEXT ?= fixtures/lab/contexts/default.env
NET ?= restricted

help:
	@echo "make demo        install, build and run slmc-check against the embedded simulated appliance"
	@echo "make test        install what is missing, build, and run every test and lint step"
	@echo "make build-cli   compile dist/slmc-check, dist/slmc-check-baseline and dist/local-ai-stand-in"
	@echo "make lint        type check, format check, shellcheck"
	@echo "make lab-image   build (or reuse) the Debian lab base image (root: mmdebstrap)"
	@echo "make lab-appliance  build (or reuse) the lab appliance with Packer"
	@echo "make lab-up CONTEXT=file [NET=open]  boot it with a CONTEXT ISO; prints how to reach it"
	@echo "make lab-down    power the lab VM off"
	@echo "make clean       remove build outputs"

$(NODE_MODULES_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: $(NODE_MODULES_STAMP)

system-deps:
	@scripts/system-deps.sh

build-cli: deps
	npm run --silent build

demo: build-cli
	dist/slmc-check demo

test: system-deps deps
	scripts/test.sh

lint: deps
	npx tsc -p .
	npx prettier --check .
	shellcheck --severity=style scripts/*.sh .ci/run appliance/*.sh packer/scripts/*.sh packer/lab/*.sh

lab-image: system-deps
	scripts/lab.sh image

lab-appliance: system-deps build-cli
	scripts/lab.sh appliance

lab-up: lab-appliance
	scripts/lab.sh up $(CONTEXT) $(NET)

lab-down:
	scripts/lab.sh down

format: deps
	npx prettier --write .

clean:
	rm -rf dist .tap .lab
