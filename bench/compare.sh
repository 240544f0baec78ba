#!/usr/bin/env bash
# compare.sh: faed, twemproxy (nutcracker) and memcached side by side.
#
# Builds faed and fae-bench, starts one memcached, one nutcracker and one
# faed (-servers) in front of that same memcached, all at once on free
# 127.0.0.1 ports, and runs each scenario of bench/scenarios.yaml against
# the targets in turns (faed nutcracker memcached, faed nutcracker
# memcached, ...). A scenario with faed_config gets a faed of its own; one
# with faed_l1_config a second faed, target faed-l1, measured beside the
# first; one with upstream_delay a lag relay (fae-bench relay) in front of
# memcached, and its own faed(s) and nutcracker behind it, and the
# memcached target is the relay (a client of a remote memcached); one with
# unix: true a faed and a nutcracker of its own that listen on unix sockets
# too, measured over both (targets faed-unix, nutcracker-unix). Each
# round also reads the CPU time and read/write syscalls of every server
# process (fae-bench run --pid), per request. Then it measures the RSS
# that 10,000 idle client connections add to each server. It writes
#   bench/results/YYYY-MM-DD-HHMM.md          the report (commands, machine, tables)
#   bench/results/YYYY-MM-DD-HHMM-SN.json     every round of scenario SN
#   bench/results/YYYY-MM-DD-HHMM-SN.png      its latency-by-percentile plot
# Every process it starts is killed on exit (trap), and its temp dir removed.
#
# Usage: bench/compare.sh [--duration 5s] [--rounds 3] [--warmup 1s]
#                         [--scenarios "S1 S2 ... S10"] [--idle-conns 10000]
#                         [--out bench/results]
# Environment: FAED_ARGS      extra faed flags (e.g. "-loops 1")
#              MEMCACHED_ARGS extra memcached flags
#
# A full run (8 scenarios x 3 or 4 targets x 3 rounds of 5s + 1s warmup,
# plus the idle test) takes about 12 minutes on 2 cores.
#
# For the Makefile (the lead adds it):
#   bench: ## faed vs nutcracker vs memcached: bench/compare.sh (DURATION, ROUNDS)
#   	bash bench/compare.sh --duration $(or $(DURATION),5s) --rounds $(or $(ROUNDS),3)
set -euo pipefail

DURATION=5s
ROUNDS=3
WARMUP=1s
SCENARIOS=""
IDLE_CONNS=10000
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/bench/results"
while [ $# -gt 0 ]; do
	case "$1" in
	--duration) DURATION=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--warmup) WARMUP=$2; shift 2 ;;
	--scenarios) SCENARIOS=$2; shift 2 ;;
	--idle-conns) IDLE_CONNS=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//; $d'; exit 0 ;;
	*) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done

for tool in go /usr/bin/memcached /usr/sbin/nutcracker; do
	command -v "$tool" >/dev/null || { echo "compare.sh: $tool not found: apt-get install memcached nutcracker (or make deps)" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fae-compare.XXXXXX")
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

# 10,000 idle connections need as many descriptors in fae-bench and in each
# server; take the hard limit (Go processes raise their own soft limit).
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE_CONNS + 200)) ]; then
	echo "compare.sh: open files limit $(ulimit -n) is below --idle-conns $IDLE_CONNS + 200; lowering --idle-conns" >&2
	IDLE_CONNS=$(($(ulimit -n) - 200))
fi

cd "$ROOT"
echo "building faed and fae-bench..." >&2
go build -o "$TMP/faed" ./cmd/faed
go build -o "$TMP/fae-bench" ./cmd/fae-bench
FB="$TMP/fae-bench"

STAMP=$(date +%Y-%m-%d-%H%M)
mkdir -p "$OUT"
REPORT="$OUT/$STAMP.md"
CMDS="$TMP/commands.txt"
: >"$CMDS"

# logcmd records a command line (with its temp paths) for the report.
logcmd() { printf '%q ' "$@" | sed "s|$TMP|\$TMP|g; s|$ROOT/||g" >>"$CMDS"; echo >>"$CMDS"; }

# start NAME CMD...: runs CMD in the background, records its pid in
# PIDS and in the variable NAME_PID.
start() {
	local name=$1
	shift
	logcmd "$@"
	"$@" >"$TMP/$name.log" 2>&1 &
	PIDS+=($!)
	printf -v "${name}_PID" '%s' "$!"
}

# alive NAME: fails, printing the log, when NAME's process has exited.
alive() {
	local pidvar="${1}_PID"
	if ! kill -0 "${!pidvar}" 2>/dev/null; then
		echo "compare.sh: $1 (pid ${!pidvar}) has exited; its log:" >&2
		tail -20 "$TMP/$1.log" >&2
		return 1
	fi
}

# --- servers -----------------------------------------------------------------
MC=$("$FB" freeport)
MC_ARGS=(-U 0 -t 1 -c 16384 -m 1024 -l 127.0.0.1 -p "${MC##*:}")
[ "$(id -u)" -eq 0 ] && MC_ARGS+=(-u root)
# shellcheck disable=SC2206
MC_ARGS+=(${MEMCACHED_ARGS:-})
start memcached /usr/bin/memcached "${MC_ARGS[@]}"
"$FB" waitport --addr "$MC"

# nutcracker: one pool, the settings that match faed's defaults, so the
# comparison is of the proxies and not of their tuning:
#   server_connections: 2   faed's conns_per_server default
#   timeout: 500            faed's upstream timeout default (ms)
#   auto_eject_hosts: false faed never ejects a server on its own
#   preconnect: true        faed dials its upstreams at start
#   hash fnv1a_64, ketama   the usual twemproxy choice for memcached pools
#   mbuf 16KiB (-m)         nutcracker's default
NC=$("$FB" freeport)
NC_STATS=$("$FB" freeport)
cat >"$TMP/nutcracker.yml" <<EOF
fae:
  listen: $NC
  hash: fnv1a_64
  distribution: ketama
  timeout: 500
  backlog: 1024
  preconnect: true
  auto_eject_hosts: false
  server_connections: 2
  servers:
   - $MC:1
EOF
/usr/sbin/nutcracker -t -c "$TMP/nutcracker.yml" >/dev/null 2>&1 || { echo "compare.sh: nutcracker rejects its config:" >&2; cat "$TMP/nutcracker.yml" >&2; exit 1; }
start nutcracker /usr/sbin/nutcracker -c "$TMP/nutcracker.yml" -s "${NC_STATS##*:}" -a 127.0.0.1 -v 4 -o "$TMP/nutcracker.out" -p "$TMP/nutcracker.pid"
"$FB" waitport --addr "$NC"

# faed: -servers MC; the config only raises max_conns for the idle test.
printf 'max_conns: 16384\n' >"$TMP/faed-base.yaml"
FD=$("$FB" freeport)
# shellcheck disable=SC2206
start faed "$TMP/faed" -config "$TMP/faed-base.yaml" -listen "$FD" -servers "$MC" ${FAED_ARGS:-}
"$FB" waitport --addr "$FD"

# --- scenarios -----------------------------------------------------------------
"$FB" scenarios --scenarios bench/scenarios.yaml >"$TMP/scenarios.tsv"
[ -n "$SCENARIOS" ] || SCENARIOS=$(cut -f1 "$TMP/scenarios.tsv" | tr '\n' ' ')

# stop NAME: SIGTERM to a process started with start, and wait for it.
stop() {
	local pidvar="${1}_PID"
	kill "${!pidvar}" 2>/dev/null || true
	wait "${!pidvar}" 2>/dev/null || true
}

# start_faed NAME CONFIG BACKEND [BASE]: a faed of its own for one scenario,
# with CONFIG ("__MEMCACHED__" replaced by BACKEND) or, for "-", -servers
# BACKEND and the config file BASE (default faed-base.yaml); sets NAME_ADDR.
start_faed() {
	local name=$1 config=$2 backend=$3 base=${4:-$TMP/faed-base.yaml} addr
	addr=$("$FB" freeport)
	if [ "$config" != "-" ]; then
		sed "s|__MEMCACHED__|$backend|g" "$config" >"$TMP/$name.yaml"
		# shellcheck disable=SC2086
		start "$name" "$TMP/faed" -config "$TMP/$name.yaml" -listen "$addr" ${FAED_ARGS:-}
	else
		# shellcheck disable=SC2086
		start "$name" "$TMP/faed" -config "$base" -listen "$addr" -servers "$backend" ${FAED_ARGS:-}
	fi
	"$FB" waitport --addr "$addr"
	printf -v "${name}_ADDR" '%s' "$addr"
}

JSONS=()
ABORTED=""
SECTIONS="$TMP/sections.md"
: >"$SECTIONS"
for sc in $SCENARIOS; do
	line=$(awk -F'\t' -v s="$sc" '$1 == s' "$TMP/scenarios.tsv")
	[ -n "$line" ] || { echo "compare.sh: no scenario $sc in bench/scenarios.yaml" >&2; exit 2; }
	IFS=$'\t' read -r _ faed_config l1_config delay unix desc <<<"$line"
	# Processes started for this scenario only, stopped after it.
	scoped=()
	notes=()
	backend="$MC"
	if [ "$delay" != "-" ]; then
		# The hop: a lag relay in front of memcached; every target reaches
		# memcached through it, the memcached target too.
		RL=$("$FB" freeport)
		start "relay_$sc" "$FB" relay --listen "$RL" --upstream "$MC" --delay "$delay"
		"$FB" waitport --addr "$RL"
		backend="$RL"
		scoped+=("relay_$sc")
		notes+=("Every target reaches memcached through \`fae-bench relay --delay $delay\` (a lag relay: each chunk held $delay each way, a connection's first bytes a round trip more for its handshake); the memcached target is that relay, as a client of a remote memcached sees it.")
	fi
	target_faed="$FD"
	faed_pid=$faed_PID
	if [ "$unix" = unix ]; then
		# A faed of its own listening on a unix socket too: targets faed
		# (TCP) and faed-unix (the socket) are the same process.
		{ cat "$TMP/faed-base.yaml"; echo "listen_unix: $TMP/faed-$sc.sock"; } >"$TMP/faed-unix-$sc.yaml"
		start_faed "faedu_$sc" "-" "$backend" "$TMP/faed-unix-$sc.yaml"
		scoped+=("faedu_$sc")
		v="faedu_${sc}_ADDR" && target_faed=${!v}
		v="faedu_${sc}_PID" && faed_pid=${!v}
		notes+=("faed-unix is faed over its unix socket (\`listen_unix:\`), nutcracker-unix nutcracker over a second pool of the same process listening on a unix socket, with the same server: the same processes as faed and nutcracker, so the socket is the only difference.")
	elif [ "$faed_config" != "-" ] || [ "$backend" != "$MC" ]; then
		start_faed "faed_$sc" "$faed_config" "$backend"
		scoped+=("faed_$sc")
		v="faed_${sc}_ADDR" && target_faed=${!v}
		v="faed_${sc}_PID" && faed_pid=${!v}
		[ "$faed_config" = "-" ] || notes+=("faed runs with \`-config $faed_config\` (see that file).")
	fi
	targets=(--target "faed=$target_faed")
	pids=(--pid "faed=$faed_pid")
	if [ "$unix" = unix ]; then
		targets+=(--target "faed-unix=unix:$TMP/faed-$sc.sock")
		pids+=(--pid "faed-unix=$faed_pid")
	fi
	if [ "$l1_config" != "-" ]; then
		start_faed "faedl1_$sc" "$l1_config" "$backend"
		scoped+=("faedl1_$sc")
		v="faedl1_${sc}_ADDR" && targets+=(--target "faed-l1=${!v}")
		v="faedl1_${sc}_PID" && pids+=(--pid "faed-l1=${!v}")
		notes+=("faed-l1 is a second faed with \`-config $l1_config\` (its L1 cache on).")
	fi
	target_nc="$NC"
	nc_pid=$nutcracker_PID
	if [ "$unix" = unix ]; then
		SNC=$("$FB" freeport)
		SNC_STATS=$("$FB" freeport)
		sed "s|listen: $NC|listen: $SNC|; s|- $MC:1|- $backend:1|" "$TMP/nutcracker.yml" >"$TMP/nutcracker-$sc.yml"
		# The same pool again, on a unix socket (a second pool: nutcracker
		# listens on one address per pool).
		sed "s|^fae:|faeunix:|; s|listen: $NC|listen: $TMP/nutcracker-$sc.sock|; s|- $MC:1|- $backend:1|" "$TMP/nutcracker.yml" >>"$TMP/nutcracker-$sc.yml"
		start "nutcracker_$sc" /usr/sbin/nutcracker -c "$TMP/nutcracker-$sc.yml" -s "${SNC_STATS##*:}" -a 127.0.0.1 -v 4 -o "$TMP/nutcracker-$sc.out" -p "$TMP/nutcracker-$sc.pid"
		"$FB" waitport --addr "$SNC"
		scoped+=("nutcracker_$sc")
		target_nc="$SNC"
		v="nutcracker_${sc}_PID" && nc_pid=${!v}
	elif [ "$backend" != "$MC" ]; then
		SNC=$("$FB" freeport)
		SNC_STATS=$("$FB" freeport)
		sed "s|listen: $NC|listen: $SNC|; s|- $MC:1|- $backend:1|" "$TMP/nutcracker.yml" >"$TMP/nutcracker-$sc.yml"
		start "nutcracker_$sc" /usr/sbin/nutcracker -c "$TMP/nutcracker-$sc.yml" -s "${SNC_STATS##*:}" -a 127.0.0.1 -v 4 -o "$TMP/nutcracker-$sc.out" -p "$TMP/nutcracker-$sc.pid"
		"$FB" waitport --addr "$SNC"
		scoped+=("nutcracker_$sc")
		target_nc="$SNC"
		v="nutcracker_${sc}_PID" && nc_pid=${!v}
	fi
	targets+=(--target "nutcracker=$target_nc")
	pids+=(--pid "nutcracker=$nc_pid")
	if [ "$unix" = unix ]; then
		targets+=(--target "nutcracker-unix=unix:$TMP/nutcracker-$sc.sock")
		pids+=(--pid "nutcracker-unix=$nc_pid")
	fi
	targets+=(--target "memcached=$backend")
	pids+=(--pid "memcached=$memcached_PID" --pid "backend=$memcached_PID")
	if [ "$delay" != "-" ]; then
		v="relay_${sc}_PID" && pids+=(--pid "relay=${!v}")
	fi
	echo "== $sc: $desc" >&2
	json="$OUT/$STAMP-$sc.json"
	cmd=("$FB" run --scenarios bench/scenarios.yaml --scenario "$sc" "${targets[@]}" "${pids[@]}"
		--duration "$DURATION" --warmup "$WARMUP" --rounds "$ROUNDS"
		--count-upstream "$MC" --json "$json" --markdown "$TMP/$sc.md")
	logcmd "${cmd[@]}"
	status=ok
	if ! "${cmd[@]}" 2>"$TMP/$sc.log"; then
		status=failed
	fi
	cat "$TMP/$sc.log" >&2
	for who in memcached nutcracker faed "${scoped[@]}"; do
		if ! alive "$who"; then
			ABORTED="$who exited during $sc"
			notes+=("**$who exited during $sc; the scenarios after it were not run.** Its log: \`$(tail -5 "$TMP/$who.log" | tr '\n' ' ')\`")
		fi
	done
	# Stop this scenario's processes; the relay says what it did when it stops.
	relay_line=""
	for who in "${scoped[@]}"; do
		stop "$who"
		case $who in relay_*) relay_line=$(grep '^relay ' "$TMP/$who.log" || true) ;; esac
	done
	{
		echo "### $sc: $desc"
		echo
		for n in "${notes[@]}"; do echo "$n"; echo; done
		if [ "$status" = ok ]; then
			cat "$TMP/$sc.md"
			"$FB" plot --json "$json" --out "$OUT/$STAMP-$sc.png"
			JSONS+=("$json")
			echo
			echo "![$sc latency by percentile]($STAMP-$sc.png) · rounds: [$STAMP-$sc.json]($STAMP-$sc.json)"
		else
			echo "**fae-bench failed for $sc.**"
		fi
		echo
		if [ -n "$relay_line" ]; then
			echo "The relay, over the whole scenario (prefill and warmups included):"
			echo
			echo '```'
			echo "$relay_line"
			echo '```'
			echo
		fi
		echo '<details><summary>rounds, in the order run</summary>'
		echo
		echo '```'
		cat "$TMP/$sc.log"
		echo '```'
		echo '</details>'
		echo
	} >>"$SECTIONS"
	[ -z "$ABORTED" ] || break
done

# --- idle connections --------------------------------------------------------
# Each server is measured fresh (started just for this, never loaded):
# a Go process reuses heap freed after the scenarios' load, which would
# hide what connections cost.
echo "== idle: $IDLE_CONNS connections to each server" >&2
IDLE="$TMP/idle.txt"
: >"$IDLE"
if [ -z "$ABORTED" ]; then
	IMC=$("$FB" freeport)
	IMC_ARGS=("${MC_ARGS[@]}")
	for i in "${!IMC_ARGS[@]}"; do
		[ "${IMC_ARGS[$i]}" = "-p" ] && IMC_ARGS[$((i + 1))]=${IMC##*:}
	done
	start idle_memcached /usr/bin/memcached "${IMC_ARGS[@]}"
	INC=$("$FB" freeport)
	INC_STATS=$("$FB" freeport)
	sed "s|listen: $NC|listen: $INC|" "$TMP/nutcracker.yml" >"$TMP/nutcracker-idle.yml"
	start idle_nutcracker /usr/sbin/nutcracker -c "$TMP/nutcracker-idle.yml" -s "${INC_STATS##*:}" -a 127.0.0.1 -v 4 -o "$TMP/nutcracker-idle.out" -p "$TMP/nutcracker-idle.pid"
	IFD=$("$FB" freeport)
	# shellcheck disable=SC2206
	start idle_faed "$TMP/faed" -config "$TMP/faed-base.yaml" -listen "$IFD" -servers "$MC" ${FAED_ARGS:-}
	for a in "$IMC" "$INC" "$IFD"; do "$FB" waitport --addr "$a"; done
	for t in "faed $IFD $idle_faed_PID" "nutcracker $INC $idle_nutcracker_PID" "memcached $IMC $idle_memcached_PID"; do
		read -r name addr pid <<<"$t"
		cmd=("$FB" idle --target "$name=$addr" --pid "$pid" --conns "$IDLE_CONNS" --settle 2s)
		logcmd "${cmd[@]}"
		"${cmd[@]}" >>"$IDLE" 2>&1 || echo "$name: idle test failed" >>"$IDLE"
	done
else
	echo "not run: $ABORTED" >"$IDLE"
fi
cat "$IDLE" >&2

# --- report --------------------------------------------------------------------
{
	echo "# fae-bench: faed vs nutcracker vs memcached, $STAMP"
	echo
	echo "Written by \`bench/compare.sh --duration $DURATION --rounds $ROUNDS --warmup $WARMUP\`. Each scenario runs its"
	echo "targets in turns (faed, [faed-l1,] nutcracker, memcached, then again, $ROUNDS rounds of $DURATION after a"
	echo "$WARMUP warmup each); figures are each target's median of rounds; \"ratio\" columns compare with faed"
	echo "(req/s above 1x: faster than faed; p99 below 1x: quicker than faed). nutcracker and faed proxy to the same"
	echo "memcached, which is also measured directly. Load generator, proxies and memcached share the machine's"
	echo "cores, so absolute figures are low and noisy; compare ratios. \"cpu µs/req\" is the target's own server"
	echo "process's CPU time (user + system, /proc/PID/stat) over the requests of the round, \"reads/req\" and"
	echo "\"writes/req\" its read and write syscalls (/proc/PID/io syscr, syscw: read/readv and write/writev,"
	echo "not recvmsg/sendmsg, which memcached replies with); \"backend\" is memcached's CPU per request whichever"
	echo "target is measured, \"relay\" the lag relay's in the scenarios with a hop. These are the figures that"
	echo "stay stable on a shared machine."
	echo
	echo "## Machine"
	echo
	echo '```'
	echo "nproc: $(nproc)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "memory: $(free -h | awk '/^Mem:/ {print $2}')"
	echo "kernel: $(uname -sr)"
	echo "$(go version)"
	echo "$(/usr/bin/memcached -V)"
	echo "$(/usr/sbin/nutcracker --version 2>&1 | head -1)"
	echo "fae: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
	echo '```'
	echo
	echo "## Overview"
	echo
	if [ ${#JSONS[@]} -gt 0 ]; then
		"$FB" overview --ratio faed/nutcracker --ratio faed-l1/memcached --ratio faed-unix/faed --ratio nutcracker-unix/nutcracker "${JSONS[@]}"
	fi
	echo
	echo "## Idle connections: RSS added by $IDLE_CONNS idle clients"
	echo
	echo "Each server is a fresh instance started for this test (a Go process reuses heap freed after load, which"
	echo "would hide the cost). Each connection is opened, sends one \`get\` of a missing key, and is held; VmRSS of"
	echo "the server is read before, 2s after opening all of them, and 2s after closing them."
	echo
	echo '```'
	cat "$IDLE"
	echo '```'
	echo
	echo "## Scenarios"
	echo
	cat "$SECTIONS"
	echo "## Setup"
	echo
	echo "Servers (all on 127.0.0.1; \$TMP is the script's temp dir):"
	echo
	echo '```'
	cat "$CMDS"
	echo '```'
	echo
	echo "nutcracker.yml:"
	echo
	echo '```yaml'
	cat "$TMP/nutcracker.yml"
	echo '```'
	echo
	echo "Scenarios with a hop (upstream_delay) run a nutcracker of their own with this config, its server the relay."
	echo
	echo "nutcracker's settings match faed's defaults so the comparison is of the proxies, not their tuning:"
	echo "2 connections to the server (faed's \`conns_per_server\`), 500ms server timeout (faed's \`timeout\`),"
	echo "no ejection (faed never ejects), preconnect. faed uses its default event loops (one per two CPUs: $(( $(nproc) / 2 > 0 ? $(nproc) / 2 : 1 )));"
	echo "nutcracker is single-threaded by design; memcached runs 1 worker thread (\`-t 1\`)."
} >"$REPORT"
echo "report: $REPORT" >&2
[ -z "$ABORTED" ] || { echo "compare.sh: $ABORTED" >&2; exit 1; }
