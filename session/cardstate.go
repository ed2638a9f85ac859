package session

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/card/nextgen"
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/objects"
)

// objectsPerCard is the block of object handles reserved for one card insertion:
// 8 per token. Handles are never reused: a new insertion gets a new block.
const objectsPerCard = 16

// cardState is one insertion of a card in a reader. It lives until the card is
// removed (or replaced); nothing read from the card outlives it.
type cardState struct {
	m       *Manager
	reader  string
	idx     int
	events  uint32
	objBase ck.ULong
	gone    bool // guarded by Manager.mu

	// mu is the card lock: it guards c and certs, and is held around every
	// card operation. objs and pss are written with both mu and smu held, so
	// they may be read under either (a cached object needs no card lock).
	mu    sync.Mutex
	c     card.Generation // today's JPKI application until identification finds another generation
	certs map[uint16]*certEntry
	objs  map[ck.ULong]*objects.Object
	pss   int8 // RSASSA-PSS: 0 not probed yet, 1 supported, -1 not
	dead  bool // transport closed: this insertion is over, never reconnect

	// qmu guards the queue of card operations waiting for the one that runs
	// (see run); a leaf lock held for no I/O.
	qmu     sync.Mutex
	running bool
	queue   []*cardJob

	// smu guards the facts below; it is a leaf lock held for no I/O.
	smu        sync.Mutex
	identified bool
	info       card.Info
	alg        card.Algorithm // of the card's generation (set with identified)
	serial     string
	tries      [3]int  // by card.Key; -1 unknown
	loggedIn   [3]bool // by card.Key: login state shared by the token's sessions
}

// certEntry caches one certificate file (or the fact that it is absent).
type certEntry struct {
	cert *objects.Certificate
	err  error
}

// keyOf is the card key behind a token.
func keyOf(t objects.Token) card.Key {
	if t == objects.SignToken {
		return card.SignKey
	}
	return card.AuthKey
}

// cardJob is a card operation queued behind the running one.
type cardJob struct {
	f     func(c card.Generation) error
	err   error
	panic any           // what f panicked with, re-raised in its caller
	lead  bool          // not run: its caller runs it and leads the queue
	done  chan struct{} // closed when err is set or lead is true
}

// maxCombined bounds how many queued operations one caller runs for the others
// before it hands the queue over (so its own call returns in bounded time).
const maxCombined = 8

// run runs f on the card, under the card lock, after the operations queued
// before it. The card serialises anyway; what matters with several threads on
// one card is that it never idles between two operations. So the caller that
// runs an operation also runs those queued meanwhile (up to maxCombined), one
// after the other on its own thread with no thread hand-off in between, and in
// one PC/SC transaction (card.Card.Batch: no END and BEGIN between them). Each
// waiting caller is woken as soon as its own operation is done, so it can
// prepare its next one while the card works; after maxCombined the queue is
// handed over to the next caller, so the leader's own call returns in bounded
// time and other applications get the card. A caller whose operation ran
// elsewhere returns its result (or its panic) as if it had run it.
func (cs *cardState) run(f func(c card.Generation) error) error {
	cs.qmu.Lock()
	if cs.running {
		j := &cardJob{f: f, done: make(chan struct{})}
		cs.queue = append(cs.queue, j)
		cs.qmu.Unlock()
		<-j.done
		if !j.lead {
			if j.panic != nil {
				panic(j.panic)
			}
			return j.err
		}
		// the previous caller handed the queue over: run f and lead
	} else {
		cs.running = true
		cs.qmu.Unlock()
	}
	own := &cardJob{f: f}
	var next *cardJob // the caller the queue is handed over to
	cs.mu.Lock()
	cs.batchLocked(func() {
		cs.runJob(own)
		for ran := 0; ; ran++ {
			cs.qmu.Lock()
			if len(cs.queue) == 0 {
				cs.running = false
				cs.qmu.Unlock()
				return
			}
			j := cs.queue[0]
			cs.queue = cs.queue[1:]
			cs.qmu.Unlock()
			if ran == maxCombined {
				next = j
				return
			}
			cs.runJob(j)
			close(j.done)
		}
	})
	cs.mu.Unlock()
	if next != nil {
		next.lead = true
		close(next.done) // after the batch's transaction ended
	}
	if own.panic != nil {
		panic(own.panic)
	}
	return own.err
}

// batchLocked runs f, whose card operations share one PC/SC transaction when
// the card is connected and identified (card lock held; see card.Card.Batch).
// Before its identification the card's generation is not known (card.Open may
// choose another than the connection's first one): each operation then has its
// own transaction.
func (cs *cardState) batchLocked(f func()) {
	if cs.dead || cs.c == nil || !cs.facts().identified {
		f()
		return
	}
	cs.c.Batch(f)
}

// runJob runs j.f (card lock held), keeping its error or its panic.
func (cs *cardState) runJob(j *cardJob) {
	defer func() {
		if p := recover(); p != nil {
			j.panic = p
		}
	}()
	j.err = cs.runLocked(j.f)
}

// runLocked connects if needed and runs f (card lock held); it then updates
// the login state from the card's model (a reset or logout seen by the card
// layer ends the token's login).
func (cs *cardState) runLocked(f func(c card.Generation) error) error {
	if cs.dead {
		return fmt.Errorf("reader %q: %w", cs.reader, card.ErrRemoved)
	}
	if cs.c == nil {
		t, err := cs.m.sys.Connect(cs.reader)
		if err != nil {
			return fmt.Errorf("connect to %q: %w", cs.reader, err)
		}
		cs.c = card.New(t)
	}
	err := f(cs.c)
	cs.smu.Lock()
	for _, k := range []card.Key{card.AuthKey, card.SignKey} {
		if cs.loggedIn[k] && !cs.c.LoggedIn(k) {
			cs.loggedIn[k] = false
			cs.m.log.Info("login lost (card reset or state changed)", "reader", cs.reader, "key", k.String())
		}
	}
	cs.smu.Unlock()
	return err
}

// close releases the card's transport (waits for the card lock).
func (cs *cardState) close() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.closeLocked()
}

func (cs *cardState) closeLocked() {
	cs.dead = true
	if cs.c != nil {
		cs.c.Transport().Close()
		cs.c = nil
	}
}

// logoutAll drops every verified PIN on the card (card lock held).
func (cs *cardState) logoutAll() {
	if cs.c == nil {
		return
	}
	for _, k := range []card.Key{card.AuthKey, card.SignKey} {
		if cs.c.LoggedIn(k) {
			cs.c.Logout(k)
		}
	}
}

// isLoggedIn reports the token's login state.
func (cs *cardState) isLoggedIn(k card.Key) bool {
	cs.smu.Lock()
	defer cs.smu.Unlock()
	return cs.loggedIn[k]
}

func (cs *cardState) setLoggedIn(k card.Key, v bool) {
	cs.smu.Lock()
	cs.loggedIn[k] = v
	cs.smu.Unlock()
}

func (cs *cardState) setTries(k card.Key, n int) {
	cs.smu.Lock()
	cs.tries[k] = n
	cs.smu.Unlock()
}

// facts is a snapshot of what identification found.
type facts struct {
	identified bool
	info       card.Info
	alg        card.Algorithm
	serial     string
	tries      [3]int
}

func (cs *cardState) facts() facts {
	cs.smu.Lock()
	defer cs.smu.Unlock()
	return facts{cs.identified, cs.info, cs.alg, cs.serial, cs.tries}
}

// hasToken reports whether the card shows token t (identified first).
func (f facts) hasToken(t objects.Token) bool {
	if !f.identified {
		return false
	}
	if !card.TokenKinds(f.info.Kind) {
		return false
	}
	if t == objects.SignToken {
		return f.info.HasSignCert
	}
	return true
}

// identify reads what the slot list and token info need, once per insertion: the
// card's generation (card.Open: today's JPKI application first, so a card issued
// so far gets the same APDUs as ever, then the next generation, whose assumed
// commands reach only a card that identifies as one), its label/presence files
// and the head of the authentication certificate (for the serial). The PIN
// counters are read per token by TokenInfo. Errors leave the card unidentified
// (tried again on the next call).
func (m *Manager) identify(cs *cardState) facts {
	if f := cs.facts(); f.identified {
		return f
	}
	err := m.withCard(cs, func(c card.Generation) error {
		if cs.facts().identified {
			return nil
		}
		g, info, err := card.Open(c.Transport(), nextgen.Generation)
		if err != nil {
			return fmt.Errorf("identify: %w", err)
		}
		cs.c, c = g, g
		if card.PresenceUnexplained(info.Presence) {
			m.log.Warn("EF 0008 holds a value other than 00 or 8F: taken as a present certificate",
				"reader", cs.reader, "ef0008", fmt.Sprintf("% X", info.Presence))
		}
		serial := ""
		switch {
		case info.Kind == card.KindNotJPKI:
			m.log.Info("card without the JPKI application: no token", "reader", cs.reader)
		case info.Kind == card.KindUnknownJPKI:
			m.log.Warn(info.Kind.String()+": no token: "+card.NotYetSupported, "reader", cs.reader,
				"application", fmt.Sprintf("% X", info.OtherAP), "why", info.Reason)
		case info.Kind == card.KindJuki:
			m.log.Info("Juki card: its JPKI certificates have all expired (none issued since 2015): no token", "reader", cs.reader)
		case info.Kind == card.KindIPhone:
			m.log.Warn("iPhone smartphone certificate: no token: "+card.IPhoneNotSupported, "reader", cs.reader)
		case info.AuthCertNeedsPIN:
			// nothing that names the holder is readable before the PIN: the
			// token-info serial names the token
			serial = tokenSerial(info.Token)
			if !info.Token.SerialUsable() {
				m.log.Warn("the token info holds no serial number: the token serial may not tell this token from another",
					"reader", cs.reader, "kind", info.Kind.String())
			}
		default:
			head, err := c.ReadHead(card.EFAuthCert, 255)
			if err != nil && !errors.Is(err, card.ErrFileNotFound) {
				return fmt.Errorf("authentication certificate head: %w", err)
			}
			serial = serialFrom(head)
		}
		cs.smu.Lock()
		cs.identified, cs.info, cs.alg, cs.serial = true, info, g.Algorithm(), serial
		cs.smu.Unlock()
		m.log.Info("card identified", "reader", cs.reader, "kind", info.Kind.String(),
			"keys", g.Algorithm().String(), "sign_cert", info.HasSignCert, "auth_cert_needs_pin", info.AuthCertNeedsPIN, "serial", serial)
		return nil
	})
	if err != nil {
		m.log.Warn("card identification failed", "reader", cs.reader, "err", err)
	}
	return cs.facts()
}

// serialFrom derives the 16-character token serial from the head of the
// authentication certificate: its serial number in hex, left-padded with zeros,
// or the first 16 hex digits of its SHA-256 when longer.
func serialFrom(head []byte) string {
	sn, ok := objects.SerialFromHead(head)
	if !ok {
		return strings.Repeat("0", 16)
	}
	h := strings.ToUpper(hex.EncodeToString(sn))
	if len(h) > 16 {
		sum := sha256.Sum256(sn)
		return strings.ToUpper(hex.EncodeToString(sum[:8]))
	}
	return strings.Repeat("0", 16-len(h)) + h
}

// tokenSerial derives the 16-character token serial of a card whose certificate
// is not readable before the PIN from EF 0006: its serial field, or when that is
// empty the first 16 hex digits of the SHA-256 of the token info.
func tokenSerial(ti card.TokenInfo) string {
	if ti.SerialUsable() {
		s := strings.ReplaceAll(ti.Serial, " ", "0")
		return strings.Repeat("0", 16-len(s)) + s
	}
	sum := sha256.Sum256([]byte(ti.Label + "\x00" + ti.Manufacturer + "\x00" + ti.Model))
	return strings.ToUpper(hex.EncodeToString(sum[:8]))
}

// certificate reads and parses a certificate file at most once per insertion
// (card lock held by the caller through run).
func (cs *cardState) certificate(c card.Generation, ef uint16) (*objects.Certificate, error) {
	if e, ok := cs.certs[ef]; ok {
		return e.cert, e.err
	}
	der, err := c.ReadFile(ef)
	if err != nil {
		if errors.Is(err, card.ErrFileNotFound) {
			cs.certs[ef] = &certEntry{err: err}
		}
		return nil, err
	}
	cert, err := objects.ParseCertificate(der)
	if err != nil {
		err = fmt.Errorf("EF %04X: %w", ef, err)
		cs.certs[ef] = &certEntry{err: err}
		return nil, err
	}
	cs.certs[ef] = &certEntry{cert: cert}
	return cert, nil
}

// objectHandle is the handle of the i-th object of token t of this card.
func (cs *cardState) objectHandle(t objects.Token, i int) ck.ULong {
	return cs.objBase + ck.ULong(t-1)*8 + ck.ULong(i)
}

// object builds (or returns from the cache) object i of token t, reading the
// certificates it needs. errAbsent means the card has no such object. A key's
// CKA_ALLOWED_MECHANISMS depends on whether the card signs with PSS: the card is
// asked (3 APDUs, once per insertion) only when mechs is true or already known.
func (m *Manager) object(cs *cardState, t objects.Token, i int, mechs bool) (*objects.Object, error) {
	specs := m.layout(cs, t)
	s := specs[i]
	h := cs.objectHandle(t, i)
	isKey := s.Kind == objects.KindPublicKey || s.Kind == objects.KindPrivateKey
	cached := func() *objects.Object {
		if o, ok := cs.objs[h]; ok {
			if _, rv := o.Attr(ck.CKA_ALLOWED_MECHANISMS); !isKey || rv == ck.CKR_OK || !mechs && cs.pss == 0 {
				return o
			}
		}
		return nil
	}
	// A cached object is answered without the card lock: a signature on
	// another session's card operation does not hold up this call.
	cs.smu.Lock()
	obj := cached()
	cs.smu.Unlock()
	if obj != nil {
		return obj, nil
	}
	err := m.withCard(cs, func(c card.Generation) error {
		if obj = cached(); obj != nil {
			return nil
		}
		k := keyOf(t)
		var cert, ca *objects.Certificate
		var err error
		if s.NeedsCert() {
			if cert, err = cs.certificate(c, k.CertFile()); err != nil {
				return err
			}
			if err := keyMatches(c.Algorithm(), cert); err != nil {
				return err
			}
		}
		if s.NeedsCA() {
			if ca, err = cs.certificate(c, k.CACertFile()); err != nil {
				return err
			}
		}
		var allowed []ck.ULong
		switch {
		case isKey && c.Algorithm() == card.ECDSAP384:
			allowed = ecdsaMechs // known without asking the card
		case isKey && (mechs || cs.pss != 0):
			pss, err := cs.probePSS(c, k)
			if err != nil {
				return err
			}
			allowed = mechanismsFor(s.Kind, pss)
		}
		o, err := objects.Build(s, cert, ca, allowed)
		if err != nil {
			return err
		}
		cs.smu.Lock()
		cs.objs[h] = o
		cs.smu.Unlock()
		obj = o
		return nil
	})
	if errors.Is(err, card.ErrFileNotFound) {
		return nil, errAbsent
	}
	if err != nil && !removal(err) && !errors.Is(err, card.ErrNotLoggedIn) {
		m.log.Warn("reading an object failed", "reader", cs.reader, "object", s.Label, "err", err)
	}
	return obj, err
}

// probePSS asks the card once per insertion whether it knows scheme 04 (card
// lock held). The probe (card.ProbeScheme) sends the signature command without
// data, with a control P1 first: it neither signs nor spends a PIN try, and PSS
// is offered only when the card showed that it checks P1 first and accepted 04.
// Why PSS is or is not offered is logged once per insertion.
func (cs *cardState) probePSS(c card.Generation, k card.Key) (bool, error) {
	if cs.pss == 0 {
		p, err := c.ProbeScheme(k, card.SchemePSSSHA256)
		if err != nil {
			return false, fmt.Errorf("RSASSA-PSS probe: %w", err)
		}
		pss := int8(-1)
		if p.Supported {
			pss = 1
		}
		cs.smu.Lock()
		cs.pss = pss
		cs.smu.Unlock()
		cs.m.log.Info("card signature schemes", "reader", cs.reader, "pss", p.Supported,
			"conclusive", p.Conclusive, "why", p.Reason)
	}
	return cs.pss == 1, nil
}

// triesLeft returns the PIN counter of k, asking the card (no try spent) only the
// first time in this insertion; later values come from the answers to VERIFY.
func (m *Manager) triesLeft(cs *cardState, k card.Key) (int, error) {
	if n := cs.facts().tries[k]; n >= 0 {
		return n, nil
	}
	n := -1
	err := m.withCard(cs, func(c card.Generation) error {
		if n = cs.facts().tries[k]; n >= 0 {
			return nil
		}
		var err error
		n, err = c.TriesLeft(k)
		if err == nil {
			cs.setTries(k, n)
		}
		return err
	})
	return n, err
}

var errAbsent = errors.New("object absent on this card")
