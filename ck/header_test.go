package ck

import (
	"bufio"
	"go/ast"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// headerDefines reads every "#define CK... value" of include/pkcs11t.h.
func headerDefines(t *testing.T) map[string]uint64 {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "include", "pkcs11t.h"))
	if err != nil {
		t.Fatalf("the PKCS#11 header must exist: %v", err)
	}
	defer f.Close()
	out := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || fields[0] != "#define" || !strings.HasPrefix(fields[1], "CK") {
			continue
		}
		v := strings.Join(fields[2:], "")
		if i := strings.Index(v, "/*"); i >= 0 {
			v = v[:i]
		}
		if v == "(~0UL)" {
			out[fields[1]] = ^uint64(0)
			continue
		}
		if ref, ok := out[v]; ok {
			out[fields[1]] = ref
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSuffix(v, "UL"), "U"), 0, 64)
		if err != nil {
			continue // not a number (types, macros)
		}
		out[fields[1]] = n
	}
	if len(out) < 300 {
		t.Fatalf("only %d constants read from pkcs11t.h", len(out))
	}
	return out
}

// goConstants type-checks this package's non-test sources and returns the value
// of every exported constant whose name starts with CK.
func goConstants(t *testing.T) map[string]uint64 {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool {
		n := fi.Name()
		return !strings.HasSuffix(n, "_test.go") && !strings.HasSuffix(n, "_windows.go")
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, f := range pkgs["ck"].Files {
		files = append(files, f)
	}
	conf := types.Config{Importer: importer.Default()}
	pkg, err := conf.Check("ck", fset, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, name := range pkg.Scope().Names() {
		c, ok := pkg.Scope().Lookup(name).(*types.Const)
		if !ok || !strings.HasPrefix(name, "CK") {
			continue
		}
		v, ok := constant.Uint64Val(constant.ToInt(c.Val()))
		if !ok {
			t.Fatalf("%s: not an unsigned constant", name)
		}
		out[name] = v
	}
	return out
}

func TestConstantsMatchHeader(t *testing.T) {
	h := headerDefines(t)
	g := goConstants(t)
	// names we define that the header spells differently (aliases kept for callers)
	aliases := map[string]bool{"CKM_SHA1": true}
	checked := 0
	for name, v := range g {
		hv, ok := h[name]
		if !ok {
			if !aliases[name] {
				t.Errorf("%s = %#x is not in include/pkcs11t.h", name, v)
			}
			continue
		}
		if hv != v {
			t.Errorf("%s: Go %#x, header %#x", name, v, hv)
		}
		checked++
	}
	t.Logf("%d constants checked against the header", checked)
}
