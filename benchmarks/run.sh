#!/usr/bin/env bash
# The HTTP benchmark of docs/BENCHMARKS.md, in one command, on loopback only:
#   benchmarks/run.sh
# Builds sample-webapp.jar and benchmarks.jar, then for each of: no filter, memory, redis, jdbc,
# redis+jdbc starts the sample webapp in its own JVM and drives it from another JVM
# (dev.idempotency.bench.HttpLoad): first executions (a new key per request) and replays (one
# completed key), at 1 and 32 clients. Then the floor (dev.idempotency.bench.Floor: Redis PING
# and SET NX PX, PostgreSQL SELECT 1) and a Markdown report (dev.idempotency.bench.Report).
# 8 to 10 minutes with the defaults (most of it warming up the JVMs).
#
# Needs the machine's Redis on 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (database test,
# user postgres, trust). Records are written with a 10-minute retention, so they expire.
#
# Environment (all optional):
#   STORES="none memory redis jdbc redis+jdbc"  which rows to run (none = no filter at all)
#   CLIENTS=1,32  WARMUP=1  DURATION=5   seconds of warm-up and measurement per scenario
#   JVM_WARMUP=30 JVM_WARMUP_MAX=120   each sample JVM is warmed up until first executions stop
#                         getting faster (< 5 % between 3 s windows) and its JIT compiler threads
#                         are idle under load (< 2 % of the CPU), within these bounds; between
#                         windows the load pauses until the compiler threads are idle (<= 10 s)
#   SKIP_BUILD=1          reuse the jars in */target
#   JFR=redis             record the sample JVM of this store with JFR (profile settings)
#   PIN=1                 pin the sample JVM to CPU 1 and the generator to CPU 0 (taskset)
#   PORT=18080            the sample's port
#   SAMPLE_JAR=...        another build of the sample (e.g. before a change)
#   OUT=benchmarks/target/http-<time>   where results.tsv, report.md and the logs go
set -euo pipefail

cd "$(dirname "$0")/.."
STORES=${STORES:-"none memory redis jdbc redis+jdbc"}
CLIENTS=${CLIENTS:-1,32}
WARMUP=${WARMUP:-1}
DURATION=${DURATION:-5}
JVM_WARMUP=${JVM_WARMUP:-30}
JVM_WARMUP_MAX=${JVM_WARMUP_MAX:-120}
PORT=${PORT:-18080}
OUT=${OUT:-benchmarks/target/http-$(date -u +%Y%m%dT%H%M%SZ)}
REDIS_URI=redis://127.0.0.1:6379
JDBC_URL=jdbc:postgresql://127.0.0.1:5432/test
SAMPLE_JAR=${SAMPLE_JAR:-sample-webapp/target/sample-webapp.jar}
BENCH_JAR=benchmarks/target/benchmarks.jar

reachable() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
reachable 127.0.0.1 6379 || { echo "run.sh: no Redis on 127.0.0.1:6379" >&2; exit 1; }
reachable 127.0.0.1 5432 || { echo "run.sh: no PostgreSQL on 127.0.0.1:5432" >&2; exit 1; }
if reachable 127.0.0.1 "$PORT"; then
  echo "run.sh: port $PORT is taken; set PORT=" >&2
  exit 1
fi

if [[ -z "${SKIP_BUILD:-}" ]]; then
  echo "== building sample-webapp.jar and benchmarks.jar"
  mvn -B -q -pl sample-webapp,benchmarks -am clean package -DskipTests
fi
mkdir -p "$OUT"
RESULTS=$OUT/results.tsv
: >"$RESULTS"

SERVER_CPU=()
LOAD_CPU=()
if [[ -n "${PIN:-}" ]]; then
  SERVER_CPU=(taskset -c 1)
  LOAD_CPU=(taskset -c 0)
fi

{
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- nproc: $(nproc); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
  echo "- JDK: $(java -version 2>&1 | head -1)"
  echo "- Redis: $(redis-cli -h 127.0.0.1 INFO server 2>/dev/null | grep -m1 redis_version | tr -d '\r' || echo '?')"
  echo "- PostgreSQL: $(psql -h 127.0.0.1 -U postgres -d test -tAc 'SHOW server_version' 2>/dev/null || echo '?')"
  echo "- load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- settings: STORES=\"$STORES\" CLIENTS=$CLIENTS WARMUP=${WARMUP}s DURATION=${DURATION}s JVM_WARMUP=${JVM_WARMUP}-${JVM_WARMUP_MAX}s PIN=${PIN:-} JFR=${JFR:-}"
} | tee "$OUT/machine.md"

SAMPLE_PID=
stop_sample() {
  if [[ -n "$SAMPLE_PID" ]] && kill -0 "$SAMPLE_PID" 2>/dev/null; then
    kill "$SAMPLE_PID"
    wait "$SAMPLE_PID" 2>/dev/null || true
  fi
  SAMPLE_PID=
}
trap stop_sample EXIT

start_sample() { # store, log
  "${SERVER_CPU[@]}" java -Xms1g -Xmx1g "${jfr[@]}" "${props[@]}" -jar "$SAMPLE_JAR" >"$2" 2>&1 &
  SAMPLE_PID=$!
  for _ in $(seq 1 300); do
    grep -q "listening on" "$2" && return 0
    kill -0 "$SAMPLE_PID" 2>/dev/null || { cat "$2" >&2; return 1; }
    sleep 0.2
  done
  echo "run.sh: the sample did not start" >&2
  return 1
}

measure() { # store
  "${LOAD_CPU[@]}" java -Xms512m -Xmx512m -cp "$BENCH_JAR" dev.idempotency.bench.HttpLoad \
    --port "$PORT" --label "$1" --out "$RESULTS" --clients "$CLIENTS" \
    --warmup "$WARMUP" --duration "$DURATION" --jvm-warmup "$JVM_WARMUP" \
    --jvm-warmup-max "$JVM_WARMUP_MAX" --server-pid "$SAMPLE_PID" --redis "$REDIS_URI" --jdbc "$JDBC_URL"
}

for store in $STORES; do
  props=(-Dport="$PORT" -Didempotency.retention=10m)
  if [[ "$store" == none ]]; then
    props+=(-Dsample.filter=none)
  else
    props+=(-Didempotency.store="$store" -Didempotency.redis.uri="$REDIS_URI"
      -Didempotency.jdbc.url="$JDBC_URL" -Didempotency.jdbc.user=postgres
      -Didempotency.jdbc.create-schema=true)
  fi
  jfr=()
  if [[ "${JFR:-}" == "$store" ]]; then
    # JDK's profile settings, Java methods sampled every 1 ms instead of 10 ms
    sed 's/control="method-sampling-java-interval">[^<]*</control="method-sampling-java-interval">1 ms</' \
      "$(dirname "$(readlink -f "$(command -v java)")")/../lib/jfr/profile.jfc" >"$OUT/hot.jfc"
    jfr=(-XX:StartFlightRecording=filename="$OUT/${store}.jfr",settings="$OUT/hot.jfc")
  fi
  log="$OUT/sample-${store/+/-}.log"
  echo "== $store"
  echo "- load at the start of $store: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.md"
  start_sample "$store" "$log"
  if ! measure "$store"; then
    # The machine is shared: once, a sample JVM was gone in the middle of a run. Try once more.
    echo "run.sh: $store failed; starting it once more" >&2
    stop_sample
    start_sample "$store" "$log.retry"
    measure "$store"
  fi
  stop_sample
done

echo "== floor"
"${LOAD_CPU[@]}" java -Xms512m -Xmx512m -cp "$BENCH_JAR" dev.idempotency.bench.Floor \
  --out "$RESULTS" --redis "$REDIS_URI" --jdbc "$JDBC_URL" --warmup "$WARMUP" \
  --duration "$(( DURATION > 4 ? 4 : DURATION ))"

echo "- load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.md"
java -cp "$BENCH_JAR" dev.idempotency.bench.Report "$RESULTS" >"$OUT/report.md"
echo
cat "$OUT/machine.md" "$OUT/report.md"
echo
echo "(written to $OUT)"
