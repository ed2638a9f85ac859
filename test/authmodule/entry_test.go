package authmodule

import (
	"os"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// TestOneLoginRequiredToken: pkcs11-tool through jpki-pkcs11-auth.so lists one
// token, JPKI Authentication, login-required, also when JPKI_PKCS11_TOKENS or the
// tokens= parameter ask for something else (the file loaded wins, and the module
// log says what it ignored); jpki-pkcs11.so beside it keeps both tokens.
func TestOneLoginRequiredToken(t *testing.T) {
	authSlot(t)
	e := env(t, "JPKI_PKCS11_TOKENS=sign")
	out := clienttest.MustRun(t, e, "pkcs11-tool", "--module", authModule(t), "-L")
	clienttest.Contains(t, "pkcs11-tool -L (auth entry, JPKI_PKCS11_TOKENS=sign)", out, "token label        : "+clienttest.AuthToken)
	if strings.Contains(out, clienttest.SignToken) {
		t.Fatalf("JPKI_PKCS11_TOKENS=sign changed what jpki-pkcs11-auth.so shows:\n%s", out)
	}
	if clienttest.LogCount(t, e, `authentication-only entry point: ignoring JPKI_PKCS11_TOKENS`) == 0 {
		t.Fatal("the module log does not say that JPKI_PKCS11_TOKENS was ignored")
	}
	both := clienttest.MustRun(t, env(t), "pkcs11-tool", "--module", fx.Module, "-L")
	clienttest.Contains(t, "pkcs11-tool -L (jpki-pkcs11.so)", both, clienttest.AuthToken, clienttest.SignToken)
}

// TestOneModuleForBothNames: a process that loads both files holds one module
// (one Go runtime): the C test host dlopens jpki-pkcs11.so, initialises it, then
// takes jpki-pkcs11-auth.so's function list, whose C_Initialize answers
// CKR_CRYPTOKI_ALREADY_INITIALIZED and whose C_GetSlotList is the same module's.
func TestOneModuleForBothNames(t *testing.T) {
	authSlot(t)
	dir := t.TempDir()
	src := clienttest.WriteFile(t, dir, "both.c", []byte(bothC), 0o600)
	bin := dir + "/both"
	clienttest.MustRun(t, nil, "cc", "-std=gnu11", "-Wall", "-I", fx.Root+"/include", "-o", bin, src, "-ldl")
	out := clienttest.MustRun(t, env(t), bin, fx.Module, authModule(t))
	clienttest.Contains(t, "both names in one process", out, "plain C_Initialize: 0x0", "auth C_Initialize: 0x191",
		"same C_GetSlotList: yes", "slots with a token: 2")
	if _, err := os.Stat(bin); err != nil {
		t.Fatal(err)
	}
}

const bothC = `#include <dlfcn.h>
#include <stdio.h>
#include "pkcs11.h"
int main(int argc, char **argv) {
	if (argc != 3) return 2;
	void *a = dlopen(argv[1], RTLD_NOW), *b = dlopen(argv[2], RTLD_NOW);
	if (!a || !b) { printf("dlopen: %s\n", dlerror()); return 1; }
	CK_FUNCTION_LIST_PTR fa, fb;
	((CK_C_GetFunctionList)dlsym(a, "C_GetFunctionList"))(&fa);
	((CK_C_GetFunctionList)dlsym(b, "C_GetFunctionList"))(&fb);
	printf("plain C_Initialize: 0x%lx\n", (unsigned long)fa->C_Initialize(NULL));
	printf("auth C_Initialize: 0x%lx\n", (unsigned long)fb->C_Initialize(NULL));
	printf("same C_GetSlotList: %s\n", fa->C_GetSlotList == fb->C_GetSlotList ? "yes" : "no");
	CK_ULONG n = 0;
	fb->C_GetSlotList(CK_TRUE, NULL, &n);
	printf("slots with a token: %lu\n", (unsigned long)n);
	fa->C_Finalize(NULL);
	return 0;
}
`
