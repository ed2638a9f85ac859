module github.com/jpki-pkcs11/jpki-pkcs11

go 1.26.8

require github.com/ebfe/scard v0.0.0-20230420082256-7db3f9b7c8a7 // indirect
