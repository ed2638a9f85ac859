package clienttest

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Slot is one slot as `pkcs11-tool -L` prints it.
type Slot struct {
	ID          int
	Description string
	Token       string // token label; "" when the slot is empty
	Serial      string
	Flags       string // "login required, token initialized, ..."
	PINMinMax   string // "4/4"
}

var slotLine = regexp.MustCompile(`^Slot \d+ \(0x([0-9a-f]+)\): (.*)$`)

// ParseSlots parses the output of `pkcs11-tool -L` (or -T).
func ParseSlots(out string) []Slot {
	var slots []Slot
	for _, line := range strings.Split(out, "\n") {
		if m := slotLine.FindStringSubmatch(line); m != nil {
			id, _ := strconv.ParseInt(m[1], 16, 64)
			slots = append(slots, Slot{ID: int(id), Description: strings.TrimSpace(m[2])})
			continue
		}
		if len(slots) == 0 {
			continue
		}
		s := &slots[len(slots)-1]
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "token label":
			s.Token = v
		case "serial num":
			s.Serial = v
		case "token flags":
			s.Flags = v
		case "pin min/max":
			s.PINMinMax = v
		}
	}
	return slots
}

// TokenSlot returns the id of the slot whose token has the label, failing the test
// if there is not exactly one (among the given slots).
func TokenSlot(t testing.TB, slots []Slot, label string) int {
	t.Helper()
	found := -1
	for _, s := range slots {
		if s.Token == label {
			if found >= 0 {
				t.Fatalf("two slots with token %q: %+v", label, slots)
			}
			found = s.ID
		}
	}
	if found < 0 {
		t.Fatalf("no slot with token %q: %+v", label, slots)
	}
	return found
}

// Object is one object as `pkcs11-tool -O` prints it.
type Object struct {
	Kind    string // "Certificate", "Public Key", "Private Key", "Profile", ...
	Label   string
	ID      string // hex
	Subject string
	Usage   string
	Access  string
	Raw     string // the object's lines as pkcs11-tool printed them
}

// ParseObjects parses the output of `pkcs11-tool -O`.
func ParseObjects(out string) []Object {
	var objs []Object
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, " ") {
			if i := strings.Index(strings.ToLower(line), " object"); i > 0 {
				objs = append(objs, Object{Kind: line[:i], Raw: line + "\n"})
			}
			continue
		}
		if len(objs) == 0 {
			continue
		}
		o := &objs[len(objs)-1]
		o.Raw += line + "\n"
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "label":
			o.Label = v
		case "ID":
			o.ID = v
		case "subject":
			o.Subject = v
		case "Usage":
			o.Usage = v
		case "Access":
			o.Access = v
		}
	}
	return objs
}

// Count counts the objects of a kind.
func Count(objs []Object, kind string) int {
	n := 0
	for _, o := range objs {
		if o.Kind == kind {
			n++
		}
	}
	return n
}

// Find returns the first object of a kind whose label contains label ("" any).
func Find(objs []Object, kind, label string) (Object, bool) {
	for _, o := range objs {
		if o.Kind == kind && strings.Contains(o.Label, label) {
			return o, true
		}
	}
	return Object{}, false
}

// PKCS11Tool runs pkcs11-tool --module module args with env; it returns the output
// and the error (pkcs11-tool's exit code).
func (f *Fixture) PKCS11Tool(t testing.TB, env []string, args ...string) (string, error) {
	t.Helper()
	return Run(t, env, "pkcs11-tool", append([]string{"--module", f.Module}, args...)...)
}

// MustPKCS11Tool is PKCS11Tool that fails the test when pkcs11-tool fails.
func (f *Fixture) MustPKCS11Tool(t testing.TB, env []string, args ...string) string {
	t.Helper()
	return MustRun(t, env, "pkcs11-tool", append([]string{"--module", f.Module}, args...)...)
}

// Slots lists the slots with `pkcs11-tool -L`.
func (f *Fixture) Slots(t testing.TB, env []string) []Slot {
	t.Helper()
	return ParseSlots(f.MustPKCS11Tool(t, env, "-L"))
}
