package clienttest

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// ServerPKI is a throwaway TLS server CA and a server certificate it issued for
// 127.0.0.1 and localhost (Firefox refuses a self-signed CA certificate as a
// server's own), in PEM files.
type ServerPKI struct {
	CA   string // the CA certificate, to trust in the client
	Cert string // the server's certificate
	Key  string // the server's private key
}

// NewServerPKI makes a ServerPKI in a temporary directory; caName is the CA's
// common name.
func NewServerPKI(t testing.TB, caName string) ServerPKI {
	t.Helper()
	d := t.TempDir()
	p := ServerPKI{CA: filepath.Join(d, "ca.pem"), Cert: filepath.Join(d, "srv.pem"), Key: filepath.Join(d, "srv.key")}
	caKey, csr := filepath.Join(d, "ca.key"), filepath.Join(d, "srv.csr")
	MustRun(t, nil, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", p.CA,
		"-subj", "/CN="+caName, "-days", "2")
	MustRun(t, nil, "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", p.Key, "-out", csr,
		"-subj", "/CN=127.0.0.1")
	ext := WriteFile(t, d, "ext", []byte("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"), 0o600)
	MustRun(t, nil, "openssl", "x509", "-req", "-in", csr, "-CA", p.CA, "-CAkey", caKey, "-CAcreateserial",
		"-out", p.Cert, "-days", "2", "-extfile", ext)
	return p
}

// WriteFirefoxPrefs writes the profile prof's user.js for a test Firefox: it
// listens for Marionette on marionettePort, selects the client certificate by
// itself, asks no OCSP responder and makes no other connection of its own (updates,
// telemetry, captive portal, welcome pages).
func WriteFirefoxPrefs(t testing.TB, prof string, marionettePort int) {
	t.Helper()
	prefs := map[string]any{
		"marionette.port":                                   marionettePort,
		"security.default_personal_cert":                    "Select Automatically",
		"security.OCSP.enabled":                             0,
		"browser.shell.checkDefaultBrowser":                 false,
		"app.update.enabled":                                false,
		"datareporting.policy.dataSubmissionEnabled":        false,
		"datareporting.healthreport.uploadEnabled":          false,
		"toolkit.telemetry.enabled":                         false,
		"network.captive-portal-service.enabled":            false,
		"network.connectivity-service.enabled":              false,
		"browser.aboutwelcome.enabled":                      false,
		"browser.startup.homepage_override.mstone":          "ignore",
		"browser.newtabpage.activity-stream.feeds.snippets": false,
	}
	names := make([]string, 0, len(prefs))
	for k := range prefs {
		names = append(names, k)
	}
	sort.Strings(names)
	var js strings.Builder
	for _, k := range names {
		b, _ := json.Marshal(prefs[k])
		fmt.Fprintf(&js, "user_pref(%q, %s);\n", k, b)
	}
	WriteFile(t, prof, "user.js", []byte(js.String()), 0o600)
}
