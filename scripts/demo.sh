#!/usr/bin/env bash
# make demo: the product end to end on a virtual My Number Card, on a private pcscd
# (never the system one). `make demo` has already run `make deps` and `make all`.
# Shows: jpki status; pkcs11-tool with our module listing both tokens and their
# objects; a signature with each key through the module, verified by openssl; a PDF
# signed by pdfsig through NSS and verified; a PDF and a CMS signature made by jpki,
# verified. Leaves the signed files in build/demo/, stops everything it started,
# exits non-zero on the first failure.
set -eEuo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MOD=$ROOT/build/jpki-pkcs11.so
JPKI=$ROOT/build/jpki
AUTH_PIN=1234
SIGN_PIN=DEMO2026
OUT=$ROOT/build/demo

. test/lib.sh   # private pcscd + virtual cards
# Stop everything at exit, keeping the demo's exit status (cleanup runs without -e).
trap 'st=$?; trap - ERR; set +e; harness_cleanup; exit $st' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$'; printf ' %q' "$@"; printf '\n'; "$@"; }
die() { echo "demo: FAILED: $*" >&2; exit 1; }
trap 'echo "demo: FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR

[ "$(id -u)" = 0 ] || die "run as root (a private pcscd needs unshare -m and a tmpfs mount)"
for f in "$MOD" "$JPKI" "$ROOT/build/jpki-vcard"; do [ -e "$f" ] || die "$f missing: run make"; done
for c in pcscd pkcs11-tool openssl certutil modutil pdfsig python3; do
  command -v "$c" >/dev/null || die "$c not installed: run make deps"
done

rm -rf "$OUT"
mkdir -p "$OUT"
WORK=$HT   # lib.sh's temporary folder, removed at exit

step "A private pcscd and a virtual My Number Card"
start_pcscd
CARD=$(new_card demo-card --auth-pin "$AUTH_PIN" --sign-pin "$SIGN_PIN" --name "JPKI TARO" --birth 1980-02-17)
start_card "$CARD" 0
echo "virtual card in reader 0 (Virtual PCD 00 00); authentication PIN $AUTH_PIN, signature password $SIGN_PIN"

step "jpki status: the card, PIN tries, certificates and their renewal window"
show "$JPKI" status

step "pkcs11-tool with our module: slots and tokens"
show pkcs11-tool --module "$MOD" -L | tee "$WORK/slots.txt"
# The two tokens of reader 0: slot IDs and token labels.
mapfile -t SLOTS < <(sed -n 's/^Slot [0-9]* (\(0x[0-9a-f]*\)): Virtual PCD 00 00.*/\1/p' "$WORK/slots.txt")
[ "${#SLOTS[@]}" -eq 2 ] || die "expected 2 tokens for the card, found ${#SLOTS[@]}"
label_of() { awk -v s="($1):" '$1=="Slot" && $3==s {f=1; next} f && /token label/ {sub(/.*: /, ""); print; exit}' "$WORK/slots.txt"; }
AUTH_SLOT=${SLOTS[0]} SIGN_SLOT=${SLOTS[1]}
AUTH_TOKEN=$(label_of "$AUTH_SLOT") SIGN_TOKEN=$(label_of "$SIGN_SLOT")
echo "authentication token: slot $AUTH_SLOT '$AUTH_TOKEN'; signature token: slot $SIGN_SLOT '$SIGN_TOKEN'"

step "pkcs11-tool: the objects of both tokens"
show pkcs11-tool --module "$MOD" --slot "$AUTH_SLOT" --login --pin "$AUTH_PIN" -O | tee "$WORK/auth-objects.txt"
show pkcs11-tool --module "$MOD" --slot "$SIGN_SLOT" --login --pin "$SIGN_PIN" -O | tee "$WORK/sign-objects.txt"
grep -q "Private Key Object" "$WORK/auth-objects.txt" || die "no private key on the authentication token"
grep -q "Private Key Object" "$WORK/sign-objects.txt" || die "no private key on the signature token"
# id_of FILE: the CKA_ID of the private key; cert_label FILE ID: the label of the certificate with that ID.
id_of() { awk '/^Private Key Object/ {f=1} f && /ID:/ {print $2; exit}' "$1"; }
cert_label() { awk -v id="$2" '/^Certificate Object/ {c=1; l=""} c && /label:/ {sub(/^ *label: */, ""); l=$0} c && /ID:/ {if ($2==id) {print l; exit} c=0}' "$1"; }
AUTH_ID=$(id_of "$WORK/auth-objects.txt") SIGN_ID=$(id_of "$WORK/sign-objects.txt")
SIGN_CERT_LABEL=$(cert_label "$WORK/sign-objects.txt" "$SIGN_ID")
[ -n "$AUTH_ID" ] && [ -n "$SIGN_ID" ] && [ -n "$SIGN_CERT_LABEL" ] || die "could not read key IDs / certificate label from pkcs11-tool -O"

step "A signature with each key through the module, verified by openssl"
printf 'Signed on a virtual My Number Card by make demo.\n' >"$OUT/data.txt"
for k in auth sign; do
  if [ $k = auth ]; then slot=$AUTH_SLOT id=$AUTH_ID pin=$AUTH_PIN; else slot=$SIGN_SLOT id=$SIGN_ID pin=$SIGN_PIN; fi
  show pkcs11-tool --module "$MOD" --slot "$slot" --login --pin "$pin" --sign -m SHA256-RSA-PKCS \
    --id "$id" -i "$OUT/data.txt" -o "$OUT/data.$k.sig"
  pkcs11-tool --module "$MOD" --slot "$slot" --login --pin "$pin" --read-object --type cert --id "$id" \
    -o "$WORK/$k.der" >/dev/null
  openssl x509 -inform DER -in "$WORK/$k.der" -out "$OUT/$k-cert.pem"
  openssl x509 -in "$OUT/$k-cert.pem" -pubkey -noout >"$WORK/$k.pub"
  show openssl dgst -sha256 -verify "$WORK/$k.pub" -signature "$OUT/data.$k.sig" "$OUT/data.txt"
done

step "A PDF signed by poppler's pdfsig through NSS with our module"
"$JPKI" certs --out "$WORK/cas" >/dev/null   # the CA certificates (no PIN needed)
python3 - "$OUT/document.pdf" <<'EOF'
import sys
text = "BT /F1 24 Tf 72 760 Td (A document signed with a My Number Card) Tj ET"
objs = ["<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        "<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
out, offs = b"%PDF-1.4\n", []
for i, o in enumerate(objs, 1):
    offs.append(len(out))
    out += b"%d 0 obj\n%s\nendobj\n" % (i, o.encode())
xref = len(out)
out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
out += b"".join(b"%010d 00000 n \n" % o for o in offs)
out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
open(sys.argv[1], "wb").write(out)
EOF
DB=$WORK/nssdb
mkdir -p "$DB"
certutil -N -d "sql:$DB" --empty-password
modutil -dbdir "sql:$DB" -add JPKI -libfile "$MOD" -force >/dev/null
certutil -A -d "sql:$DB" -n "JPKI test signature CA" -t "CT,C,C" -i "$WORK/cas/sign-ca.pem"
NICK="$SIGN_TOKEN:$SIGN_CERT_LABEL"
# Both tokens stay in the database: only the signature token requires a login, so
# pdfsig's one -nss-pwd goes to it (docs/ONE-PIN.md).
show pdfsig "$OUT/document.pdf" "$OUT/document.pdfsig-signed.pdf" -add-signature -nssdir "sql:$DB" \
  -nick "$NICK" -nss-pwd "$SIGN_PIN" | tee "$WORK/pdfsig-sign.txt"
[ -s "$OUT/document.pdfsig-signed.pdf" ] || die "pdfsig could not sign through NSS: $(tail -2 "$WORK/pdfsig-sign.txt")"
show pdfsig -nssdir "sql:$DB" "$OUT/document.pdfsig-signed.pdf" | tee "$WORK/pdfsig1.txt"
grep -q "Signature is Valid" "$WORK/pdfsig1.txt" || die "pdfsig does not call its own signature valid"
grep -q "Certificate is Trusted" "$WORK/pdfsig1.txt" || die "pdfsig does not trust the signer certificate"

step "The same with the jpki command: a PDF signature (PAdES, signature key)"
echo "$SIGN_PIN" | show "$JPKI" pdf sign --pin-stdin --reason "make demo" --location "Tokyo" \
  "$OUT/document.pdf" "$OUT/document.jpki-signed.pdf"
show pdfsig -nssdir "sql:$DB" "$OUT/document.jpki-signed.pdf" | tee "$WORK/pdfsig2.txt"
grep -q "Signature is Valid" "$WORK/pdfsig2.txt" || die "pdfsig does not call jpki's PDF signature valid"

step "A CMS (PKCS#7) signature by jpki, checked by jpki verify and openssl cms"
echo "$SIGN_PIN" | show "$JPKI" sign --key sign --detached --pin-stdin --out "$OUT/data.txt.p7s" "$OUT/data.txt"
show "$JPKI" verify "$OUT/data.txt" "$OUT/data.txt.p7s" --ca "$WORK/cas/sign-ca.pem"
show openssl cms -verify -binary -inform DER -in "$OUT/data.txt.p7s" -content "$OUT/data.txt" \
  -CAfile "$WORK/cas/sign-ca.pem" -purpose any -out /dev/null
cp "$WORK/cas/"*-ca.pem "$OUT/"

step "PIN tries after the demo (every PIN was right: nothing was used up)"
show "$JPKI" pin status

step "Done: the signed files are in $OUT"
ls -l "$OUT"
cat <<EOT

  data.auth.sig / data.sign.sig           raw PKCS#1 signatures made through the module (pkcs11-tool)
  document.pdfsig-signed.pdf              PDF signed by pdfsig through NSS and the module
  document.jpki-signed.pdf                PDF signed by 'jpki pdf sign'
  data.txt.p7s                            CMS signature made by 'jpki sign'
  *-ca.pem                                the virtual card's test CA certificates (trust them to verify)

Everything started by the demo (pcscd, the virtual card) is being stopped now.
EOT
echo "demo: OK"
