#!/usr/bin/env bash
# Redis time per EVALSHA of each script in benchmarks/lua (INFO commandstats usec_per_call),
# driven by redis-benchmark with one client and a new key per call, rounds alternated.
# Usage: benchmarks/redis-script-cost.sh [port] [rounds] [calls]   (default 6391 4 20000)
# Start a private server first, e.g.: redis-server --port 6391 --save '' --daemonize yes
set -euo pipefail
port=${1:-6391}
rounds=${2:-4}
calls=${3:-20000}
cd "$(dirname "$0")/lua"
hash=0123456789012345678901234567890123456789012345678901234567890123
fields="201
60
Content-Type: application/json
Location: /orders/1
$(printf 'x%.0s' $(seq 200))"
for round in $(seq "$rounds"); do
  for script in *.lua; do
    sha=$(redis-cli -p "$port" script load "$(cat "$script")")
    redis-cli -p "$port" config resetstat >/dev/null
    redis-benchmark -p "$port" -c 1 -n "$calls" -r 1000000000 \
      evalsha "$sha" 1 "cost:${script%.lua}:__rand_int__" "$hash" 1234567890123456789 30000 \
      60000 "$fields" >/dev/null
    usec=$(redis-cli -p "$port" info commandstats | grep -o 'cmdstat_evalsha:.*' \
      | grep -o 'usec_per_call=[0-9.]*' | cut -d= -f2)
    printf '%s\t%-26s\t%s µs\n' "$round" "${script%.lua}" "$usec"
  done
done
