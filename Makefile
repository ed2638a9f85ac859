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
