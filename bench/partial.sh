#!/usr/bin/env bash
# partial.sh: what large values that arrive in pieces cost faed and memcached.
#
# Builds faed and fae-bench, then, for each scenario, starts a fresh
# memcached and a fresh faed (embedded store) side by side on free 127.0.0.1
# ports and measures both, in the same run:
#   chunked  --sets sets of a 1 MiB value, each sent in 128-byte writes
#            (50us apart, as a slow client): the server's CPU time, from
#            /proc/PID/stat.
#   held     --conns connections each send a 1 MiB set but its last byte
#            (in 16 KiB writes) and hold it: the server's RSS while they
#            hold, its CPU time, and the round trip of a "version" sent
#            every 10ms on another connection meanwhile. faed runs with
#            max_partial: --max-partial, so that every value is held.
#   bounded  the same with --many connections and faed's default
#            max_partial: faed refuses the values past it ("SERVER_ERROR
#            out of memory storing object") and its RSS stays bounded.
# memcached runs with -t 1 -m 4096 -I 2m and faed with max_item_size: 2MiB,
# so both take a 1 MiB value and memcached holds every value.
# It prints a Markdown report on stdout. Every process it starts is killed on
# exit (trap), and its temp dir removed.
#
# Usage: bench/partial.sh [--sets 3] [--conns 300] [--many 1000]
#                         [--max-partial 1GiB]
# --many 0 skips the bounded scenario; --max-partial "" leaves max_partial
# out of faed's config (for a faed that predates it).
# Environment: FAED_ARGS extra faed flags (e.g. "-loops 2")
set -euo pipefail

SETS=3
CONNS=300
MANY=1000
MAX_PARTIAL=1GiB
ROOT=$(cd "$(dirname "$0")/.." && pwd)
while [ $# -gt 0 ]; do
	case "$1" in
	--sets) SETS=$2; shift 2 ;;
	--conns) CONNS=$2; shift 2 ;;
	--many) MANY=$2; shift 2 ;;
	--max-partial) MAX_PARTIAL=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//; $d'; exit 0 ;;
	*) echo "partial.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
command -v memcached >/dev/null || { echo "partial.sh: memcached not found: apt-get install memcached (or make deps)" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fae-partial.XXXXXX")
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)"

cd "$ROOT"
echo "building faed and fae-bench..." >&2
go build -o "$TMP/faed" ./cmd/faed
go build -o "$TMP/fae-bench" ./cmd/fae-bench
FB="$TMP/fae-bench"

# servers MAX_PARTIAL: starts a memcached and a faed (max_partial:
# MAX_PARTIAL, left out when empty), sets MC, MC_PID, FD and FD_PID.
servers() {
	MC=$("$FB" freeport)
	local args=(-U 0 -t 1 -c 4096 -m 4096 -I 2m -l 127.0.0.1 -p "${MC##*:}")
	[ "$(id -u)" -eq 0 ] && args+=(-u root)
	memcached "${args[@]}" >"$TMP/memcached.log" 2>&1 &
	MC_PID=$!
	PIDS+=("$MC_PID")
	{
		echo "max_item_size: 2MiB"
		[ -n "$1" ] && echo "max_partial: $1"
		echo "pools: {default: {kind: local, max_bytes: 256MiB}}"
	} >"$TMP/faed.yaml"
	FD=$("$FB" freeport)
	# shellcheck disable=SC2086
	"$TMP/faed" -config "$TMP/faed.yaml" -listen "$FD" ${FAED_ARGS:-} >"$TMP/faed.log" 2>&1 &
	FD_PID=$!
	PIDS+=("$FD_PID")
	"$FB" waitport --addr "$MC"
	"$FB" waitport --addr "$FD"
}

# stop_servers: kills the servers servers started.
stop_servers() {
	kill "$MC_PID" "$FD_PID"
	wait "$MC_PID" "$FD_PID" 2>/dev/null || true
}

# field FILE NAME: a number from a JSON result.
field() { grep -o "\"$2\": *[0-9.]*" "$1" | grep -o '[0-9.]*$'; }

echo "# Values in pieces: faed vs memcached ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, faed $(git rev-parse --short HEAD))"
echo

echo "== chunked" >&2
servers "$MAX_PARTIAL"
"$FB" chunked --target "faed=$FD" --pid "$FD_PID" --sets "$SETS" --json "$TMP/c-faed.json" >&2
"$FB" chunked --target "memcached=$MC" --pid "$MC_PID" --sets "$SETS" --json "$TMP/c-mc.json" >&2
stop_servers
cf=$(field "$TMP/c-faed.json" cpu_ns)
cm=$(field "$TMP/c-mc.json" cpu_ns)
echo "## $SETS sets of 1 MiB, each in 128-byte writes 50us apart"
echo
echo "| server | CPU per set | ratio to memcached |"
echo "|---|---|---|"
awk -v f="$cf" -v m="$cm" -v n="$SETS" 'BEGIN {
	printf "| faed | %.3f s | %.2fx |\n", f/1e9/n, (m > 0 ? f/m : 0)
	printf "| memcached | %.3f s | 1 |\n", m/1e9/n }'
echo

# held NAME CONNS MAX_PARTIAL: the held scenario, reported as NAME.
held() {
	echo "== $1" >&2
	servers "$3"
	"$FB" partial --target "faed=$FD" --pid "$FD_PID" --conns "$2" --json "$TMP/h-faed.json" >&2
	"$FB" partial --target "memcached=$MC" --pid "$MC_PID" --conns "$2" --json "$TMP/h-mc.json" >&2
	stop_servers
	echo "## $1: $2 connections each holding a 1 MiB set but its last byte (faed max_partial: ${3:-default})"
	echo
	echo "| server | sent | refused | RSS before | RSS held | RSS held / sent | RSS after close | CPU | version while sending: median | max | version once held |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
	local name f
	for name in faed memcached; do
		f="$TMP/h-${name:0:4}.json"
		[ "$name" = memcached ] && f="$TMP/h-mc.json"
		awk -v n="$name" -v sent="$(field "$f" sent)" -v ref="$(field "$f" refused)" \
			-v b="$(field "$f" rss_before_kib)" -v h="$(field "$f" rss_held_kib)" -v a="$(field "$f" rss_closed_kib)" \
			-v cpu="$(field "$f" cpu_ns)" -v p50="$(field "$f" probe_median_ns)" -v pmax="$(field "$f" probe_max_ns)" \
			-v ph="$(field "$f" probe_held_ns)" 'BEGIN {
			printf "| %s | %.0f MiB | %d | %.0f MiB | %.0f MiB | %.2fx | %.0f MiB | %.2f s | %.2f ms | %.2f ms | %.2f ms |\n",
				n, sent/1048576, ref, b/1024, h/1024, h*1024/sent, a/1024, cpu/1e9, p50/1e6, pmax/1e6, ph/1e6 }'
	done
	echo
}
held held "$CONNS" "$MAX_PARTIAL"
[ "$MANY" -gt 0 ] && held bounded "$MANY" ""
exit 0
