module github.com/jpki-pkcs11/jpki-pkcs11

go 1.26.8

require (
	github.com/ThalesGroup/crypto11 v1.6.2
	github.com/digitorus/pdf v0.1.2
	github.com/digitorus/pdfsign v0.0.0-20250819064552-5f74f69dda1d
	github.com/digitorus/pkcs7 v0.0.0-20230818184609-3a137a874352
	github.com/ebfe/scard v0.0.0-20230420082256-7db3f9b7c8a7
	github.com/miekg/pkcs11 v1.1.2
	golang.org/x/term v0.48.0
)

require (
	github.com/digitorus/timestamp v0.0.0-20231217203849-220c5c2851b7 // indirect
	github.com/mattetti/filebuffer v1.0.1 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/thales-e-security/pool v0.0.2 // indirect
	golang.org/x/crypto v0.41.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.28.0 // indirect
)
