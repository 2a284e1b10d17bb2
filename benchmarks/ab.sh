#!/usr/bin/env bash
# Before/after of a filter change, interleaved so that load from other work on the machine hits
# both sides alike:
#   benchmarks/ab.sh BEFORE.jar AFTER.jar [store...]        (default stores: memory redis)
# For each store, three sample JVMs run at once on three ports — no filter, BEFORE.jar and
# AFTER.jar (two builds of sample-webapp.jar) — each warmed up, then ROUNDS rounds drive them in
# turn (order rotated each round) with HttpLoad at 32 clients, first executions and replays.
# Prints, per store and request kind, the median over the rounds of req/s and of the ratio to the
# no-filter JVM measured in the same round. Only one JVM is under load at any time.
#
# Environment: ROUNDS=4 WARMUP=1 DURATION=4 JVM_WARMUP=30 JVM_WARMUP_MAX=120 (HttpLoad's warm-up
# rule within these bounds, as in run.sh) OUT=benchmarks/target/ab-<time>
set -euo pipefail

cd "$(dirname "$0")/.."
BEFORE=$(readlink -f "$1")
AFTER=$(readlink -f "$2")
shift 2
STORES=("${@:-memory redis}")
read -r -a STORES <<<"${STORES[*]}"
ROUNDS=${ROUNDS:-4}
WARMUP=${WARMUP:-1}
DURATION=${DURATION:-4}
JVM_WARMUP=${JVM_WARMUP:-30}
JVM_WARMUP_MAX=${JVM_WARMUP_MAX:-120}
OUT=${OUT:-benchmarks/target/ab-$(date -u +%Y%m%dT%H%M%SZ)}
BENCH_JAR=benchmarks/target/benchmarks.jar
REDIS_URI=redis://127.0.0.1:6379
JDBC_URL=jdbc:postgresql://127.0.0.1:5432/test
mkdir -p "$OUT"
RESULTS=$OUT/results.tsv
: >"$RESULTS"

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}
trap cleanup EXIT

start() { # variant jar port store
  local props=(-Dport="$3" -Didempotency.retention=10m)
  if [[ "$1" == none ]]; then
    props+=(-Dsample.filter=none)
  else
    props+=(-Didempotency.store="$4" -Didempotency.redis.uri="$REDIS_URI"
      -Didempotency.jdbc.url="$JDBC_URL" -Didempotency.jdbc.user=postgres
      -Didempotency.jdbc.create-schema=true)
  fi
  java -Xms1g -Xmx1g "${props[@]}" -jar "$2" >"$OUT/sample-$4-$1.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 300); do
    grep -q "listening on" "$OUT/sample-$4-$1.log" && return 0
    sleep 0.2
  done
  echo "ab.sh: $1 did not start" >&2
  return 1
}

load() { # label port pid out jvm-warmup duration
  local replays=true
  [[ "$1" == */none/* || "$2" == 18090 ]] && replays=false
  java -Xms512m -Xmx512m -cp "$BENCH_JAR" dev.idempotency.bench.HttpLoad --port "$2" \
    --label "$1" --out "$4" --clients 32 --warmup "$WARMUP" --duration "$6" \
    --jvm-warmup "$5" --jvm-warmup-max "$JVM_WARMUP_MAX" --server-pid "$3" \
    --replays "$replays" >/dev/null
}

echo "- load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/machine.md"
for store in "${STORES[@]}"; do
  echo "== $store"
  start none "$BEFORE" 18090 "$store"
  start before "$BEFORE" 18091 "$store"
  start after "$AFTER" 18092 "$store"
  ports=(18090 18091 18092)
  variants=(none before after)
  for i in 0 1 2; do
    load "warmup" "${ports[$i]}" "${PIDS[$i]}" "$OUT/warmup.tsv" "$JVM_WARMUP" 1
  done
  for round in $(seq 1 "$ROUNDS"); do
    for k in 0 1 2; do
      i=$(( (k + round) % 3 ))
      load "$store/${variants[$i]}/$round" "${ports[$i]}" "${PIDS[$i]}" "$RESULTS" 0 "$DURATION"
    done
    echo "  round $round done, load $(cut -d' ' -f1 /proc/loadavg)"
  done
  cleanup
done
echo "- load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.md"

# label = store/variant/round; columns as HttpLoad writes them (6 = req/s, 12 = server CPU µs/req)
{
echo "| store | requests | before: req/s | before: × no filter | after: req/s | after: × no filter | added server CPU µs/req before → after |"
echo "|---|---|---:|---:|---:|---:|---:|"
awk -F'\t' '
  { split($1, l, "/"); key = l[1] "\t" $2 "\t" l[3]; rps[key, l[2]] = $6; cpu[key, l[2]] = $12;
    keys[key] = 1 }
  END {
    for (key in keys) {
      split(key, k, "\t"); group = k[1] "\t" k[2]
      for (v = 1; v <= 2; v++) {
        name = v == 1 ? "before" : "after"
        n[group, name]++
        ratio[group, name, n[group, name]] = rps[key, name] / rps[key, "none"]
        speed[group, name, n[group, name]] = rps[key, name]
        used[group, name, n[group, name]] = cpu[key, name] - cpu[key, "none"]
      }
      groups[group] = 1
    }
    for (group in groups) {
      split(group, g, "\t")
      printf "| `%s` | %s | %.0f | %.2f | %.0f | %.2f | %.0f → %.0f |\n", g[1], g[2],
        median(speed, group, "before"), median(ratio, group, "before"),
        median(speed, group, "after"), median(ratio, group, "after"),
        median(used, group, "before"), median(used, group, "after")
    }
  }
  function median(a, group, name,    m, i, j, t, x) {
    m = n[group, name]
    for (i = 1; i <= m; i++) x[i] = a[group, name, i]
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
    return m % 2 ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2
  }' "$RESULTS" | sort
} | tee "$OUT/report.md"
echo "(written to $OUT)"
