#!/usr/bin/env bash
# Runs units of Redis's own Tcl test suite (external mode) against seawall, or against
# redis-server directly (--direct, the baseline), one fresh redis-server (and seawall) per unit.
#
# Usage: tests/compat/run-redis-suite.sh [options] [REDIS_SRC]
#   REDIS_SRC            a Redis source checkout (7.0.x) holding ./runtest and tests/;
#                        or env REDIS_SRC
#   --direct             run against redis-server itself instead of through seawall
#   --singledb           pass --singledb to the suite: database 0 only, no SELECT 9, so test
#                        clients use seawall's shared connections instead of pinning
#   --units "a b ..."    run only these units (names as in the default list below)
#   --out DIR            logs and results (default /tmp/seawall-redis-suite/<mode>)
#   --timeout SEC        bound on one unit's run (default 600)
#   --hang-timeout SEC   a test making no progress this long is taken as hung (default 120):
#                        it counts as failed and the unit is run again without it
#   --skiptest NAME      skip this test too (repeatable; /REGEXP as in runtest)
# Env: SEAWALL_BIN (default build/seawall), REDIS_SERVER (default redis-server on PATH),
#      SEAWALL_THREADS (default 1), SEAWALL_EXTRA_CONFIG (YAML lines appended to seawall's
#      config, e.g. "introspection: {client_list: seawall}").
#
# Output: a table (unit, passed, failed, skipped, status) and totals on stdout; in DIR:
# <unit>.log (the suite's output; <unit>.hungN.log for runs that hung), <unit>.seawall.log,
# <unit>.redis.log, failures.tsv (unit<TAB>test<TAB>failure message) and summary.tsv.
set -u

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

units_default="type/string type/incr type/list type/list-2 type/list-3 type/hash type/set
type/zset type/stream type/stream-cgroups expire keyspace scan sort dump other multi quit pubsub
protocol info-command scripting functions introspection introspection-2 tracking bitops
bitfield geo hyperloglog latency-monitor slowlog pause lazyfree querybuf"

# Tests that are skipped in both modes: too slow for a shared 2-core machine, says nothing
# about a proxy.
skip_tests=("SRANDMEMBER with a dict containing long chain")

mode=seawall
singledb=0
units="$units_default"
out=""
unit_timeout=600
hang_timeout=120
redis_src="${REDIS_SRC:-}"

while [ $# -gt 0 ]; do
  case "$1" in
    --direct) mode=direct ;;
    --singledb) singledb=1 ;;
    --units) units="$2"; shift ;;
    --out) out="$2"; shift ;;
    --timeout) unit_timeout="$2"; shift ;;
    --hang-timeout) hang_timeout="$2"; shift ;;
    --skiptest) skip_tests+=("$2"); shift ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d'; exit 0 ;;
    -*) echo "unknown option: $1" >&2; exit 2 ;;
    *) redis_src="$1" ;;
  esac
  shift
done

if [ -z "$redis_src" ] || [ ! -x "$redis_src/runtest" ]; then
  echo "need the path of a Redis source checkout (argument or REDIS_SRC)" >&2
  exit 2
fi
redis_src="$(cd "$redis_src" && pwd)"
seawall_bin="${SEAWALL_BIN:-$repo/build/seawall}"
redis_server="${REDIS_SERVER:-$(command -v redis-server)}"
threads="${SEAWALL_THREADS:-1}"
if [ "$mode" = seawall ] && [ ! -x "$seawall_bin" ]; then
  echo "seawall binary not found: $seawall_bin (set SEAWALL_BIN or build it)" >&2
  exit 2
fi
if [ -z "$redis_server" ]; then
  echo "redis-server not found (set REDIS_SERVER)" >&2
  exit 2
fi
# The suite keeps state in its checkout (tests/tmp, a fixed test-server port): one run at a time.
mkdir -p "$redis_src/tests/tmp"
exec 9> "$redis_src/tests/tmp/seawall-suite.lock"
if ! flock -n 9; then
  echo "another run is using $redis_src; wait for it to finish" >&2
  exit 2
fi
label="$mode"
[ "$singledb" = 1 ] && label="$mode-singledb"
out="${out:-/tmp/seawall-redis-suite/$label}"
mkdir -p "$out"
: > "$out/failures.tsv"
: > "$out/summary.tsv"

# Ports below the kernel's ephemeral range (see free_port in tests/integration/harness.py).
free_port() {
  /usr/bin/python3 -c 'import sys
sys.path.insert(0, sys.argv[1])
from harness import free_port
print(free_port())' "$here/../integration"
}

# Waits until something answers PING on the port (up to 10 s).
wait_ping() {
  local port=$1
  for _ in $(seq 100); do
    if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# Stops a process this script started: TERM, then KILL after 10 s.
stop_pid() {
  local pid=$1
  [ -z "$pid" ] && return
  kill -TERM "$pid" 2>/dev/null || return
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

redis_pid=""
seawall_pid=""
suite_pid=""
cleanup() {
  [ -n "$suite_pid" ] && kill -KILL -- "-$suite_pid" 2>/dev/null
  stop_pid "$seawall_pid"
  stop_pid "$redis_pid"
}
trap 'cleanup; exit 130' INT TERM

write_seawall_config() {
  local file=$1 listen=$2 upstream=$3
  # The breaker must never open on this suite's deliberately slow commands (DEBUG SLEEP,
  # big SORTs, Lua loops) nor on -BUSY replies: a failure rate and slow-call rate of 0 disable
  # those triggers, and the consecutive-failure trigger (one must stay enabled) is out of reach.
  cat > "$file" <<EOF
listen: {address: 127.0.0.1, port: $listen}
threads: $threads
upstreams:
  - name: main
    address: 127.0.0.1:$upstream
    connections: 2
    connect_timeout: 1s
    request_timeout: 60s
    breaker:
      failure_rate_threshold: 0
      consecutive_failures: 1000000000
      slow_call_duration: 60s
      slow_call_rate_threshold: 0
    health_check: {enabled: true, interval: 1s, timeout: 10s}
    recovery_ramp: 0s
limits:
  max_clients: 100000
  max_pinned: 100000
  client_output_buffer: 4gb
log: {level: warn}
admin: {enabled: false}
${SEAWALL_EXTRA_CONFIG:-}
EOF
}

# Runs the suite once for $unit against fresh servers, skipping the tests in $unit_skips (one
# per line); sets $status and leaves the suite's output in $log.
run_unit_once() {
  status=ok
  redis_port=$(free_port)
  "$redis_server" --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    --enable-debug-command yes --daemonize no --logfile "$out/$name.redis.log" \
    --dir "$out" --dbfilename "$name.rdb" > /dev/null 2>&1 9>&- &
  redis_pid=$!
  if ! wait_ping "$redis_port"; then
    status=redis-start-failed
  fi
  target_port=$redis_port
  if [ "$status" = ok ] && [ "$mode" = seawall ]; then
    target_port=$(free_port)
    write_seawall_config "$out/$name.seawall.yaml" "$target_port" "$redis_port"
    "$seawall_bin" --config "$out/$name.seawall.yaml" >> "$out/$name.seawall.log" 2>&1 9>&- &
    seawall_pid=$!
    if ! wait_ping "$target_port"; then
      status=seawall-start-failed
    fi
  fi
  : > "$log"
  if [ "$status" = ok ]; then
    # --timeout: the suite gives up (naming the test in progress) after this long without
    # progress; the watchdog below bounds the whole unit.
    args=(--host 127.0.0.1 --port "$target_port" --single "unit/$unit" --durable
      --timeout "$hang_timeout")
    [ "$singledb" = 1 ] && args+=(--singledb)
    for t in "${skip_tests[@]}"; do
      args+=(--skiptest "$t")
    done
    while IFS= read -r t; do
      [ -n "$t" ] && args+=(--skiptest "$t")
    done <<< "$unit_skips"
    # Its own session (process group), so that the suite's helper processes can be stopped
    # together if the unit overruns.
    (cd "$redis_src" && TERM=dumb exec setsid ./runtest "${args[@]}") > "$log" 2>&1 \
      < /dev/null 9>&- &
    suite_pid=$!
    deadline=$((SECONDS + unit_timeout))
    while kill -0 "$suite_pid" 2>/dev/null; do
      if [ $SECONDS -ge $deadline ]; then
        status=timeout
        kill -KILL -- "-$suite_pid" 2>/dev/null
        break
      fi
      sleep 1
    done
    wait "$suite_pid" 2>/dev/null
    # Helper processes the suite left behind (bg_complex_data ...), by our group id only.
    kill -KILL -- "-$suite_pid" 2>/dev/null
    suite_pid=""
    if grep -q '^\[exception\]' "$log"; then
      status=exception
    elif grep -q '^\[TIMEOUT\]' "$log"; then
      status=hung
    elif [ "$status" = ok ] && ! grep -q 'All tests passed\|The following tests failed' "$log"; then
      status=incomplete
    fi
    if [ "$mode" = seawall ] && ! kill -0 "$seawall_pid" 2>/dev/null; then
      status="$status,seawall-died"
    fi
  fi
  stop_pid "$seawall_pid"
  seawall_pid=""
  stop_pid "$redis_pid"
  redis_pid=""
  rm -f "$out/$name.rdb"
}

total_ok=0
total_err=0
total_skip=0
printf '%-22s %7s %7s %7s  %s\n' unit passed failed skipped status
for unit in $units; do
  name="${unit//\//_}"
  log="$out/$name.log"
  : > "$out/$name.seawall.log"
  # A test that hangs (a reply that never comes) would end the unit there: it is counted as a
  # failure and the unit is run again without it, so the tests after it still run.
  unit_skips=""
  hung=()
  for attempt in 1 2 3 4 5 6; do
    run_unit_once
    [ "$status" = hung ] || break
    cp "$log" "$out/$name.hung$attempt.log"
    test=$(sed -n 's/^.* => (IN PROGRESS) //p' "$log" | head -1)
    if [ -z "$test" ] || [ "$attempt" = 6 ]; then
      status="hung outside a test"
      break
    fi
    hung+=("$test")
    unit_skips+="$test"$'\n'
    status=ok
  done
  [ ${#hung[@]} -gt 0 ] && status="$status, re-run without ${#hung[@]} hung test(s)"

  n_ok=$(grep -c '^\[ok\]: ' "$log" 2>/dev/null)
  n_skip=$(grep -c '^\[\(skip\|ignore\)\]: ' "$log" 2>/dev/null)
  n_skip=$((${n_skip:-0} - ${#hung[@]}))
  # A failure is "[err]: <test> in tests/unit/....tcl" followed by its message: an assertion's
  # on the next line; for an error, a mangled copy, then the error itself. Failures outside any
  # test (durable exceptions in a server block) have no " in tests/" part.
  n_err=0
  while IFS= read -r line; do
    n_err=$((n_err + 1))
    test="${line#\[err\]: }"
    test="${test% in tests/*}"
    msg=$(grep -A2 -F -x -- "$line" "$log" | sed -n 2,3p)
    if [ "$(printf '%s\n' "$msg" | wc -l)" -ge 2 ] && ! printf '%s\n' "$msg" | sed -n 2p | grep -q '^\['; then
      msg=$(printf '%s\n' "$msg" | sed -n 2p)
    else
      msg=$(printf '%s\n' "$msg" | sed -n 1p)
    fi
    printf '%s\t%s\t%s\n' "$unit" "$test" "${msg:0:200}" >> "$out/failures.tsv"
  done < <(grep '^\[err\]: ' "$log" 2>/dev/null)
  for test in "${hung[@]}"; do
    n_err=$((n_err + 1))
    printf '%s\t%s\t%s\n' "$unit" "$test" "hung: no progress for ${hang_timeout}s" \
      >> "$out/failures.tsv"
  done
  : "${n_ok:=0}"
  total_ok=$((total_ok + n_ok))
  total_err=$((total_err + n_err))
  total_skip=$((total_skip + n_skip))
  printf '%s\t%s\t%s\t%s\t%s\n' "$unit" "$n_ok" "$n_err" "$n_skip" "$status" >> "$out/summary.tsv"
  printf '%-22s %7s %7s %7s  %s\n' "$unit" "$n_ok" "$n_err" "$n_skip" "$status"
done
printf '%-22s %7s %7s %7s\n' TOTAL "$total_ok" "$total_err" "$total_skip"
echo
echo "failing tests ($mode$([ "$singledb" = 1 ] && echo ', singledb')):"
cut -f1,2 "$out/failures.tsv" | sed 's/\t/: /'
echo
echo "logs: $out"
[ "$total_err" -eq 0 ]
