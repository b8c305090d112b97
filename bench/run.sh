#!/usr/bin/env bash
# Benchmark of the speedometer service on this machine, in one command:
#
#   bench/run.sh            # every part: a b c d e
#   bench/run.sh b c        # only some parts
#
#   a  raw multi-row insert rate of speed_data (speedometer-dbbench: the server's own
#      insert_batch, 1,000-row transactions, 1 and 4 writers)
#   b  the service end to end, closed loop (128 connections x window 16), group commit on
#   c  the same with BATCH_MAX_ROWS=1 (one commit per reading: the naive baseline)
#   d  15,000 connections at 1 reading/s each (target: p99 <= 50 ms, no errors, every row stored)
#   e  server RSS per idle connection with 15,000 idle connections (target: <= 20 KB)
#   f  the Autobahn WebSocket conformance cases, all sections but compression (incl. 9, the
#      large-message and throughput cases), via scripts/autobahn.sh
#
# Each server run gets a fresh database speedometer_bench_<random> on $BENCH_MYSQL_URL, dropped
# afterwards, and a free port on 127.0.0.1; the server is stopped with SIGTERM. Logs and the
# load generator's full output go to target/bench/<time>/. Knobs (environment):
#   BENCH_MYSQL_URL (mysql://root@127.0.0.1:3306)  BENCH_THREADS (2)  BENCH_SOURCE_ADDRS (16)
#   BENCH_A_SECS (10)  BENCH_B_SECS (20)  BENCH_B_CONNS (128)  BENCH_B_WINDOW (16)  BENCH_C_SECS (20)
#   BENCH_D_SECS (60)  BENCH_D_CONNS (15000)  BENCH_D_RATE (1)  BENCH_D_DRAIN (30)  BENCH_RAMP (1000)
#   BENCH_E_CONNS (15000)  BENCH_E_HOLD (15)  BENCH_RUST_LOG (warn)  BENCH_NO_BUILD (unset)
# Exit status: 0 when every part ran and every correctness check passed (targets that are
# missed are reported, not failed); 1 otherwise.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

PARTS="${*:-a b c d e f}"
for p in $PARTS; do
    case "$p" in a | b | c | d | e | f) ;; *)
        echo "usage: bench/run.sh [a] [b] [c] [d] [e] [f]" >&2
        exit 2
        ;;
    esac
done
want() { [[ " $PARTS " == *" $1 "* ]]; }

MYSQL_URL="${BENCH_MYSQL_URL:-mysql://root@127.0.0.1:3306}"
THREADS="${BENCH_THREADS:-2}"
SOURCE_ADDRS="${BENCH_SOURCE_ADDRS:-16}"
RAMP="${BENCH_RAMP:-1000}"
A_SECS="${BENCH_A_SECS:-10}"
B_SECS="${BENCH_B_SECS:-20}"
B_CONNS="${BENCH_B_CONNS:-128}"
B_WINDOW="${BENCH_B_WINDOW:-16}"
C_SECS="${BENCH_C_SECS:-20}"
D_SECS="${BENCH_D_SECS:-60}"
D_CONNS="${BENCH_D_CONNS:-15000}"
D_RATE="${BENCH_D_RATE:-1}"
D_DRAIN="${BENCH_D_DRAIN:-30}"
E_CONNS="${BENCH_E_CONNS:-15000}"
E_HOLD="${BENCH_E_HOLD:-15}"
SERVER_LOG_LEVEL="${BENCH_RUST_LOG:-warn}"

for tool in jq curl ss mariadb awk; do
    command -v "$tool" >/dev/null || {
        echo "bench: needs $tool" >&2
        exit 2
    }
done

# mysql://USER[:PASSWORD]@HOST[:PORT] for the mariadb client.
if [[ ! "$MYSQL_URL" =~ ^mysql://([^:@/]+)(:([^@/]*))?@([^:/]+)(:([0-9]+))?/?$ ]]; then
    echo "bench: BENCH_MYSQL_URL must look like mysql://USER[:PASSWORD]@HOST[:PORT] (no database)" >&2
    exit 2
fi
MYSQL_URL="${MYSQL_URL%/}"
DB_USER="${BASH_REMATCH[1]}"
DB_PASS="${BASH_REMATCH[3]}"
DB_HOST="${BASH_REMATCH[4]}"
DB_PORT="${BASH_REMATCH[6]:-3306}"
sql() { MYSQL_PWD="$DB_PASS" mariadb -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USER" -N -B -e "$1"; }

# Open files: 15,000 sockets each for the server and the load generator.
HARD_NOFILE=$(ulimit -Hn)
if [[ "$HARD_NOFILE" == unlimited || "$HARD_NOFILE" -ge 20000 ]]; then
    ulimit -n 20000
else
    ulimit -n "$HARD_NOFILE"
    echo "bench: warning: open files limited to $HARD_NOFILE (hard limit); 15,000 connections need ~15,100" >&2
fi

OUT="$ROOT/target/bench/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
FAILURES=()
SERVER_PID=""
LOAD_PID=""
DATABASES=()

cleanup() {
    local status=$?
    if [[ -n "$LOAD_PID" ]] && kill -0 "$LOAD_PID" 2>/dev/null; then
        kill -TERM "$LOAD_PID" 2>/dev/null || true
        wait "$LOAD_PID" 2>/dev/null || true
    fi
    if [[ -n "$SERVER_PID" ]]; then
        stop_server || true
    fi
    for db in "${DATABASES[@]}"; do
        sql "DROP DATABASE IF EXISTS \`$db\`" || echo "bench: could not drop database $db" >&2
    done
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*" | tee -a "$OUT/summary.txt"; }

# A port nobody listens on, outside the ephemeral range, never 8765.
free_port() {
    local port
    for _ in $(seq 1 200); do
        port=$((20000 + RANDOM % 10000))
        [[ $port == 8765 ]] && continue
        if [[ -z "$(ss -Htan "( sport = :$port or dport = :$port )")" ]]; then
            echo "$port"
            return 0
        fi
    done
    echo "bench: no free port found" >&2
    return 1
}

fresh_database() {
    local db
    db="speedometer_bench_$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"
    sql "CREATE DATABASE \`$db\` CHARACTER SET utf8mb4"
    DATABASES+=("$db")
    echo "$db"
}

cpu_secs() { # utime + stime of a process, in seconds
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}
# Busy CPU seconds of the whole machine (all cores) so far.
machine_busy_secs() {
    awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat
}
now_secs() { date +%s.%N; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
mariadb_pid() { pgrep -x mariadbd | head -n1 || pgrep -x mysqld | head -n1 || true; }

# start_server NAME [VAR=VALUE ...]: a release server on a fresh database; sets SERVER_PID,
# SERVER_PORT, SERVER_DB, SERVER_NAME.
start_server() {
    SERVER_NAME=$1
    shift
    SERVER_DB=$(fresh_database)
    SERVER_PORT=$(free_port)
    env "$@" SPEEDOMETER_BIND="127.0.0.1:$SERVER_PORT" DATABASE_URL="$MYSQL_URL/$SERVER_DB" \
        RUST_LOG="$SERVER_LOG_LEVEL" \
        "$ROOT/target/release/speedometer" >"$OUT/server-$SERVER_NAME.log" 2>&1 &
    SERVER_PID=$!
    local deadline=$((SECONDS + 30))
    until curl -fsS "http://127.0.0.1:$SERVER_PORT/readyz" >/dev/null 2>&1; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null || ((SECONDS > deadline)); then
            echo "bench: server ($SERVER_NAME) did not become ready; log:" >&2
            tail -n 20 "$OUT/server-$SERVER_NAME.log" >&2
            SERVER_PID=""
            return 1
        fi
        sleep 0.2
    done
    SERVER_CPU0=$(cpu_secs "$SERVER_PID")
    MARIADB_PID=$(mariadb_pid)
    MARIADB_CPU0=$([[ -n "$MARIADB_PID" ]] && cpu_secs "$MARIADB_PID" || echo 0)
    MACHINE_CPU0=$(machine_busy_secs)
    DB_STATUS0=$(db_status)
    SERVER_T0=$(now_secs)
}

# InnoDB counters: pages read from disk (buffer pool misses), fsyncs.
db_status() {
    sql "SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_buffer_pool_reads', 'Innodb_buffer_pool_read_requests', 'Innodb_data_fsyncs')" | sort
}

# What the server and MariaDB did since start_server: batches (from the server's /metrics,
# saved to the log folder) and InnoDB's disk reads and fsyncs.
storage_report() {
    local metrics="$OUT/metrics-$SERVER_NAME.txt"
    curl -fsS "http://127.0.0.1:$SERVER_PORT/metrics" >"$metrics" 2>/dev/null || true
    local batches
    batches=$(awk '
        /^speedometer_batch_rows_sum/ { rows = $2 } /^speedometer_batch_rows_count/ { n = $2 }
        /^speedometer_batch_seconds_sum/ { secs = $2 }
        END { if (n > 0) printf "%d batches, mean %.1f rows and %.1f ms each", n, rows / n, 1000 * secs / n; else print "no batches" }' "$metrics")
    local innodb
    innodb=$(join <(echo "$DB_STATUS0") <(db_status) | awk '
        { d[$1] = $3 - $2 }
        END { printf "InnoDB: %d pages read from disk (of %d page requests), %d fsyncs", d["Innodb_buffer_pool_reads"], d["Innodb_buffer_pool_read_requests"], d["Innodb_data_fsyncs"] }')
    echo "storage: $batches; $innodb"
}


# CPU since start_server, in core-seconds and as a share of one core: the server, MariaDB, the
# load generator (its own report: $1), and everything else on the machine (kernel softirq work
# for loopback traffic included, and anything else running).
cpu_report() {
    local server_cpu mariadb_cpu machine_cpu
    server_cpu=$(cpu_secs "$SERVER_PID")
    mariadb_cpu=$([[ -n "$MARIADB_PID" ]] && cpu_secs "$MARIADB_PID" || echo 0)
    machine_cpu=$(machine_busy_secs)
    awk -v s0="$SERVER_CPU0" -v s1="$server_cpu" -v m0="$MARIADB_CPU0" -v m1="$mariadb_cpu" \
        -v c0="$MACHINE_CPU0" -v c1="$machine_cpu" -v t0="$SERVER_T0" -v t1="$(now_secs)" -v l="${1:-0}" \
        -v cores="$(nproc)" 'BEGIN {
            w = t1 - t0; if (w <= 0) w = 1
            s = s1 - s0; m = m1 - m0; c = c1 - c0; o = c - s - m - l; if (o < 0) o = 0
            printf "cpu over %.0f s: server %.1f s (%.0f%% of a core), mariadbd %.1f s (%.0f%%), load generator %.1f s (%.0f%%), rest of the machine %.1f s (%.0f%%); machine %.0f%% busy of %d cores\n",
                w, s, 100 * s / w, m, 100 * m / w, l, 100 * l / w, o, 100 * o / w, 100 * c / (w * cores), cores
        }'
}

# The server's CPU per thread name since it started ("main" is the process's first thread).
thread_report() {
    local pid=$1 hz
    hz=$(getconf CLK_TCK)
    for task in /proc/"$pid"/task/*; do
        local tid=${task##*/} name
        name=$(cat "$task/comm" 2>/dev/null) || continue
        [[ "$tid" == "$pid" ]] && name="main"
        awk -v n="$name" '{ print n "\t" ($14 + $15) }' "$task/stat" 2>/dev/null || true
    done | awk -F'\t' -v hz="$hz" '
        { t[$1] += $2; c[$1]++ }
        END { for (n in t) if (t[n] > 0) printf "%s%s x%d %.1f s", (k++ ? ", " : ""), n, c[n], t[n] / hz; print "" }'
}

# SIGTERM, then wait (the server's shutdown is bounded by 3 x 10 s); check its exit status.
stop_server() {
    [[ -n "$SERVER_PID" ]] || return 0
    local pid=$SERVER_PID status=0
    SERVER_PID=""
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 40))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "bench: server ($SERVER_NAME) still running 40 s after SIGTERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
        FAILURES+=("$SERVER_NAME: server did not stop on SIGTERM")
    fi
    wait "$pid" 2>/dev/null || status=$?
    if ((status != 0)); then
        FAILURES+=("$SERVER_NAME: server exited with status $status after SIGTERM")
        say "    server exited with status $status after SIGTERM (log: $OUT/server-$SERVER_NAME.log)"
    fi
    local problems
    problems=$(grep -ciE 'panick|error' "$OUT/server-$SERVER_NAME.log" || true)
    if ((problems > 0)); then
        say "    server log has $problems line(s) with 'error'/'panicked': $OUT/server-$SERVER_NAME.log"
    fi
    sql "DROP DATABASE IF EXISTS \`$SERVER_DB\`" || true
}

# load NAME ARGS...: runs the load generator against the current server; sets RESULT (json).
load() {
    local name=$1 status=0
    shift
    "$ROOT/target/release/speedometer-load" --url "ws://127.0.0.1:$SERVER_PORT/ws" \
        --threads "$THREADS" --database-url "$MYSQL_URL/$SERVER_DB" --progress 5 "$@" \
        >"$OUT/load-$name.out" 2>"$OUT/load-$name.err" || status=$?
    sed -n '/^--- speedometer-load summary/,/^verdict/p' "$OUT/load-$name.out" | sed 's/^/    /' | tee -a "$OUT/summary.txt"
    RESULT=$(sed -n 's/^RESULT //p' "$OUT/load-$name.out" | tail -n1)
    if [[ -z "$RESULT" ]]; then
        RESULT='{}'
        FAILURES+=("$name: load generator gave no result (exit $status; see $OUT/load-$name.err)")
        tail -n 5 "$OUT/load-$name.err" >&2
    elif ((status != 0)); then
        FAILURES+=("$name: load generator reported a failed check (exit $status)")
    fi
}

num() { jq -r "$1 | if . == null then empty else . end" <<<"$RESULT"; }
fmt() { awk -v x="$1" -v f="$2" 'BEGIN { if (x == "") print "n/a"; else printf f, x }'; }
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { if (x == "" || y == "" || y == 0) print "n/a"; else printf "%.1f", x / y }'; }

say "speedometer benchmark: parts [$PARTS], $(date -u +%Y-%m-%dT%H:%M:%SZ)"
say "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(uname -r)"
say "database: $(sql 'SELECT VERSION()') at $DB_HOST:$DB_PORT, innodb_flush_log_at_trx_commit=$(sql 'SELECT @@innodb_flush_log_at_trx_commit'), innodb_buffer_pool_size=$(sql 'SELECT @@innodb_buffer_pool_size DIV 1048576') MiB"
say "open files: $(ulimit -n); load generator threads: $THREADS; logs: $OUT"
# Echoes wait for the commit, so the disk's fsync latency bounds the echo latency: probe it on
# the file system of MariaDB's data directory (5 s of 4 KiB write + fsync; needs python3).
DATADIR=$(sql 'SELECT @@datadir' 2>/dev/null || true)
if command -v python3 >/dev/null && [[ -d "$DATADIR" ]] && [[ "$(stat -c %d "$DATADIR")" == "$(stat -c %d "$OUT")" ]]; then
    say "disk: $(python3 - "$OUT/fsync-probe.tmp" <<'PY'
import os, sys, time
path = sys.argv[1]
fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
lat = []
end = time.monotonic() + 5
while time.monotonic() < end:
    os.write(fd, b"x" * 4096)
    t = time.perf_counter()
    os.fsync(fd)
    lat.append(time.perf_counter() - t)
os.close(fd)
os.unlink(path)
lat.sort()
n = len(lat)
q = lambda f: lat[min(n - 1, int(n * f))] * 1e3
print(f"fsync on the database's file system: {n} in 5 s, p50 {q(0.5):.2f} ms, p99 {q(0.99):.2f} ms, p99.9 {q(0.999):.2f} ms, max {lat[-1] * 1e3:.1f} ms")
PY
)"
fi
idle0=$(machine_busy_secs)
sleep 2
idle1=$(machine_busy_secs)
say "machine before the run: $(awk -v a="$idle0" -v b="$idle1" -v n="$(nproc)" 'BEGIN { printf "%.0f%%", 100 * (b - a) / (2 * n) }') busy over 2 s; busiest processes: $(top -b -n 2 -d 1 -w 200 | awk '/^ *PID/ { n++; next } n == 2 && NF { printf "%s %s%%; ", $12, $9; if (++k == 3) exit }')"
say ""

if [[ -z "${BENCH_NO_BUILD:-}" ]]; then
    echo "building (cargo build --release --bins) ..."
    cargo build --release --bins --quiet
fi

A_BEST="" B_RATE="" C_RATE=""

if want a; then
    say "(a) raw multi-row INSERT rate: speedometer-dbbench (the server's insert_batch, 1,000-row transactions), ${A_SECS} s each"
    db=$(fresh_database)
    for writers in 1 4; do
        status=0
        "$ROOT/target/release/speedometer-dbbench" --database-url "$MYSQL_URL/$db" \
            --writers "$writers" --batch 1000 --duration "$A_SECS" >"$OUT/dbbench-$writers.out" 2>&1 || status=$?
        RESULT=$(sed -n 's/^RESULT //p' "$OUT/dbbench-$writers.out" | tail -n1)
        [[ -n "$RESULT" ]] || RESULT='{}'
        if ((status != 0)); then
            FAILURES+=("a: dbbench with $writers writer(s) failed (exit $status; $OUT/dbbench-$writers.out)")
            tail -n 3 "$OUT/dbbench-$writers.out" >&2
        fi
        rows=$(num .rows_per_sec)
        say "    $writers writer(s): $(fmt "$rows" '%.0f') rows/s, transaction p50 $(fmt "$(num .txn_ms.p50)" '%.1f') ms, p99 $(fmt "$(num .txn_ms.p99)" '%.1f') ms, rows check $(num .db_ok)"
        A_BEST=$(awk -v x="$rows" -v y="$A_BEST" 'BEGIN { print (y == "" || (x != "" && x + 0 > y + 0)) ? x : y }')
        # The next run starts on an empty table again.
        sql "TRUNCATE TABLE \`$db\`.speed_data"
    done
    sql "DROP DATABASE IF EXISTS \`$db\`"
    say ""
fi

if want b; then
    say "(b) end to end, group commit (defaults), ${B_CONNS} connections x window ${B_WINDOW}, ${B_SECS} s"
    start_server b
    load b --connections "$B_CONNS" --window "$B_WINDOW" --duration "$B_SECS"
    say "    $(cpu_report "$(num .cpu_secs)")"
    say "    server threads (CPU since start): $(thread_report "$SERVER_PID")"
    say "    $(storage_report)"
    stop_server
    B_RATE=$(num .echoes_per_sec)
    B_JSON=$RESULT
    say ""
fi

if want c; then
    say "(c) end to end, BATCH_MAX_ROWS=1 (one commit per reading), ${B_CONNS} connections x window ${B_WINDOW}, ${C_SECS} s"
    start_server c BATCH_MAX_ROWS=1
    load c --connections "$B_CONNS" --window "$B_WINDOW" --duration "$C_SECS"
    say "    $(cpu_report "$(num .cpu_secs)")"
    say "    server threads (CPU since start): $(thread_report "$SERVER_PID")"
    say "    $(storage_report)"
    stop_server
    C_RATE=$(num .echoes_per_sec)
    C_JSON=$RESULT
    say ""
fi

if want d; then
    say "(d) ${D_CONNS} connections x ${D_RATE} reading/s, ramp ${RAMP}/s over ${SOURCE_ADDRS} source addresses, ${D_SECS} s measured"
    start_server d
    load d --connections "$D_CONNS" --rate "$D_RATE" --ramp "$RAMP" --source-addrs "$SOURCE_ADDRS" \
        --duration "$D_SECS" --drain-timeout "$D_DRAIN"
    say "    $(cpu_report "$(num .cpu_secs)")"
    say "    server threads (CPU since start): $(thread_report "$SERVER_PID")"
    say "    $(storage_report)"
    stop_server
    D_JSON=$RESULT
    say ""
fi

if want e; then
    say "(e) server memory with ${E_CONNS} idle connections (ramp ${RAMP}/s over ${SOURCE_ADDRS} source addresses, held ${E_HOLD} s)"
    start_server e
    sleep 2
    RSS0=$(rss_kb "$SERVER_PID")
    "$ROOT/target/release/speedometer-load" --url "ws://127.0.0.1:$SERVER_PORT/ws" --threads "$THREADS" \
        --connections "$E_CONNS" --ramp "$RAMP" --source-addrs "$SOURCE_ADDRS" --hold "$E_HOLD" \
        --progress 5 >"$OUT/load-e.out" 2>"$OUT/load-e.err" &
    LOAD_PID=$!
    deadline=$((SECONDS + E_CONNS / RAMP + 40))
    until grep -q '^READY' "$OUT/load-e.out" || ! kill -0 "$LOAD_PID" 2>/dev/null || ((SECONDS > deadline)); do
        sleep 0.2
    done
    RSS1=""
    OPEN1=""
    if grep -q '^READY' "$OUT/load-e.out"; then
        sleep 3 # let the sessions settle (first heartbeat, buffers)
        RSS1=$(rss_kb "$SERVER_PID")
        OPEN1=$(curl -fsS "http://127.0.0.1:$SERVER_PORT/metrics" | awk '/^speedometer_connections_active/ { print $2 }')
    fi
    status=0
    wait "$LOAD_PID" || status=$?
    LOAD_PID=""
    sed -n '/^--- speedometer-load summary/,/^verdict/p' "$OUT/load-e.out" | sed 's/^/    /' | tee -a "$OUT/summary.txt"
    RESULT=$(sed -n 's/^RESULT //p' "$OUT/load-e.out" | tail -n1)
    [[ -n "$RESULT" ]] || RESULT='{}'
    ((status == 0)) || FAILURES+=("e: load generator reported a failed check (exit $status)")
    RSS_AFTER_CLOSE=$(rss_kb "$SERVER_PID")
    say "    $(cpu_report "$(num .cpu_secs)")"
    say "    server threads (CPU since start): $(thread_report "$SERVER_PID")"
    say "    $(storage_report)"
    stop_server
    E_JSON=$RESULT
    if [[ -n "$RSS1" ]]; then
        E_KB=$(awk -v a="$RSS0" -v b="$RSS1" -v n="$(jq -r '.held_open // .opened // 0' <<<"$RESULT")" \
            'BEGIN { if (n > 0) printf "%.1f", (b - a) / n; else print "" }')
        say "    server VmRSS: $RSS0 KB before, $RSS1 KB with ${OPEN1:-?} connections open (server's count), $RSS_AFTER_CLOSE KB after they closed"
    else
        E_KB=""
        FAILURES+=("e: connections never all opened")
    fi
    say ""
fi

if want f; then
    say ""
    say "(f) Autobahn conformance, every section but compression (12, 13), raw-echo mode"
    if AUTOBAHN_SUMMARY="$OUT/autobahn.md" scripts/autobahn.sh '*' >"$OUT/autobahn.log" 2>&1; then
        F_VERDICT="all cases passed"
    else
        F_VERDICT="FAILED (see $OUT/autobahn.log)"
        FAILURES+=("autobahn: $F_VERDICT")
    fi
    grep '^|' "$OUT/autobahn.md" 2>/dev/null | sed 's/^/    /' | tee -a "$OUT/summary.txt" || true
fi

say "== summary =="
if want a; then
    say "(a) raw insert limit:            $(fmt "$A_BEST" '%.0f') rows/s (best of 1 and 4 writers)"
fi
if want b; then
    RESULT=$B_JSON
    say "(b) end to end, group commit:    $(fmt "$B_RATE" '%.0f') echoes/s, p50 $(fmt "$(num .latency_ms.p50)" '%.1f') ms, p99 $(fmt "$(num .latency_ms.p99)" '%.1f') ms, p99.9 $(fmt "$(num .latency_ms.p99_9)" '%.1f') ms; rows check $(num .db_ok)"
fi
if want c; then
    RESULT=$C_JSON
    say "(c) end to end, BATCH_MAX_ROWS=1: $(fmt "$C_RATE" '%.0f') echoes/s, p50 $(fmt "$(num .latency_ms.p50)" '%.1f') ms, p99 $(fmt "$(num .latency_ms.p99)" '%.1f') ms; rows check $(num .db_ok)"
fi
if want a && want b; then
    say "(b)/(a) = $(ratio "$B_RATE" "$A_BEST")  (end to end vs the raw insert limit)"
fi
if want b && want c; then
    say "(b)/(c) = $(ratio "$B_RATE" "$C_RATE")  (group commit vs one commit per reading)"
fi
if want d; then
    RESULT=$D_JSON
    p99=$(num .latency_ms.p99)
    verdict=$(awk -v x="$p99" 'BEGIN { if (x == "") print "n/a"; else if (x <= 50) print "met"; else print "MISSED" }')
    errors=$(jq -r '[.error_frames, .failed, .dropped, .mismatched, .skipped, .unexpected, .unanswered] | map(. // 0) | add' <<<"$RESULT")
    say "(d) $(num .opened)/${D_CONNS} connections open, $(fmt "$(num .echoes_per_sec)" '%.0f') echoes/s; p50 $(fmt "$(num .latency_ms.p50)" '%.1f') ms, p99 $(fmt "$p99" '%.1f') ms (target <= 50 ms: $verdict), p99.9 $(fmt "$(num .latency_ms.p99_9)" '%.1f') ms, max $(fmt "$(num .latency_ms.max)" '%.1f') ms"
    say "    errors $errors (error frames $(num .error_frames), failed $(num .failed), dropped $(num .dropped), mismatched $(num .mismatched), unanswered $(num .unanswered)); rows $(num .db_rows) for $(num .echoed) echoes of $(num .sent) sent: $(num .db_ok)"
fi
if want e; then
    verdict=$(awk -v x="$E_KB" 'BEGIN { if (x == "") print "n/a"; else if (x <= 20) print "met"; else print "MISSED" }')
    RESULT=$E_JSON
    say "(e) $(fmt "$E_KB" '%.1f') KB of server RSS per idle connection (target <= 20 KB: $verdict); $(num .held_open)/${E_CONNS} stayed open for ${E_HOLD} s"
fi
if want f; then
    say "(f) Autobahn sections 1-10: ${F_VERDICT}"
fi
if ((${#FAILURES[@]} > 0)); then
    say ""
    say "FAILED checks:"
    for f in "${FAILURES[@]}"; do say "  - $f"; done
    exit 1
fi
say "all checks passed"
