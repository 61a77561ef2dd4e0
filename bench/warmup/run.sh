#!/usr/bin/env bash
# Benchmark of warmup's load engine, on loopback only, against the same
# local HTTP server (bench/warmup/server):
#
#   1. wall time of N requests at concurrency C, warmup and hey
#      (github.com/rakyll/hey, built here into a temporary GOBIN) taking
#      turns for ROUNDS rounds; the medians are compared. Target: warmup
#      ≤ 1.0× hey.
#   2. the seed's sequential curl loop,
#        for i in $(seq N); do curl -s -o /dev/null URL; done
#      run for CURL_N requests (500 by default, not N: it takes minutes)
#      and scaled linearly to N. Target: warmup ≥ 100× faster.
#   3. peak RSS of warmup for 100,000 and 1,000,000 requests, from
#      /usr/bin/time -v "Maximum resident set size". Target: ≤ 32 MB each.
#
# Usage: bench/warmup/run.sh or make bench-warmup   (env: N, C, ROUNDS, CURL_N, BIG_N)
# It prints a markdown table; exit 1 when a target is missed.
set -euo pipefail
cd "$(dirname "$0")/../.."

N=${N:-10000}
C=${C:-16}
ROUNDS=${ROUNDS:-15}
CURL_N=${CURL_N:-500}
BIG_N=${BIG_N:-"100000 1000000"}

tmp=$(mktemp -d)
srv_pid=
cleanup() {
  if [[ -n $srv_pid ]]; then kill "$srv_pid" 2>/dev/null || true; wait "$srv_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null 2>&1; }
if [[ ! -x /usr/bin/time ]]; then
  if need apt-get && [[ $(id -u) == 0 ]]; then
    apt-get install -y -qq time >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
  fi
fi
[[ -x /usr/bin/time ]] || { echo "bench: /usr/bin/time (package time) is needed for the RSS rows" >&2; exit 2; }
need curl || { echo "bench: curl is needed for the curl-loop row" >&2; exit 2; }

echo "bench: building warmup, the server and hey in $tmp" >&2
go build -o "$tmp/warmup" ./cmd/warmup
go build -o "$tmp/server" ./bench/warmup/server
# hey comes from the Go module proxy; install it outside this module.
(cd "$tmp" && GOBIN="$tmp/bin" GOFLAGS= go install github.com/rakyll/hey@latest)
hey="$tmp/bin/hey"

"$tmp/server" >"$tmp/addr" 2>"$tmp/server.log" &
srv_pid=$!
for _ in $(seq 100); do [[ -s $tmp/addr ]] && break; sleep 0.05; done
url="http://$(head -1 "$tmp/addr")/"
echo "bench: server at $url" >&2

# ms CMD...: run CMD, discard its output, print its wall time in ms.
ms() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}
# timed NAME CMD...: run CMD; append its wall time (ms) to $tmp/NAME.ms
# and its CPU time, user + system (ms), to $tmp/NAME.cpu.
# The wall time is taken with date (ns), finer than time's 10 ms.
timed() {
  local name=$1 t0 t1
  shift
  t0=$(date +%s%N)
  /usr/bin/time -f "%U %S" -o "$tmp/time.out" "$@" >/dev/null 2>&1
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000)) >>"$tmp/$name.ms"
  awk '{printf "%d\n", ($1 + $2) * 1000}' "$tmp/time.out" >>"$tmp/$name.cpu"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# Warm the server, the page cache and both clients once, unmeasured.
"$tmp/warmup" --requests "$N" --concurrency "$C" "$url" >/dev/null
"$hey" -n "$N" -c "$C" "$url" >/dev/null

: >"$tmp/warmup.ms"
: >"$tmp/hey.ms"
: >"$tmp/warmup.cpu"
: >"$tmp/hey.cpu"
for r in $(seq "$ROUNDS"); do
  if ((r % 2)); then
    timed hey "$hey" -n "$N" -c "$C" "$url"
    timed warmup "$tmp/warmup" --requests "$N" --concurrency "$C" "$url"
  else
    timed warmup "$tmp/warmup" --requests "$N" --concurrency "$C" "$url"
    timed hey "$hey" -n "$N" -c "$C" "$url"
  fi
  echo "bench: round $r: hey $(tail -1 "$tmp/hey.ms") ms ($(tail -1 "$tmp/hey.cpu") ms CPU), warmup $(tail -1 "$tmp/warmup.ms") ms ($(tail -1 "$tmp/warmup.cpu") ms CPU)" >&2
done
warmup_ms=$(median <"$tmp/warmup.ms")
hey_ms=$(median <"$tmp/hey.ms")
warmup_cpu=$(median <"$tmp/warmup.cpu")
hey_cpu=$(median <"$tmp/hey.cpu")

curl_loop() { for _ in $(seq "$CURL_N"); do curl -s -o /dev/null "$url"; done; }
curl_ms=$(ms curl_loop)
curl_scaled=$(awk -v t="$curl_ms" -v n="$N" -v m="$CURL_N" 'BEGIN {printf "%d", t * n / m}')

declare -A rss
for n in $BIG_N; do
  /usr/bin/time -v "$tmp/warmup" --requests "$n" --concurrency "$C" "$url" >"$tmp/big.out" 2>"$tmp/big.time"
  rss[$n]=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$tmp/big.time")
  grep -q "\"requests\":$n," "$tmp/big.out" || { echo "bench: the $n-request run did not complete" >&2; exit 1; }
done

ratio_hey=$(awk -v a="$warmup_ms" -v b="$hey_ms" 'BEGIN {printf "%.2f", a / b}')
ratio_cpu=$(awk -v a="$warmup_cpu" -v b="$hey_cpu" 'BEGIN {printf "%.2f", a / b}')
ratio_curl=$(awk -v a="$curl_scaled" -v b="$warmup_ms" 'BEGIN {printf "%.0f", a / b}')
cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)

fail=0
verdict() { if awk "BEGIN {exit !($1)}"; then echo "met"; else echo "**missed**"; fail=1; fi; }

cat <<EOF

Machine: $(nproc) CPUs, $cpu; $(go version | awk '{print $3}'); server and client on the same host (loopback).

| measure | warmup | reference | ratio | target | |
|---|---|---|---|---|---|
| $N requests, concurrency $C, median of $ROUNDS alternating rounds | $warmup_ms ms | hey: $hey_ms ms | $ratio_hey× hey | ≤ 1.0× | $(verdict "$ratio_hey <= 1.0") |
| client CPU time (user + system), same runs, median | $warmup_cpu ms | hey: $hey_cpu ms | $ratio_cpu× hey | (for information) | |
| the seed's curl loop, $CURL_N requests scaled to $N | $warmup_ms ms | curl: $curl_scaled ms ($curl_ms ms for $CURL_N) | ${ratio_curl}× faster | ≥ 100× | $(verdict "$ratio_curl >= 100") |
EOF
for n in $BIG_N; do
  kb=${rss[$n]}
  mb=$(awk -v k="$kb" 'BEGIN {printf "%.1f", k / 1024}')
  echo "| peak RSS, $n requests | $mb MB | | | ≤ 32 MB | $(verdict "$kb <= 32768") |"
done
exit $fail
