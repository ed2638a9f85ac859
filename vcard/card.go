package vcard

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

// ATRs of the emulated cards (JPKI.md §1): a My Number Card's contact interface, an
// old Juki card, and a phone on a contactless reader (the reader builds that ATR,
// PC/SC part 3: ISO 14443-4 without historical bytes).
var (
	ATRMyNumber = []byte{0x3B, 0xDA, 0x13, 0xFF, 0x81, 0x31, 0xFB, 0x46, 0x80, 0x12, 0x39, 0x2F, 0x31, 0xC1, 0x73, 0xC6, 0x01, 0xC0, 0x3B}
	ATRJuki     = []byte{0x3B, 0xE0, 0x00, 0xFF, 0x81, 0x31, 0xFE, 0x45, 0x14}
	ATRPhone    = []byte{0x3B, 0x80, 0x80, 0x01, 0x01}
)

// Names of the files in a card directory.
const (
	FileAuthKey   = "auth.key"
	FileSignKey   = "sign.key"
	FileAuthCert  = "auth.der"
	FileSignCert  = "sign.der"
	FileAuthCA    = "authca.der"
	FileSignCA    = "signca.der"
	FileAuthCAKey = "authca.key"
	FileSignCAKey = "signca.key"
	FileState     = "state.json"
)

// state is what state.json holds: the options the card was made with and the
// persistent part of the card (PINs and retry counters).
type state struct {
	Options   Options `json:"options"`
	AuthPIN   string  `json:"auth_pin"`
	SignPIN   string  `json:"sign_pin"`
	AuthTries int     `json:"auth_tries"`
	SignTries int     `json:"sign_tries"`
}

// Card is one virtual My Number Card. All methods are safe for concurrent use.
type Card struct {
	mu       sync.Mutex
	dir      string // "" for a card that lives in memory only
	st       state
	authKey  *rsa.PrivateKey
	signKey  *rsa.PrivateKey // nil on an under-15 card
	files    map[uint16][]byte
	latency  time.Duration
	log      func(cmd, resp []byte)
	commands int

	// ecAuth and ecSign are the keys of a next-generation card (then authKey and
	// signKey are nil; ecSign nil on an under-15 card).
	ecAuth, ecSign *ecdsa.PrivateKey

	// Volatile state, lost on Reset.
	ap       apState
	curEF    uint16
	verified map[uint16]bool // PIN EF -> verified
	seKey    byte            // next generation: key of the security environment (MSE:SET), 0 none
	gen      uint64          // bumped by every Reset (transports see card.ErrReset)
	tx       chan struct{}   // PC/SC-like transaction lock (capacity 1)
}

type apState int

const (
	apNone apState = iota
	apJPKI
	apOther
	apNext // the next generation's authentication AP
)

// Create makes a new card in dir (created if needed; existing card files are
// overwritten): keys, certificates and state.json.
func Create(dir string, o Options) error {
	o, err := o.withDefaults(time.Now())
	if err != nil {
		return err
	}
	m, err := makeMaterial(o)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("card dir: %w", err)
	}
	write := func(name string, b []byte) error {
		if b == nil {
			_ = os.Remove(filepath.Join(dir, name))
			return nil
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		return nil
	}
	files := []struct {
		name string
		b    []byte
	}{
		{FileAuthKey, keyPEM(m.authKey)}, {FileSignKey, keyPEM(m.signKey)},
		{FileAuthCAKey, keyPEM(m.authCAKey)}, {FileSignCAKey, keyPEM(m.signCAKey)},
		{FileAuthCert, m.authCert}, {FileSignCert, m.signCert},
		{FileAuthCA, m.authCA}, {FileSignCA, m.signCA},
	}
	for _, f := range files {
		if err := write(f.name, f.b); err != nil {
			return err
		}
	}
	c := newCard(dir, o, m)
	return c.persist()
}

// NewInMemory makes a card that lives in memory only (nothing persisted).
func NewInMemory(o Options) (*Card, error) {
	o, err := o.withDefaults(time.Now())
	if err != nil {
		return nil, err
	}
	m, err := makeMaterial(o)
	if err != nil {
		return nil, err
	}
	return newCard("", o, m), nil
}

// Open loads the card Create wrote in dir, with its PINs and retry counters.
func Open(dir string) (*Card, error) {
	raw, err := os.ReadFile(filepath.Join(dir, FileState))
	if err != nil {
		return nil, fmt.Errorf("open virtual card: %w", err)
	}
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("open virtual card: %s: %w", FileState, err)
	}
	var m material
	read := func(name string, optional bool) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if optional && errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("open virtual card: %w", err)
		}
		return b, nil
	}
	under15 := st.Options.Under15
	if m.authCert, err = read(FileAuthCert, false); err != nil {
		return nil, err
	}
	if m.authCA, err = read(FileAuthCA, false); err != nil {
		return nil, err
	}
	if m.signCert, err = read(FileSignCert, under15); err != nil {
		return nil, err
	}
	if m.signCA, err = read(FileSignCA, under15); err != nil {
		return nil, err
	}
	if m.authKey, err = readKey(dir, FileAuthKey); err != nil {
		return nil, err
	}
	if !under15 {
		if m.signKey, err = readKey(dir, FileSignKey); err != nil {
			return nil, err
		}
	}
	c := newCard(dir, st.Options, &m)
	c.st = st
	return c, nil
}

func keyPEM(k crypto.Signer) []byte {
	if k == nil {
		return nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err) // an RSA or ECDSA P-384 key always marshals
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// readKey reads a holder key: RSA on today's cards, ECDSA on the next generation.
func readKey(dir, name string) (crypto.Signer, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("open virtual card: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("open virtual card: %s is not PEM", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("open virtual card: %s: %w", name, err)
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("open virtual card: %s is neither an RSA nor an ECDSA key", name)
}

func newCard(dir string, o Options, m *material) *Card {
	c := &Card{
		dir: dir,
		st: state{Options: o, AuthPIN: o.AuthPIN, SignPIN: o.SignPIN,
			AuthTries: card.AuthKey.MaxTries(), SignTries: card.SignKey.MaxTries()},
		latency:  o.Latency,
		verified: map[uint16]bool{},
		tx:       make(chan struct{}, 1),
	}
	c.st.Options.AuthPIN, c.st.Options.SignPIN = "", "" // kept once, in the state
	c.authKey, _ = m.authKey.(*rsa.PrivateKey)
	c.signKey, _ = m.signKey.(*rsa.PrivateKey)
	if o.Generation == GenerationNext {
		c.ecAuth, _ = m.authKey.(*ecdsa.PrivateKey)
		c.ecSign, _ = m.signKey.(*ecdsa.PrivateKey)
		c.files = nextFiles(m, o)
		return c
	}
	label := card.LabelMyNumber
	switch {
	case o.Juki:
		label = card.LabelJuki
	case o.Phone == PhoneAndroid:
		label = card.LabelAndroid
	case o.Phone == PhoneIOS:
		label = card.LabelIPhone
	}
	c.files = map[uint16][]byte{
		card.EFTokenInfo:  tokenInfo(label, o.TokenSerial),
		card.EFAuthCert:   m.authCert,
		card.EFAuthCACert: m.authCA,
		card.EFPresence:   {0x00, card.PresentCert, 0x00},
	}
	if m.signCert != nil {
		c.files[card.EFSignCert] = m.signCert
		c.files[card.EFSignCACert] = m.signCA
		c.files[card.EFPresence] = []byte{card.PresentCert, card.PresentCert, 0x00}
	}
	if o.EF0008 != nil {
		c.files[card.EFPresence] = bytes.Clone(o.EF0008)
	}
	return c
}

// tokenInfo builds EF 0006 as on the test card of shared/JPKI.md §8: a
// CK_TOKEN_INFO serialised with 32-bit big-endian CK_ULONGs (160 bytes): label
// (32, space padded), manufacturer (32), model (16), serial (16), flags, session
// counts, PIN lengths, memory, hardware and firmware versions, time (16). The
// manufacturer and model strings are this emulation's own.
func tokenInfo(label, serial string) []byte {
	pad := func(s string, n int) []byte {
		b := []byte(s)
		for len(b) < n {
			b = append(b, ' ')
		}
		return b[:n]
	}
	b := pad(label, 32)
	b = append(b, pad("J-LIS", 32)...)
	b = append(b, pad("JPKI-TEST", 16)...)
	b = append(b, pad(serial, 16)...)
	ulong := func(v uint32) { b = binary.BigEndian.AppendUint32(b, v) }
	ulong(0x0000040D)                     // flags: RNG, LOGIN_REQUIRED, USER_PIN_INITIALIZED, TOKEN_INITIALIZED
	ulong(0)                              // max sessions
	ulong(0)                              // sessions
	ulong(0)                              // max R/W sessions
	ulong(0)                              // R/W sessions
	ulong(16)                             // max PIN length
	ulong(6)                              // min PIN length
	ulong(0)                              // total public memory
	ulong(0)                              // free public memory
	ulong(0)                              // total private memory
	ulong(0)                              // free private memory
	b = append(b, 0x03, 0x00, 0x01, 0x00) // hardware 3.0, firmware 1.0
	return append(b, pad("", 16)...)      // time: none
}

// persist writes state.json (atomically); a card in memory persists nothing.
// The caller holds c.mu.
func (c *Card) persist() error {
	if c.dir == "" {
		return nil
	}
	b, err := json.MarshalIndent(c.st, "", "  ")
	if err != nil {
		return fmt.Errorf("virtual card state: %w", err)
	}
	tmp := filepath.Join(c.dir, FileState+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("virtual card state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, FileState)); err != nil {
		return fmt.Errorf("virtual card state: %w", err)
	}
	return nil
}

// ATR returns the card's answer to reset.
func (c *Card) ATR() []byte {
	switch {
	case c.next():
		return append([]byte(nil), ATRNext...)
	case c.st.Options.Juki:
		return append([]byte(nil), ATRJuki...)
	case c.st.Options.Phone != "":
		return append([]byte(nil), ATRPhone...)
	}
	return append([]byte(nil), ATRMyNumber...)
}

// Reset power-cycles the card: no AP selected, every verified PIN forgotten.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resetLocked()
}

func (c *Card) resetLocked() {
	c.deselect()
	c.ap = apNone
	c.gen++
}

func (c *Card) deselect() {
	c.curEF, c.seKey = 0, 0
	clear(c.verified)
}

func (c *Card) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// SetAPDULog sets a function called after every command with the command (PIN
// bytes of VERIFY and CHANGE REFERENCE DATA replaced by '*') and the response.
// nil turns logging off.
func (c *Card) SetAPDULog(f func(cmd, resp []byte)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = f
}

// SetLatency changes the delay added to every APDU.
func (c *Card) SetLatency(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.latency = d
}

// Commands returns how many command APDUs the card has processed.
func (c *Card) Commands() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.commands
}

// Status is a snapshot of the card's persistent state, for tests and `jpki-vcard info`.
type Status struct {
	Options              Options // as created (PINs left out)
	AuthTries, SignTries int
	AuthCert, SignCert   []byte // DER; SignCert nil on an under-15 card
	AuthCA, SignCA       []byte
}

// Status reports the card's options, retry counters and certificates.
func (c *Card) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.certFile
	return Status{Options: c.st.Options, AuthTries: c.st.AuthTries, SignTries: c.st.SignTries,
		AuthCert: bytes.Clone(c.files[f(card.EFAuthCert)]), SignCert: bytes.Clone(c.files[f(card.EFSignCert)]),
		AuthCA: bytes.Clone(c.files[f(card.EFAuthCACert)]), SignCA: bytes.Clone(c.files[f(card.EFSignCACert)])}
}

// MaskPIN returns a copy of cmd with the data of VERIFY (INS 20) and CHANGE
// REFERENCE DATA (INS 24) replaced by '*' bytes.
func MaskPIN(cmd []byte) []byte {
	out := append([]byte(nil), cmd...)
	if len(out) > 5 && (out[1] == 0x20 || out[1] == 0x24) {
		for i := 5; i < len(out); i++ {
			out[i] = '*'
		}
	}
	return out
}
