# Shell helpers for integration tests: a private pcscd with vpcd readers and
# virtual My Number Cards (build/jpki-vcard), per shared/CLIENTS.md. Source it:
#   . test/lib.sh
#   start_pcscd                    # private pcscd on free ports; exports PCSCLITE_CSOCK_NAME
#   dir=$(new_card mycard --under15)
#   start_card "$dir" 0            # serve it in reader 0 ("Virtual PCD 00 00"), wait for it
#   pull_card 0; wait_card 0 no; insert_card 0; wait_card 0 yes
#   m=$(apdu_mark); ...; count_apdus "$m" '^00 20 00'
# Everything started is stopped by the EXIT trap (set by this file; call
# harness_cleanup yourself if you replace the trap). Needs root (unshare -m, mount).
# Never uses the system pcscd.

set -u
HARNESS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HT=$(mktemp -d -t jpki-harness.XXXXXX)
HARNESS_PIDS=()
declare -A CARD_PID=()
VCARD=$HARNESS_ROOT/build/jpki-vcard
OPENSC=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so

harness_cleanup() {
  local p
  for p in "${CARD_PID[@]:-}" "${HARNESS_PIDS[@]:-}"; do
    [ -n "$p" ] && kill -TERM -- "-$p" 2>/dev/null
  done
  sleep 0.3
  for p in "${CARD_PID[@]:-}" "${HARNESS_PIDS[@]:-}"; do
    [ -n "$p" ] && kill -KILL -- "-$p" 2>/dev/null
  done
  [ -n "${KEEP_HARNESS:-}" ] && echo "harness files kept in $HT" >&2 || rm -rf "$HT"
}
trap harness_cleanup EXIT

harness_fail() { echo "FAIL: $*" >&2; exit 1; }

# build_vcard: make build/jpki-vcard (up to date check by make), serialised by a lock.
build_vcard() {
  mkdir -p "$HARNESS_ROOT/build"
  ( flock 9; make -C "$HARNESS_ROOT" build/jpki-vcard >"$HT/make.log" 2>&1 ) 9>"$HARNESS_ROOT/build/.harness.lock" \
    || { tail -5 "$HT/make.log" >&2; harness_fail "make build/jpki-vcard failed"; }
}

port_free() {  # port_free PORT: nothing listens on it
  ! grep -qi ":$(printf '%04X' "$1") .* 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# start_pcscd [PORT]: private pcscd, vpcd readers on PORT and PORT+1 (free random
# ports when not given). Sets VPCD_PORT, PCSCD_PID, PCSCD_LOG, PCSCLITE_CSOCK_NAME.
start_pcscd() {
  local port=${1:-} i
  if [ -z "$port" ]; then
    for i in $(seq 200); do
      port=$((20000 + 2 * (RANDOM % 20000)))
      port_free "$port" && port_free $((port + 1)) && break
    done
  fi
  mkdir -p /run/pcscd "$HT/conf"
  printf 'FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:0x%X\nLIBPATH /usr/lib/pcsc/drivers/serial/libifdvpcd.so\nCHANNELID 0x%X\n' \
    "$port" "$port" >"$HT/conf/vpcd"
  PCSCD_LOG=$HT/pcscd.log
  setsid unshare -m --propagation private sh -c \
    "mount -t tmpfs none /run/pcscd && exec pcscd --foreground --apdu --debug --config $HT/conf" >"$PCSCD_LOG" 2>&1 &
  PCSCD_PID=$!
  HARNESS_PIDS+=("$PCSCD_PID")
  export PCSCLITE_CSOCK_NAME=/proc/$PCSCD_PID/root/run/pcscd/pcscd.comm
  VPCD_PORT=$port
  for i in $(seq 100); do
    [ -S "$PCSCLITE_CSOCK_NAME" ] && ! port_free "$port" && ! port_free $((port + 1)) && return 0
    sleep 0.1
  done
  tail -5 "$PCSCD_LOG" >&2
  harness_fail "private pcscd did not start"
}

# new_card NAME [jpki-vcard new flags...]: make a card in $HT/NAME, print its directory.
new_card() {
  local name=$1; shift
  [ -x "$VCARD" ] || build_vcard
  "$VCARD" new "$HT/$name" "$@" >"$HT/new-$name.log" 2>&1 || { cat "$HT/new-$name.log" >&2; harness_fail "jpki-vcard new $name"; }
  echo "$HT/$name"
}

# start_card DIR READER [serve flags...]: serve the card in reader READER (0/1) and wait for it.
start_card() {
  local dir=$1 reader=$2; shift 2
  [ -x "$VCARD" ] || build_vcard
  setsid "$VCARD" serve "$dir" --vpcd "127.0.0.1:$((VPCD_PORT + reader))" --log "$HT/vcard-$reader.log" "$@" \
    >>"$HT/vcard-$reader.log" 2>&1 &
  CARD_PID[$reader]=$!
  wait_card "$reader" yes || harness_fail "no card in reader $reader"
}

# stop_card READER
stop_card() { kill -TERM -- "-${CARD_PID[$1]}" 2>/dev/null; unset "CARD_PID[$1]"; }
pull_card() { kill -USR1 "${CARD_PID[$1]}"; }     # pull_card READER: card out
insert_card() { kill -USR2 "${CARD_PID[$1]}"; }   # insert_card READER: card back

# wait_card READER yes|no [TRIES]: wait (0.2 s per try, 50 tries) until the reader shows a card or none.
wait_card() {
  local want=${2:-yes} n=${3:-50} _
  [ "$want" = yes ] && want=Yes || want=No
  for _ in $(seq "$n"); do
    opensc-tool -l 2>/dev/null | awk -v r="$1" -v w="$want" '$1==r && $2==w {f=1} END {exit !f}' && return 0
    sleep 0.2
  done
  return 1
}

# apdu_mark: print the current end of the pcscd log (for count_apdus).
apdu_mark() { stat -c %s "$PCSCD_LOG"; }

# count_apdus MARK [REGEX]: command APDUs pcscd logged since MARK matching REGEX
# (on "00 A4 04 0C ..." hex; all when omitted).
count_apdus() {
  tail -c +$(($1 + 1)) "$PCSCD_LOG" | sed -n 's/.*APDU: \([0-9A-F ]*\).*/\1/p' | grep -cE "${2:-.}"
}
