# make run / make test: everything from a fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# dpdk-testpmd (in dpdk-dev) + net_memif is the third-party memif peer of the tests;
# clang + libclang-rt give ASan and libFuzzer builds of the C extension;
# systemd gives systemd-analyze, which checks the service unit;
# curl runs the README's RESTCONF first steps (tests/e2e/test_restconf_readme.py).
APT_PKGS := build-essential pkg-config python3-dev python3-venv \
	libyang2-dev libyang2-tools dpdk dpdk-dev librte-net-memif23 \
	clang libclang-rt-14-dev openssh-client systemd netconfd openssh-server \
	curl
C_SRC := $(wildcard dataplane/src/*.c dataplane/src/*.h)

.PHONY: all deps build run test lint bench fuzz clean install

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
	$(VENV)/bin/memif-agent --restconf-port 8443

test: build
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

lint: build
	$(VENV)/bin/ruff check .

bench: build
	$(PY) tools/bench/netconf.py --markdown
	$(PY) tools/bench/apply.py --markdown
	$(PY) tools/bench/state.py --markdown
	$(PY) tools/bench/dataplane.py --markdown

# libFuzzer + ASan/UBSan on the control-message codec and the ring receive path.
FUZZ_SECONDS ?= 60
fuzz: .stamp-apt
	mkdir -p build/fuzz/corpus
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Idataplane/src \
		dataplane/fuzz/fuzz_ctrl.c dataplane/src/ctrl.c dataplane/src/handshake.c \
		dataplane/src/ring.c -o build/fuzz/fuzz_ctrl
	cp tests/fuzz/corpus/* build/fuzz/corpus/
	build/fuzz/fuzz_ctrl -max_total_time=$(FUZZ_SECONDS) build/fuzz/corpus

# The agent as a system service: its own venv under APPDIR, commands in BINDIR, the
# systemd unit and an example /etc/memif-agent/agent.toml (never overwritten).
# DESTDIR stages the files (the venv's scripts then name the staged paths).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
APPDIR ?= $(PREFIX)/lib/memif-agent
UNITDIR ?= /etc/systemd/system
CONFDIR ?= /etc/memif-agent
SYSTEMCTL ?= systemctl
install: .stamp-apt
	install -d $(DESTDIR)$(APPDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR)
	install -d -m 0755 $(DESTDIR)$(CONFDIR)
	[ -x $(DESTDIR)$(APPDIR)/venv/bin/python ] || $(PYTHON) -m venv $(DESTDIR)$(APPDIR)/venv
	$(DESTDIR)$(APPDIR)/venv/bin/pip install -q --disable-pip-version-check .
	ln -sf $(APPDIR)/venv/bin/memif-agent $(DESTDIR)$(BINDIR)/memif-agent
	ln -sf $(APPDIR)/venv/bin/memifctl $(DESTDIR)$(BINDIR)/memifctl
	sed 's|@BINDIR@|$(BINDIR)|g' tools/systemd/memif-agent.service \
		> $(DESTDIR)$(UNITDIR)/memif-agent.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/memif-agent.service
	[ -e $(DESTDIR)$(CONFDIR)/agent.toml ] || \
		install -m 0644 tools/systemd/agent.toml $(DESTDIR)$(CONFDIR)/agent.toml
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then $(SYSTEMCTL) daemon-reload; \
		echo "installed: systemctl enable --now memif-agent"; fi

clean:
	rm -rf build *.egg-info dataplane/*.so .stamp-apt $(VENV)
