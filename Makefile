# jpki-pkcs11: build, test, demo. `make` builds everything into build/.
GO       ?= go
PREFIX   ?= /usr/local
LIBDIR   ?= $(PREFIX)/lib
BUILD    := build
GOFILES  := $(shell find . -name '*.go' -not -path './build/*') go.mod
CFILES   := $(wildcard module/*.c module/*.h include/*.h)

.PHONY: all deps test test-unit test-integration demo clean install uninstall

all: $(BUILD)/jpki-pkcs11.so $(BUILD)/jpki $(BUILD)/jpki-vcard

deps:
	@sh scripts/deps.sh

$(BUILD)/jpki-pkcs11.so: $(GOFILES) $(CFILES) module/exports.map
	CGO_ENABLED=1 $(GO) build -buildmode=c-shared -trimpath \
		-ldflags "-s -w -extldflags '-Wl,--version-script=$(CURDIR)/module/exports.map'" \
		-o $@ ./module
	@rm -f $(BUILD)/jpki-pkcs11.h

$(BUILD)/jpki: $(GOFILES)
	$(GO) build -trimpath -o $@ ./cmd/jpki

$(BUILD)/jpki-vcard: $(GOFILES)
	$(GO) build -trimpath -o $@ ./cmd/jpki-vcard

# Everything: unit tests (no PC/SC) and the integration tests with the real programs
# against a private pcscd + virtual cards, the Windows DLL under Wine included
# (deps-windows installs mingw-w64 and Wine; test/windows skips only where they are missing).
test: deps deps-windows all
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

demo: deps all
	bash scripts/demo.sh

clean:
	rm -rf $(BUILD)

# ---------------------------------------------------------------------------------------
# Windows (docs/WINDOWS.md): build/jpki-pkcs11.dll cross-built with mingw-w64, and its
# test under Wine against the virtual card (test/windows/). Tools: scripts/deps-windows.sh.
MINGW_CC  ?= x86_64-w64-mingw32-gcc
WINEBUILD ?= $(firstword $(shell command -v winebuild winebuild-stable 2>/dev/null) winebuild)
WIN       := $(BUILD)/windows
WINSRC    := test/windows
WINCFLAGS := -O2 -Wall -Wextra -Wno-format-truncation
WINTOOLS  := $(WIN)/system32/winscard.dll $(WIN)/system32/bcryptprimitives.dll \
	$(WIN)/dlls/jpkiscard.dll $(WIN)/dlls/jpkiscard.so $(WIN)/host.exe $(WIN)/host \
	$(WIN)/scardls.exe $(WIN)/godll.dll $(WIN)/godllhost.exe

.PHONY: windows windows-tools test-windows deps-windows

windows: deps-windows $(BUILD)/jpki-pkcs11.dll

deps-windows:
	@sh scripts/deps-windows.sh

# Exports: only the C_* functions, which are __declspec(dllexport) (CK_BUILD_MODULE).
# --export-all-symbols only stops Go's linker from passing its .def file of the //export
# bridge functions (goXxx); --exclude-all-symbols then stops ld from exporting the rest.
$(BUILD)/jpki-pkcs11.dll: $(GOFILES) $(CFILES)
	CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=$(MINGW_CC) $(GO) build -buildmode=c-shared -trimpath \
		-ldflags "-s -w -extldflags '-Wl,--export-all-symbols -Wl,--exclude-all-symbols'" -o $@ ./module
	@rm -f $(BUILD)/jpki-pkcs11.h

# Test infrastructure for Wine (docs/WINDOWS.md): PC/SC bridge, ProcessPrng, hosts, smoke tests.
windows-tools: $(WINTOOLS)

$(WIN)/system32/winscard.dll: $(WINSRC)/bridge/winscard.c $(WINSRC)/bridge/winscard.def $(WINSRC)/bridge/bridge.h
	@mkdir -p $(@D)
	$(MINGW_CC) $(WINCFLAGS) -shared -o $@ $(WINSRC)/bridge/winscard.c $(WINSRC)/bridge/winscard.def

$(WIN)/system32/bcryptprimitives.dll: $(WINSRC)/prng/bcryptprimitives.c
	@mkdir -p $(@D)
	$(MINGW_CC) $(WINCFLAGS) -shared -o $@ $< -lbcrypt

$(WIN)/dlls/jpkiscard.dll: $(WINSRC)/bridge/anchor.c
	@mkdir -p $(@D)
	$(MINGW_CC) $(WINCFLAGS) -shared -o $@ $<
	$(WINEBUILD) --builtin $@

$(WIN)/dlls/jpkiscard.so: $(WINSRC)/bridge/jpkiscard.c $(WINSRC)/bridge/bridge.h
	@mkdir -p $(@D)
	$(CC) $(WINCFLAGS) -shared -fPIC $$(pkg-config --cflags libpcsclite) -o $@ $< $$(pkg-config --libs libpcsclite)

$(WIN)/host.exe: $(WINSRC)/host/host.c $(WINSRC)/host/canon.c $(WINSRC)/host/canon.h include/*.h
	@mkdir -p $(@D)
	$(MINGW_CC) $(WINCFLAGS) -Iinclude -o $@ $(WINSRC)/host/host.c $(WINSRC)/host/canon.c

$(WIN)/host: $(WINSRC)/host/host.c $(WINSRC)/host/canon.c $(WINSRC)/host/canon.h include/*.h
	@mkdir -p $(@D)
	$(CC) $(WINCFLAGS) -Iinclude -o $@ $(WINSRC)/host/host.c $(WINSRC)/host/canon.c -ldl

$(WIN)/scardls.exe: $(WINSRC)/smoke/scardls.c
	@mkdir -p $(@D)
	$(MINGW_CC) $(WINCFLAGS) -o $@ $< -lwinscard

$(WIN)/godllhost.exe: $(WINSRC)/smoke/godllhost.c
	@mkdir -p $(@D)
	$(MINGW_CC) $(WINCFLAGS) -o $@ $<

$(WIN)/godll.dll: $(WINSRC)/smoke/godll/main.go go.mod
	@mkdir -p $(@D)
	CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=$(MINGW_CC) $(GO) build -buildmode=c-shared -trimpath -o $@ ./$(WINSRC)/smoke/godll
	@rm -f $(WIN)/godll.h

# The Wine test: private pcscd, virtual card, the Windows host against the DLL and the
# Linux host against the .so, compared field by field (test/windows/windows_test.go).
test-windows: deps-windows windows windows-tools $(BUILD)/jpki-pkcs11.so $(BUILD)/jpki-vcard
	JPKI_TEST_WINDOWS=1 $(GO) test -count=1 -timeout 15m -v ./test/windows/

# The jpki command: unit tests, then through a private pcscd and virtual cards (root).
.PHONY: test-cli
test-cli: $(BUILD)/jpki $(BUILD)/jpki-vcard
	$(GO) test -count=1 ./internal/cli/... ./test/cli/

# ---------------------------------------------------------------------------------------
# Robustness (issue "Never crash the host, never lose a PIN try, never hang").
# `make fuzz` runs every fuzz target for FUZZTIME each (seed corpora in each package's
# testdata/fuzz/; regenerate them with `go run ./card/testdata/fuzzgen`) and prints the
# executions per target; a crasher fails the run and is saved under testdata/fuzz/.
FUZZTIME    ?= 20s
FUZZFLAGS   ?= -fuzzminimizetime=1000x
FUZZTARGETS := ./card:FuzzReadFile ./card:FuzzDERLength ./card:FuzzParseResponse \
	./card:FuzzTokenInfo ./card:FuzzIdentify ./card:FuzzHostileOps ./card:FuzzParseTranscript \
	./vcard:FuzzProcess ./vcard:FuzzSubjectAltNames \
	./objects:FuzzCertificateObjects ./objects:FuzzSerialFromHead \
	./internal/cli/certinfo:FuzzHolderOf

.PHONY: fuzz stress
# A bare "context deadline exceeded" with no failing input written is Go 1.26's
# coordinator race at the -fuzztime boundary (go.dev/issue/75804), not a finding.
fuzz:
	@for t in $(FUZZTARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; rc=0; \
		out=$$($(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $(FUZZFLAGS) $$pkg 2>&1) || rc=$$?; \
		if [ $$rc -ne 0 ] && { echo "$$out" | grep -q 'Failing input written' || \
			! echo "$$out" | grep -q 'context deadline exceeded'; }; then \
			echo "$$out"; echo "FAIL $$pkg $$fn"; exit 1; fi; \
		echo "$$out" | grep 'fuzz: elapsed' | tail -1 | \
		sed -E "s|.*elapsed: ([0-9hms]+), execs: ([0-9]+).*|$$pkg $$fn: \2 executions in \1, 0 failures|"; done

# `make stress` runs test/stress (16 threads on both tokens of two virtual cards, card
# A pulled and re-inserted at random) for STRESS_SECONDS, then the fault tests
# (test/faults); `make test` runs both with the default 20 s. The last line of the
# stress test's output gives the numbers for docs/ROBUSTNESS.md.
STRESS_SECONDS ?= 120
stress: all
	@out=$$(mktemp); rc=0; \
		STRESS_SECONDS=$(STRESS_SECONDS) $(GO) test -count=1 -v -timeout 60m -run '^TestStress$$' \
			./test/stress/ >$$out 2>&1 || rc=$$?; \
		if [ $$rc -ne 0 ]; then cat $$out; rm -f $$out; echo "FAIL stress"; exit 1; fi; \
		grep -E 'STRESS RESULT|threads ran' $$out | sed 's/^ *stress_test.go:[0-9]*: //'; rm -f $$out
	$(GO) test -count=1 -timeout 10m ./test/faults/...

# ---------------------------------------------------------------------------------------
# Benchmarks (issue "APDU economy and `make bench`"): OpenSC's module and ours on the same
# virtual card through one private pcscd; writes BENCHMARKS.md and bench/chart.svg.
# BENCHFLAGS go to bench/run (e.g. BENCHFLAGS="-runs 3 -poll-gap 100ms").
BENCHFLAGS ?=
.PHONY: bench bench-deps
bench-deps: deps
	@command -v gnuplot >/dev/null 2>&1 || { echo "bench: installing gnuplot-nox"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gnuplot-nox >/dev/null || \
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gnuplot-nox >/dev/null; }; }

$(BUILD)/bench/p11drv: bench/p11drv.c include/*.h
	@mkdir -p $(@D)
	$(CC) -std=gnu99 -O2 -Wall -Wextra -Werror -Iinclude -o $@ $< -ldl -lpthread

$(BUILD)/bench/floor: $(GOFILES)
	$(GO) build -trimpath -o $@ ./bench/floor

bench: bench-deps all $(BUILD)/bench/p11drv $(BUILD)/bench/floor
	$(GO) run ./bench/run $(BENCHFLAGS)
	gnuplot bench/chart.gp

# ---------------------------------------------------------------------------------------
# Install (issue "Works in the programs people use"): the module into
# $(DESTDIR)$(LIBDIR)/pkcs11/ and a p11-kit module file (packaging/jpki-pkcs11.module,
# with the module's absolute path) into p11-kit's module config directory, so that
# p11-kit-proxy users (GnuTLS, p11tool, ...) find the card. `make uninstall` removes both.
P11_MODULE_CONFIGS ?= $(shell pkg-config --variable=p11_module_configs p11-kit-1 2>/dev/null || echo /usr/share/p11-kit/modules)
P11_MODULE_DIR     := $(LIBDIR)/pkcs11

install: $(BUILD)/jpki-pkcs11.so
	install -d $(DESTDIR)$(P11_MODULE_DIR) $(DESTDIR)$(P11_MODULE_CONFIGS)
	install -m 0644 $(BUILD)/jpki-pkcs11.so $(DESTDIR)$(P11_MODULE_DIR)/jpki-pkcs11.so
	sed 's|@MODULE@|$(P11_MODULE_DIR)/jpki-pkcs11.so|' packaging/jpki-pkcs11.module \
		>$(DESTDIR)$(P11_MODULE_CONFIGS)/jpki-pkcs11.module
	chmod 0644 $(DESTDIR)$(P11_MODULE_CONFIGS)/jpki-pkcs11.module

uninstall:
	rm -f $(DESTDIR)$(P11_MODULE_DIR)/jpki-pkcs11.so $(DESTDIR)$(P11_MODULE_CONFIGS)/jpki-pkcs11.module
	rmdir $(DESTDIR)$(P11_MODULE_DIR) 2>/dev/null || true

# The programs people use (issue "Works in the programs people use"), pkcs11-tool
# (issue "The PKCS#11 module"), Go through p11-kit remoting, NSS programs and LibreOffice;
# `make test` runs them too.
.PHONY: test-clients
test-clients: deps $(BUILD)/jpki-pkcs11.so $(BUILD)/jpki-vcard
	$(GO) test -count=1 ./test/clients/... ./test/module/ ./test/gop11/... ./test/nss/ ./test/libreoffice/
