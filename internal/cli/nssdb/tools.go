package nssdb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// ErrNoTools says NSS's command line tools are missing.
var ErrNoTools = errors.New("NSS's tools (modutil, certutil) are not installed: install them (Debian/Ubuntu: apt install libnss3-tools; Fedora: dnf install nss-tools)")

// toolTimeout bounds every modutil/certutil run.
const toolTimeout = 60 * time.Second

// Tools runs NSS's modutil and certutil.
type Tools struct {
	modutil, certutil string
}

// LookTools finds modutil and certutil in PATH.
func LookTools() (*Tools, error) {
	m, err1 := exec.LookPath("modutil")
	c, err2 := exec.LookPath("certutil")
	if err1 != nil || err2 != nil {
		return nil, ErrNoTools
	}
	return &Tools{modutil: m, certutil: c}, nil
}

// run runs a tool with stdin empty (a tool that would prompt fails instead) and
// returns its combined output.
func run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(nil)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("%s timed out after %v", filepath.Base(name), toolTimeout)
	}
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v: %s", filepath.Base(name), strings.Join(args, " "), err, lastLine(string(out)))
	}
	return string(out), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func sqlDir(dir string) string { return "sql:" + dir }

// Create makes an empty NSS sql database (no password) in dir, creating dir.
func (t *Tools) Create(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	_, err := run(t.certutil, "-N", "-d", sqlDir(dir), "--empty-password")
	return err
}

// Module is one PKCS#11 module registered in a database.
type Module struct {
	Name    string `json:"name"`
	Library string `json:"library"`
}

var moduleLine = regexp.MustCompile(`^\s*\d+\.\s+(.+?)\s*$`)

// Modules lists the modules registered in dir (the internal module has no library
// and is left out).
func (t *Tools) Modules(dir string) ([]Module, error) {
	out, err := run(t.modutil, "-dbdir", sqlDir(dir), "-list")
	if err != nil {
		return nil, err
	}
	var mods []Module
	var cur *Module
	for _, l := range strings.Split(out, "\n") {
		if m := moduleLine.FindStringSubmatch(l); m != nil {
			mods = append(mods, Module{Name: m[1]})
			cur = &mods[len(mods)-1]
			continue
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "library name:"); ok && cur != nil {
			cur.Library = strings.TrimSpace(v)
		}
	}
	var ext []Module
	for _, m := range mods {
		if m.Library != "" {
			ext = append(ext, m)
		}
	}
	return ext, nil
}

// AddModule registers library under name in dir (modutil -add; -force skips
// modutil's "is the browser closed?" question, which the caller has checked).
func (t *Tools) AddModule(dir, name, library string) error {
	_, err := run(t.modutil, "-dbdir", sqlDir(dir), "-add", name, "-libfile", library, "-force")
	return err
}

// DeleteModule removes the module called name from dir.
func (t *Tools) DeleteModule(dir, name string) error {
	_, err := run(t.modutil, "-dbdir", sqlDir(dir), "-delete", name, "-force")
	return err
}

// Cert is one certificate of a database, with its nickname and trust flags
// ("SSL,S/MIME,JAR/XPI", e.g. ",C,").
type Cert struct {
	Nickname string `json:"nickname"`
	Trust    string `json:"trust"`
	SHA256   string `json:"sha256"` // hex, lower case
}

var certLine = regexp.MustCompile(`^(.*\S)\s+([A-Za-z]*,[A-Za-z]*,[A-Za-z]*)\s*$`)

// Certs lists the certificates of dir's own token with their trust, each once.
// NSS finds certificates by nickname and then by subject, so a nickname's export
// also gives the other certificates of its subject (the JPKI roots of every
// generation share one): each certificate is listed under the first nickname that
// gives it.
func (t *Tools) Certs(dir string) ([]Cert, error) {
	out, err := run(t.certutil, "-L", "-d", sqlDir(dir))
	if err != nil {
		return nil, err
	}
	var certs []Cert
	seen, seenFP := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		m := certLine.FindStringSubmatch(l)
		if m == nil || m[1] == "Certificate Nickname" {
			continue
		}
		nick, trust := m[1], m[2]
		if seen[nick] {
			continue
		}
		seen[nick] = true
		p, err := run(t.certutil, "-L", "-d", sqlDir(dir), "-n", nick, "-a")
		if err != nil {
			return nil, err
		}
		rest := []byte(p)
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			fp := Fingerprint(b.Bytes)
			if !seenFP[fp] {
				seenFP[fp] = true
				certs = append(certs, Cert{Nickname: nick, Trust: trust, SHA256: fp})
			}
		}
	}
	return certs, nil
}

// Fingerprint is the SHA-256 of a DER certificate, hex.
func Fingerprint(der []byte) string {
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

// AddCert imports the DER certificate der into dir as nickname with trust
// (certutil -A -t).
func (t *Tools) AddCert(dir, nickname, trust string, der []byte) error {
	f, err := os.CreateTemp("", "jpki-setup-*.der")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(der); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	_, err = run(t.certutil, "-A", "-d", sqlDir(dir), "-n", nickname, "-t", trust, "-i", f.Name())
	return err
}

// DeleteCert removes the certificate called nickname from dir.
func (t *Tools) DeleteCert(dir, nickname string) error {
	_, err := run(t.certutil, "-D", "-d", sqlDir(dir), "-n", nickname)
	return err
}

// HasKeys tells whether dir holds a private key (certutil -K; a database with a
// password cannot be listed without it and is an error).
func (t *Tools) HasKeys(dir string) (bool, error) {
	out, err := run(t.certutil, "-K", "-d", sqlDir(dir))
	if err != nil {
		if strings.Contains(out, "no keys found") || strings.Contains(out, "SEC_ERROR_NO_KEY") {
			return false, nil
		}
		return false, err
	}
	return strings.Contains(out, "<"), nil
}
