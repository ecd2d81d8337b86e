# Entry points. The README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NODE_MODULES_STAMP := node_modules/.package-lock.json

.PHONY: help deps system-deps build-cli install demo test test-fast lint format clean lab-image lab-appliance lab-up lab-down \
	build check checksum distclean lab-release release-gate release-fill

CONTEXT ?= fixtures/lab/contexts/default.env
NET ?= restricted
# Release build (build.sh): BUILD_CONFIG defaults to packer/release/release.env; CHECK_ARGS go to slmc-check.
BUILD_CONFIG ?= packer/release/release.env
BUILD_OUT ?= out
CHECK_ARGS ?=
# make release-gate: the policy the appliance must meet and where its evidence bundle goes (must be new).
POLICY ?= release-policy.yaml
EVIDENCE ?= out/evidence
BUILD_MANIFEST ?= $(BUILD_OUT)/manifest.json
GATE_ARGS ?=
# make install: $(DESTDIR)$(PREFIX)/bin/slmc-check (DESTDIR stages it for packaging).
PREFIX ?= /usr/local
DESTDIR ?=

help:
	@echo "make demo        install, build and run slmc-check against the embedded simulated appliance"
	@echo "make test        install what is missing, build, and run every test and lint step"
	@echo "make test-fast   the same without any VM (SLMC_SKIP_LAB=1: lab and image-boot tests reported as skipped)"
	@echo "make build-cli   compile dist/slmc-check, dist/slmc-check-baseline and dist/local-ai-stand-in"
	@echo "make install [PREFIX=/usr/local] [DESTDIR=]  copy dist/slmc-check to \$$(DESTDIR)\$$(PREFIX)/bin"
	@echo "make test VM_IP=ip [CHECK_ARGS=...]  instead: run slmc-check against the appliance at VM_IP (= make check)"
	@echo "make lint        type check, format check, shellcheck, packer fmt/validate, marketplace schema"
	@echo "make build [BUILD_CONFIG=file]  release image with build.sh (Packer, compress, checksums, marketplace YAML)"
	@echo "make release-gate VM_IP=ip [POLICY=release-policy.yaml] [EVIDENCE=out/evidence] [BUILD_MANIFEST=out/manifest.json] [GATE_ARGS='--ca ca.pem --ssh-key k --sign k']"
	@echo "                 the release gate against the VM, then verify its evidence bundle"
	@echo "make release-fill [EVIDENCE=out/evidence] [BUILD_CONFIG=file]  build.sh again (all reused), filling the listing only from that passing bundle"
	@echo "make checksum    verify the sha256/md5 files of the built image in $(BUILD_OUT)/"
	@echo "make lab-image   build (or reuse) the Debian lab base image (root: mmdebstrap)"
	@echo "make lab-appliance  build (or reuse) the lab appliance with Packer"
	@echo "make lab-up CONTEXT=file [NET=open]  boot it with a CONTEXT ISO; prints how to reach it"
	@echo "make lab-down    power the lab VM off"
	@echo "make lab-release build.sh end to end with LAB STAND-IN inputs -> .lab/release-out/"
	@echo "make clean       remove build outputs (distclean: also build.sh's download cache)"

$(NODE_MODULES_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: $(NODE_MODULES_STAMP)

system-deps:
	@scripts/system-deps.sh

build-cli: deps
	npm run --silent build

# Does not build: run as root, it must not leave root-owned files in the checkout.
install:
	@test -x dist/slmc-check || { echo "dist/slmc-check is missing: run \"make build-cli\" first" >&2; exit 2; }
	install -d "$(DESTDIR)$(PREFIX)/bin"
	install -m 0755 dist/slmc-check "$(DESTDIR)$(PREFIX)/bin/slmc-check"

demo: build-cli
	dist/slmc-check demo

# `make test` is the README's test command; with VM_IP it checks a running appliance instead.
ifdef VM_IP
test: check
else
test: system-deps deps
	scripts/test.sh
endif

# The inner loop: every test and lint step except those that boot a VM (reported as skipped).
test-fast: system-deps deps
	SLMC_SKIP_LAB=1 scripts/test.sh

check: build-cli
	@test -n "$(VM_IP)" || { echo "usage: make check VM_IP=203.0.113.10 [CHECK_ARGS='--ca ca.pem --password-file pw']" >&2; exit 2; }
	dist/slmc-check $(VM_IP) $(CHECK_ARGS)

release-gate: build-cli
	@test -n "$(VM_IP)" || { echo "usage: make release-gate VM_IP=203.0.113.10 [POLICY=release-policy.yaml] [EVIDENCE=out/evidence] [GATE_ARGS='--ca ca.pem --ssh-key key --sign key']" >&2; exit 2; }
	dist/slmc-check gate $(VM_IP) --policy $(POLICY) --evidence $(EVIDENCE) --build-manifest $(BUILD_MANIFEST) $(GATE_ARGS)
	dist/slmc-check gate --verify $(EVIDENCE)
	cd $(EVIDENCE) && sha256sum -c --quiet SHA256SUMS

release-fill: deps
	./build.sh --config $(BUILD_CONFIG) --output $(BUILD_OUT) --evidence $(EVIDENCE)

lint: deps
	scripts/lint.sh all

build: deps
	./build.sh --config $(BUILD_CONFIG) --output $(BUILD_OUT)

checksum:
	cd $(BUILD_OUT) && sha256sum -c *.qcow2.sha256 && md5sum -c *.qcow2.md5

# build.sh end to end in the lab: every input a stand-in (see packer/lab/make-release-inputs.sh).
lab-release: system-deps build-cli
	packer/lab/make-release-inputs.sh .lab/release-inputs
	./build.sh --config .lab/release-inputs/lab-stand-in.env --output .lab/release-out --cache .lab/release-cache

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
	rm -rf dist .tap .lab $(BUILD_OUT)

distclean: clean
	rm -rf .build-cache
