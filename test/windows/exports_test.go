package windowstest

import (
	"debug/pe"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// exportName matches a line of objdump's "[Ordinal/Name Pointer] Table".
var exportName = regexp.MustCompile(`^\s*\[\s*\d+\]\s+(\S+)$`)

// TestDLLExportsOnlyC: build/jpki-pkcs11.dll is an x86-64 DLL that exports the Cryptoki
// functions and nothing else, and imports only KERNEL32 and msvcrt (winscard.dll is
// loaded lazily by ebfe/scard, so the DLL loads on any Windows without smart card
// components).
func TestDLLExportsOnlyC(t *testing.T) {
	need(t)
	dll := filepath.Join(env.root, "build", "jpki-pkcs11.dll")
	f, err := pe.Open(dll)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != pe.IMAGE_FILE_MACHINE_AMD64 || f.Characteristics&pe.IMAGE_FILE_DLL == 0 {
		t.Errorf("not an x86-64 DLL: machine %#x, characteristics %#x", f.Machine, f.Characteristics)
	}
	syms, err := f.ImportedSymbols() // "symbol:library"; ImportedLibraries is not implemented for PE
	if err != nil {
		t.Fatal(err)
	}
	libs := map[string]bool{}
	for _, s := range syms {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			libs[strings.ToLower(s[i+1:])] = true
		}
	}
	if !libs["kernel32.dll"] {
		t.Errorf("no imports from KERNEL32.dll: %d imported symbols", len(syms))
	}
	for l := range libs {
		if l != "kernel32.dll" && l != "msvcrt.dll" {
			t.Errorf("imports from %s (want only KERNEL32.dll and msvcrt.dll)", l)
		}
	}
	out, err := exec.Command("x86_64-w64-mingw32-objdump", "-p", dll).Output()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	in := false
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.Contains(line, "[Ordinal/Name Pointer] Table"):
			in = true
		case in && strings.TrimSpace(line) == "":
			in = false
		case in:
			if m := exportName.FindStringSubmatch(line); m != nil {
				names = append(names, m[1])
			}
		}
	}
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
		if !strings.HasPrefix(n, "C_") {
			t.Errorf("exports %s, which is not a Cryptoki function", n)
		}
	}
	for _, n := range []string{"C_GetFunctionList", "C_GetInterfaceList", "C_GetInterface", "C_Initialize", "C_Sign", "C_Login"} {
		if !have[n] {
			t.Errorf("does not export %s", n)
		}
	}
	if len(names) < 68 {
		t.Errorf("exports %d functions, want at least the 68 of PKCS#11 2.40", len(names))
	}
	t.Logf("%d exports, all C_*; imports %v", len(names), libs)
}
