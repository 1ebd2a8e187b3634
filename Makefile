# make run / make test: everything from a fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# dpdk-testpmd (in dpdk-dev) + net_memif is the third-party memif peer of the tests;
# clang + libclang-rt give ASan and libFuzzer builds of the C extension.
APT_PKGS := build-essential pkg-config python3-dev python3-venv \
	libyang2-dev libyang2-tools dpdk dpdk-dev librte-net-memif23 \
	clang libclang-rt-14-dev openssh-client netconfd openssh-server
C_SRC := $(wildcard dataplane/src/*.c dataplane/src/*.h)

.PHONY: all deps build run test lint bench fuzz clean

all: build

.stamp-apt:
	@missing=$$(for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@touch $@

$(VENV)/.installed: .stamp-apt pyproject.toml setup.py $(C_SRC)
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check -e '.[test]'
	@touch $@

deps: $(VENV)/.installed
build: deps

run: build
	$(VENV)/bin/memif-agent

test: build
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

lint: build
	$(VENV)/bin/ruff check .

bench: build
	$(PY) tools/bench/netconf.py --markdown
	$(PY) tools/bench/apply.py --markdown
	$(PY) tools/bench/dataplane.py --markdown

# libFuzzer + ASan/UBSan on the control-message codec and the ring receive path.
FUZZ_SECONDS ?= 60
fuzz: .stamp-apt
	mkdir -p build/fuzz/corpus
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Idataplane/src \
		dataplane/fuzz/fuzz_ctrl.c dataplane/src/ctrl.c dataplane/src/handshake.c \
		dataplane/src/ring.c -o build/fuzz/fuzz_ctrl
	cp tests/fuzz_corpus/* build/fuzz/corpus/
	build/fuzz/fuzz_ctrl -max_total_time=$(FUZZ_SECONDS) build/fuzz/corpus

clean:
	rm -rf build *.egg-info dataplane/*.so .stamp-apt $(VENV)
