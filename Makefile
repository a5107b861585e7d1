# sfbridge — see README.md. One flavour per build directory:
#   make                 -> build/       (optimised, warnings are errors)
#   make FLAVOUR=asan    -> build-asan/  (AddressSanitizer + UBSan)
MAKEFLAGS += --no-print-directory

PKGS      := libcurl libcjson rdkafka openssl yaml-0.1
TEST_PKGS := libmicrohttpd cmocka
DEB_DEPS  := build-essential pkg-config libcurl4-openssl-dev libcjson-dev \
             librdkafka-dev libssl-dev libyaml-dev libcmocka-dev \
             libmicrohttpd-dev kcat openssl curl procps \
             docker-compose python3 python3-yaml systemd prometheus

FLAVOUR ?= release
ifeq ($(FLAVOUR),asan)
B        := build-asan
OPTFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
            -fno-sanitize-recover=all
else
B        := build
OPTFLAGS := -O2 -g
endif

CC       ?= cc
WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
            -Wmissing-prototypes -Wpointer-arith -Wcast-align
CPPFLAGS += -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -MMD -MP \
            -Iconnector $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CFLAGS   += $(OPTFLAGS) $(WARN)
LDFLAGS  += $(OPTFLAGS)
LIBS     := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
TEST_LIBS := $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CPPFLAGS += -DSFBRIDGE_VERSION='"$(VERSION)"'

LIB_SRC   := $(filter-out connector/main.c,$(wildcard connector/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(B)/%.o)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%)
SFSIM_SRC := $(wildcard tests/sfsim/*.c)
SFSIM_OBJ := $(SFSIM_SRC:%.c=$(B)/%.o)
SFSIM_TEST_SRC := $(wildcard tests/sfsim/test/test_*.c)
SFSIM_TEST_BIN := $(SFSIM_TEST_SRC:tests/sfsim/test/%.c=$(B)/tests/sfsim/%)
KMOCK_SRC := $(wildcard tests/kafka-mock/*.c)
BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(B)/bench/%)

PROGS := $(B)/sfbridge $(if $(SFSIM_SRC),$(B)/sfsim) \
         $(if $(KMOCK_SRC),$(B)/kafka-mock)

.PHONY: all deps test test-run test-slow clean demo bench soak lint certs fuzz
all: $(PROGS) $(UNIT_BIN) $(SFSIM_TEST_BIN) $(BENCH_BIN)

# `make V=1` shows whole command lines.
Q := $(if $(V),,@)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/libsfbridge.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

$(B)/sfbridge: $(B)/connector/main.o $(B)/libsfbridge.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/sfsim: $(SFSIM_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(TEST_LIBS)

$(B)/kafka-mock: $(KMOCK_SRC:%.c=$(B)/%.o)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# A unit test links only the modules named in tests/unit/test_X.deps, so it
# tests that module alone (and builds while other modules are mid-change).
unit_deps = $(patsubst %,$(B)/connector/%.o,$(shell cat tests/unit/$(1).deps 2>/dev/null))
.SECONDEXPANSION:
$(B)/tests/unit/%: $(B)/tests/unit/%.o $$(call unit_deps,$$*)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(TEST_LIBS)

$(B)/tests/sfsim/%: $(B)/tests/sfsim/test/%.o
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(TEST_LIBS)

$(B)/bench/%: $(B)/tests/bench/%.o $(B)/libsfbridge.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(TEST_LIBS)

# Installs only what is missing; a no-op on a prepared machine.
deps:
	@missing=$$(for p in $(DEB_DEPS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$(echo $$missing | sed 's/^/ /')"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "deps: all present"; fi

# A throwaway test CA and server certificate; no private key is committed.
certs: tests/certs/server.pem
tests/certs/server.pem: tests/gen-certs.sh
	sh tests/gen-certs.sh tests/certs

# Both flavours build on every core; the runner runs SFB_JOBS programs at once.
NPROC := $(shell nproc 2>/dev/null || echo 2)
test: deps
	$(MAKE) -j$(NPROC) all
	$(MAKE) -j$(NPROC) FLAVOUR=asan all
	$(MAKE) certs
	$(MAKE) test-run

test-run:
	@sh tests/run.sh

# Minutes per test, out of `make test`: production's real timers and a
# short soak against an org of 20 clients (tests/slow/).
test-slow: deps
	$(MAKE) -j$(NPROC) all
	$(MAKE) -j$(NPROC) FLAVOUR=asan all
	$(MAKE) certs
	@SFB_SUITE=slow sh tests/run.sh

bench: deps
	$(MAKE) all
	sh tests/bench/run.sh

demo: deps
	$(MAKE) all
	sh tests/demo.sh

soak: deps
	$(MAKE) all
	sh tests/soak.sh

# libFuzzer targets (clang); run e.g. build-fuzz/fuzz_bayeux -max_total_time=60
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 \
               -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iconnector \
               $(shell pkg-config --cflags libcjson rdkafka 2>/dev/null)
fuzz:
	@mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) tests/fuzz/fuzz_bayeux.c connector/bayeux.c connector/json.c \
	    connector/recovery.c connector/router.c connector/buf.c -o build-fuzz/fuzz_bayeux
	clang $(FUZZ_CFLAGS) tests/fuzz/fuzz_config.c connector/config.c connector/config_keys.c connector/cidr.c \
	    connector/config_diag.c connector/expand.c connector/buf.c connector/kafka_conf.c connector/units.c \
	    connector/log.c connector/jwt.c -lyaml -lrdkafka -lcjson -lcrypto -lm \
	    -o build-fuzz/fuzz_config
	clang $(FUZZ_CFLAGS) tests/fuzz/fuzz_expand.c connector/expand.c connector/buf.c \
	    -o build-fuzz/fuzz_expand
	clang $(FUZZ_CFLAGS) tests/fuzz/fuzz_replay.c connector/replay_store.c connector/json.c \
	    connector/kafka_conf.c connector/config_keys.c connector/cidr.c connector/buf.c connector/log.c \
	    connector/jwt.c connector/units.c connector/kafka_topic.c -lcjson -lrdkafka -lcrypto -lm \
	    -o build-fuzz/fuzz_replay

# Install, release. `make install PREFIX=/usr DESTDIR=/tmp/pkg` (a package's
# staging tree): the binary, sfbridge(1) generated from `sfbridge --help`, the
# example configs and monitoring files, and the systemd unit with its paths
# pointing at PREFIX. `make dist`: sfbridge-VERSION.tar.gz of the committed
# tree (git archive), extracting to sfbridge-VERSION/; DISTDIR picks where.
.PHONY: install uninstall dist man FORCE
PREFIX   ?= /usr/local
DESTDIR  ?=
DISTDIR  ?= .
INSTALL  ?= install
DOCDIR   := $(PREFIX)/share/doc/sfbridge
UNITDIR  := $(PREFIX)/lib/systemd/system
MAN1DIR  := $(PREFIX)/share/man/man1
# config/demo.yaml needs the emulator, which is not installed.
EXAMPLES := $(filter-out config/demo.yaml,$(wildcard config/*.yaml))
MONITORING := $(wildcard deploy/monitoring/*.yaml deploy/monitoring/*.json)

man: $(B)/sfbridge.1

# The page names DOCDIR: regenerated when PREFIX changes.
$(B)/install-prefix: FORCE
	@mkdir -p $(@D)
	@echo '$(PREFIX)' | cmp -s - $@ || echo '$(PREFIX)' >$@

$(B)/sfbridge.1: $(B)/sfbridge deploy/gen-man.sh $(B)/install-prefix
	sh deploy/gen-man.sh $(B)/sfbridge '$(DOCDIR)' >$@.tmp && mv $@.tmp $@

$(B)/sfbridge.service: deploy/sfbridge.service $(B)/install-prefix
	sed 's|/usr/local/bin/sfbridge|$(PREFIX)/bin/sfbridge|g' deploy/sfbridge.service >$@

install: $(B)/sfbridge $(B)/sfbridge.1 $(B)/sfbridge.service
	$(INSTALL) -d '$(DESTDIR)$(PREFIX)/bin' '$(DESTDIR)$(MAN1DIR)' \
	    '$(DESTDIR)$(DOCDIR)/examples' '$(DESTDIR)$(DOCDIR)/monitoring' '$(DESTDIR)$(UNITDIR)'
	$(INSTALL) -m 0755 $(B)/sfbridge '$(DESTDIR)$(PREFIX)/bin/sfbridge'
	$(INSTALL) -m 0644 $(B)/sfbridge.1 '$(DESTDIR)$(MAN1DIR)/sfbridge.1'
	$(INSTALL) -m 0644 $(EXAMPLES) '$(DESTDIR)$(DOCDIR)/examples/'
	$(if $(MONITORING),$(INSTALL) -m 0644 $(MONITORING) '$(DESTDIR)$(DOCDIR)/monitoring/')
	$(INSTALL) -m 0644 README.md LICENSE $(wildcard CHANGELOG.md) '$(DESTDIR)$(DOCDIR)/'
	$(INSTALL) -m 0644 $(B)/sfbridge.service '$(DESTDIR)$(UNITDIR)/sfbridge.service'

uninstall:
	rm -f '$(DESTDIR)$(PREFIX)/bin/sfbridge' '$(DESTDIR)$(MAN1DIR)/sfbridge.1' \
	    '$(DESTDIR)$(UNITDIR)/sfbridge.service'
	rm -rf '$(DESTDIR)$(DOCDIR)'

dist:
	@# This directory must be a checkout's top, not a tarball unpacked in another repository.
	@top=$$(git rev-parse --show-prefix 2>/dev/null) && [ -z "$$top" ] || \
	    { echo "make dist: needs a git checkout (this directory at its top)" >&2; exit 1; }
	git archive --format=tar.gz --prefix=sfbridge-$(VERSION)/ \
	    -o '$(DISTDIR)/sfbridge-$(VERSION).tar.gz' HEAD
	@echo "$(DISTDIR)/sfbridge-$(VERSION).tar.gz"

lint:  # advisory: not part of make test
	-clang-format --dry-run connector/*.c connector/*.h
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance connector

clean:
	rm -rf build build-asan build-fuzz tests/certs

-include $(shell find build build-asan -name '*.d' 2>/dev/null)
