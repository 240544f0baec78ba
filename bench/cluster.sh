#!/usr/bin/env bash
# cluster.sh: requests per second of a cluster pool (3 faed sidecars on
# 127.0.0.2-4, replicas 2, fae-bench through the first) beside a memcache
# pool of 3 memcached (one faed in front of them), in one run, turn by turn.
#
#   bench/cluster.sh                          # S1 and S2, 3 rounds of 5s
#   bench/cluster.sh --scenarios "S1" --rounds 5
#
# Prints a Markdown report on stdout. Everything it starts is killed when it
# exits.
set -euo pipefail

SCENARIOS="S1 S2"
ROUNDS=3
DURATION=5s
while [ $# -gt 0 ]; do
	case $1 in
	--scenarios) SCENARIOS=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	*) echo "cluster.sh: unknown flag $1" >&2; exit 2 ;;
	esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cd "$ROOT"
go build -o "$TMP/faed" ./cmd/faed
go build -o "$TMP/fae-bench" ./cmd/fae-bench
FB="$TMP/fae-bench"

start() {
	local name=$1
	shift
	"$@" >"$TMP/$name.log" 2>&1 &
	PIDS+=($!)
}

# peers_up ADDR N: waits until faed at ADDR lists N peers up.
peers_up() {
	local host=${1%:*} port=${1##*:} n=$2 i line up
	for i in $(seq 1 500); do
		up=0
		exec 3<>"/dev/tcp/$host/$port"
		printf 'stats peers\r\n' >&3
		while IFS= read -r line <&3; do
			line=${line%$'\r'}
			[ "$line" = END ] && break
			case $line in *" up") up=$((up + 1)) ;; esac
		done
		exec 3>&-
		[ "$up" -ge "$n" ] && return 0
		sleep 0.02
	done
	echo "cluster.sh: $1 never saw $n peers up" >&2
	return 1
}

MC_ARGS=(-U 0 -t 1 -c 16384 -m 1024 -l 127.0.0.1)
[ "$(id -u)" -eq 0 ] && MC_ARGS+=(-u root)
MCS=()
for i in 1 2 3; do
	addr=$("$FB" freeport)
	start "memcached$i" /usr/bin/memcached "${MC_ARGS[@]}" -p "${addr##*:}"
	"$FB" waitport --addr "$addr"
	MCS+=("$addr")
done
FD=$("$FB" freeport)
printf 'pools:\n  default: {servers: ["%s", "%s", "%s"]}\n' "${MCS[@]}" >"$TMP/memcache.yaml"
start faed-memcache "$TMP/faed" -config "$TMP/memcache.yaml" -listen "$FD"
"$FB" waitport --addr "$FD"

PEERS=()
for i in 2 3 4; do
	p=$("$FB" freeport)
	PEERS+=("127.0.0.$i:${p##*:}")
done
CLS=()
for i in 0 1 2; do
	addr=$("$FB" freeport)
	cat >"$TMP/cluster$i.yaml" <<YAML
peers:
  listen: ${PEERS[$i]}
  secret: "a-sixteen-byte-secret-for-bench"
  static: ["${PEERS[0]}", "${PEERS[1]}", "${PEERS[2]}"]
pools:
  default: {kind: cluster, replicas: 2}
YAML
	start "faed-cluster$i" "$TMP/faed" -config "$TMP/cluster$i.yaml" -listen "$addr"
	"$FB" waitport --addr "$addr"
	CLS+=("$addr")
done
for a in "${CLS[@]}"; do peers_up "$a" 2; done

echo "# cluster pool vs memcache pool ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs)"
echo
echo "cluster: 3 faed (peers on ${PEERS[*]}, replicas 2), fae-bench through ${CLS[0]};"
echo "memcache: 1 faed, pool of 3 memcached (-t 1). Rounds taken in turns."
for sc in $SCENARIOS; do
	echo
	echo "## $sc"
	echo
	"$FB" run --scenarios bench/scenarios.yaml --scenario "$sc" --rounds "$ROUNDS" --duration "$DURATION" \
		--target "cluster=${CLS[0]}" --target "memcache=$FD"
done
