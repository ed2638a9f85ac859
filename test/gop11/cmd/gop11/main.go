// Command gop11 drives a PKCS#11 module from Go the way Go programs do, with
// github.com/miekg/pkcs11 and github.com/ThalesGroup/crypto11, for the test in
// test/gop11. It loads ONLY p11-kit's remoting client (p11-kit-client.so); the
// jpki-pkcs11 module runs in a `p11-kit server` process (P11_KIT_SERVER_ADDRESS),
// never inside a Go process.
//
//	gop11 -module p11-kit-client.so list
//	    JSON on stdout: every token, its objects and their attributes.
//	GOP11_PIN=... gop11 -module p11-kit-client.so -token LABEL -id 02 [-pss] sign
//	    crypto11: a crypto.Signer for the key pair with CKA_ID id signs a random
//	    SHA-256 digest; the signature is verified here with crypto/rsa and the
//	    token's certificate, and printed as JSON (digest, signature, certificate).
//	GOP11_PIN=... gop11 -module p11-kit-client.so -token LABEL -id 02 removal
//	    signs, says "PULL" and waits for a line on stdin (the card is pulled),
//	    checks that the session is gone, says "INSERT", waits for a line, waits
//	    for the token to come back and signs again. Progress as JSON lines.
//	GOP11_PIN=... gop11 -module p11-kit-client.so -token LABEL -id 02 reset
//	    logs in and signs, says "RESET" and waits for a line (another application
//	    resets the card), checks that signing now says CKR_USER_NOT_LOGGED_IN, logs
//	    in again and signs.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/miekg/pkcs11"
)

func main() {
	module := flag.String("module", "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so", "PKCS#11 module to load (p11-kit-client.so)")
	token := flag.String("token", "", "token label (sign, removal)")
	id := flag.String("id", "", "CKA_ID of the key pair in hex (sign, removal)")
	pss := flag.Bool("pss", false, "sign with RSA-PSS instead of PKCS#1 v1.5 (sign)")
	flag.Parse()
	if err := run(*module, flag.Arg(0), *token, *id, *pss); err != nil {
		fmt.Fprintln(os.Stderr, "gop11:", err)
		os.Exit(1)
	}
}

func run(module, cmd, token, id string, pss bool) error {
	// The rule of the project: a Go process never loads our Go module.
	if filepath.Base(module) != "p11-kit-client.so" {
		return fmt.Errorf("refusing to load %s: only p11-kit-client.so may be loaded into a Go process", module)
	}
	pin := os.Getenv("GOP11_PIN")
	switch cmd {
	case "list":
		return list(module)
	case "sign":
		return sign(module, token, id, pin, pss)
	case "removal":
		return removal(module, token, id, pin)
	case "reset":
		return reset(module, token, id, pin)
	case "":
		return errors.New("no command (list, sign, removal, reset)")
	}
	return fmt.Errorf("unknown command %q", cmd)
}

// emit prints v as one JSON line on stdout.
func emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gop11: json:", err)
		os.Exit(1)
	}
	fmt.Println(string(b))
}

// load loads the PKCS#11 module and initialises it; unload finalises and unloads
// it.
func load(module string) (p *pkcs11.Ctx, unload func(), err error) {
	p = pkcs11.New(module)
	if p == nil {
		return nil, nil, fmt.Errorf("cannot load %s", module)
	}
	if err := p.Initialize(); err != nil {
		return nil, nil, fmt.Errorf("C_Initialize: %w", err)
	}
	return p, func() { p.Finalize(); p.Destroy() }, nil
}
