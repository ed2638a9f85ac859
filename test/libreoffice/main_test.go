// Package libreoffice drives LibreOffice (headless soffice, a real process) with
// build/jpki-pkcs11.so registered in an NSS database: LibreOffice signs an ODF
// document with the card's signature key through NSS, and the signature is checked
// by LibreOffice itself and by xmlsec1 against the card's certificate.
//
// LibreOffice asks for a token password through the UNO service
// com.sun.star.task.InteractionHandler (xmlsecurity's NSS password callback). A
// headless soffice has no one to ask, so the driver (lo_sign.py, over a UNO pipe)
// puts its own handler in place of the stock one; it gives the signature password
// once, for the "JPKI Signature" token only.
package libreoffice

import (
	"os"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// fx is this test process's private pcscd and module.
var fx clienttest.Fixture

func TestMain(m *testing.M) { os.Exit(clienttest.Main(m, &fx)) }
