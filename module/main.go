// Command module is the jpki-pkcs11 PKCS#11 module: built with
// `go build -buildmode=c-shared ./module` it becomes jpki-pkcs11.so (jpki-pkcs11.dll on
// Windows), which browsers and signing tools load to use a Japanese My Number Card.
//
// The C shim (*.c, shim.h) holds the static function lists, C_GetFunctionList,
// C_GetInterfaceList and C_GetInterface, the fork guard, the argument checks and every
// access to a (possibly packed) Cryptoki structure. The Go side is one thin exported
// goXxx function per C_Xxx: it recovers panics, converts C values to Go, calls the
// session.Manager, and converts the answer back. Loading the library opens nothing and
// starts nothing: all work begins at C_Initialize.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../include -DCK_BUILD_MODULE
*/
import "C"

func main() {}
