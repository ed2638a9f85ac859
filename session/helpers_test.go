package session

import (
	"bytes"
	"crypto/x509"
	"errors"
	"log/slog"
	"os"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

const reader0 = "Virtual Reader 0"

func newVCard(t testing.TB, o vcard.Options) *vcard.Card {
	t.Helper()
	c, err := vcard.NewInMemory(o)
	if err != nil {
		t.Fatalf("virtual card: %v", err)
	}
	return c
}

// setup makes a Manager over one reader holding a card made with o.
func setup(t testing.TB, o vcard.Options) (*Manager, *fakeSystem, *vcard.Card) {
	t.Helper()
	sys := newFakeSystem(reader0)
	c := newVCard(t, o)
	sys.Insert(reader0, c)
	m := newManager(t, sys)
	return m, sys, c
}

func newManager(t testing.TB, sys *fakeSystem) *Manager {
	t.Helper()
	var log *slog.Logger
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	m, err := New(Config{System: sys, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// wantRV fails unless err is the CK_RV want.
func wantRV(t testing.TB, what string, err error, want ck.RV) {
	t.Helper()
	var rv ck.RV
	if err == nil {
		rv = ck.CKR_OK
	} else if !errors.As(err, &rv) {
		t.Fatalf("%s: error %v (%T) is not a ck.RV", what, err, err)
	}
	if rv != want {
		t.Fatalf("%s: got %v, want %v", what, rv, want)
	}
}

func must(t testing.TB, what string, err error) {
	t.Helper()
	wantRV(t, what, err, ck.CKR_OK)
}

func open(t testing.TB, m *Manager, slot ck.ULong, rw bool) ck.ULong {
	t.Helper()
	flags := ck.CKF_SERIAL_SESSION
	if rw {
		flags |= ck.CKF_RW_SESSION
	}
	h, err := m.OpenSession(slot, flags)
	must(t, "OpenSession", err)
	if h == 0 {
		t.Fatal("session handle 0")
	}
	return h
}

func classTmpl(class ck.ULong) []Attribute {
	return []Attribute{{Type: ck.CKA_CLASS, Value: ck.EncodeULong(class)}}
}

// find returns all objects matching tmpl.
func find(t testing.TB, m *Manager, h ck.ULong, tmpl []Attribute) []ck.ULong {
	t.Helper()
	must(t, "FindObjectsInit", m.FindObjectsInit(h, tmpl))
	var all []ck.ULong
	for {
		got, err := m.FindObjects(h, 2)
		must(t, "FindObjects", err)
		if len(got) == 0 {
			break
		}
		all = append(all, got...)
	}
	must(t, "FindObjectsFinal", m.FindObjectsFinal(h))
	return all
}

func attr(t testing.TB, m *Manager, h, obj, typ ck.ULong) []byte {
	t.Helper()
	v, err := m.GetAttributeValue(h, obj, []ck.ULong{typ})
	must(t, "GetAttributeValue", err)
	if v[0].Err != ck.CKR_OK {
		t.Fatalf("attribute %#x: %v", typ, v[0].Err)
	}
	return v[0].Value
}

func labels(t testing.TB, m *Manager, h ck.ULong, objs []ck.ULong) []string {
	t.Helper()
	var out []string
	for _, o := range objs {
		out = append(out, string(attr(t, m, h, o, ck.CKA_LABEL)))
	}
	return out
}

func certOf(t testing.TB, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// apduLog records the commands a card receives.
type apduLog struct{ cmds [][]byte }

func logAPDUs(c *vcard.Card) *apduLog {
	l := &apduLog{}
	c.SetAPDULog(func(cmd, resp []byte) { l.cmds = append(l.cmds, bytes.Clone(cmd)) })
	return l
}

// selected reports whether an EF (SELECT P1=02) was selected.
func (l *apduLog) selected(fid uint16) bool {
	for _, c := range l.cmds {
		if len(c) >= 7 && c[1] == 0xA4 && c[2] == 0x02 && c[5] == byte(fid>>8) && c[6] == byte(fid) {
			return true
		}
	}
	return false
}
