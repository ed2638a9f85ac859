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

# Unit tests (no PC/SC), then integration tests against a private pcscd + virtual cards.
test: deps all
	$(GO) vet ./...
	$(GO) test -count=1 ./...

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
