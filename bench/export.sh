#!/usr/bin/env bash
# export.sh -- exportd vs the physical baseline, on loopback, in one run:
#   baseline: psql -c "COPY (sql) TO STDOUT CSV HEADER" | curl -T - <s3rver>/<bucket>/<key>
#   exportd:  the same SQL as an export job (COPY -> 2-part buffer -> S3 multipart, SigV4)
# Prints the throughput ratio (exportd / baseline, target >= 0.8) and exportd's peak RSS
# (the worker's VmHWM) against its limit, 2 x part size + 32 MiB. Exit status 1 if either
# target is missed.
#   ROWS=2000000 ROUNDS=3 PART_MB=8 bench/export.sh
# Uses its own PostgreSQL (port 25442, BENCH_PGPORT) and s3rver (port 24579, BENCH_S3PORT) in
# a temp dir.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ROWS="${ROWS:-2000000}"
ROUNDS="${ROUNDS:-3}"
PART_MB="${PART_MB:-8}"
PGPORT="${BENCH_PGPORT:-$((25442 + ${T2SQL_TEST_PORT_OFFSET:-0}))}"
S3PORT="${BENCH_S3PORT:-$((24579 + ${T2SQL_TEST_PORT_OFFSET:-0}))}"
BUCKET=bench
PGBIN=/usr/lib/postgresql/15/bin
SQL="SELECT * FROM bench_rows"

make -s -C "$ROOT" bin/exportd bin/t2sql-jobs >/dev/null
TMP="$(mktemp -d /tmp/t2sql-bench-export.XXXXXX)"
chown postgres "$TMP"
EXPORTD_PID=""
cleanup() {
    [ -n "$EXPORTD_PID" ] && kill "$EXPORTD_PID" 2>/dev/null && wait "$EXPORTD_PID" 2>/dev/null
    "$ROOT/scripts/s3rver.sh" stop "$TMP/s3" >/dev/null 2>&1 || true
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$TMP/pg" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# like the stack's clusters: a password over TCP (given to psql and exportd through the
# environment), the OS user on the socket
PGPASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
(umask 077; echo "$PGPASSWORD" > "$TMP/pwfile"); chown postgres "$TMP/pwfile"
runuser -u postgres -- "$PGBIN/initdb" -D "$TMP/pg" -U postgres --pwfile="$TMP/pwfile" \
    --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
rm -f "$TMP/pwfile"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$TMP/pg" -l "$TMP/pg.log" -w \
    -o "-p $PGPORT -k $TMP -c listen_addresses=127.0.0.1" start >/dev/null
mkdir -p "$TMP/s3"
"$ROOT/scripts/s3rver.sh" start "$S3PORT" "$TMP/s3" "$BUCKET" >/dev/null

export PGHOST=127.0.0.1 PGPORT PGUSER=postgres PGDATABASE=postgres PGCLIENTENCODING=UTF8 PGPASSWORD
psql -Xq -f "$ROOT/conf/schema.sql"
psql -Xq -c "CREATE TABLE bench_rows AS SELECT g AS id, 'customer ' || g AS name,
    ((g % 100000) * 1.37)::numeric(12,2) AS amount,
    timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second' AS ts,
    md5(g::text) AS note FROM generate_series(1, $ROWS) g"
psql -Xq -c "VACUUM ANALYZE bench_rows"
psql -Xq -c "COPY ($SQL) TO STDOUT CSV HEADER" >/dev/null   # warm the cache

export T2SQL_DB_HOST=127.0.0.1 T2SQL_DB_PORT=$PGPORT T2SQL_DB_USER=postgres
export T2SQL_DB_NAME=postgres T2SQL_DB_PASS="$PGPASSWORD" S3_ENDPOINT="http://127.0.0.1:$S3PORT" EXPORT_BUCKET=$BUCKET
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER EXPORT_PREFIX=exports/
export T2SQL_EXPORT_CONCURRENCY=1 T2SQL_EXPORT_PART_MB=$PART_MB
export T2SQL_LOG_FILE="$TMP/exportd.log" T2SQL_LOG_LEVEL=debug
"$ROOT/bin/exportd" &
EXPORTD_PID=$!
sleep 0.5
WORKER="$(pgrep -P "$EXPORTD_PID" | head -n 1)"

now() { date +%s.%N; }
best_base=""
best_exp=""
best_stream=""
for round in $(seq 1 "$ROUNDS"); do
    sync; sleep 1   # both start with no dirty pages of the other's upload being written back
    t0=$(now)
    psql -Xq -c "COPY ($SQL) TO STDOUT CSV HEADER" |
        curl -sf -T - -o /dev/null "http://127.0.0.1:$S3PORT/$BUCKET/baseline.csv"
    t1=$(now)
    base=$(echo "$t1 - $t0" | bc -l)

    sync; sleep 1
    job=$("$ROOT/bin/t2sql-jobs" create "$SQL" bench csv)
    while :; do
        st=$(psql -XAtc "SELECT status FROM t2sql.export_jobs WHERE id = '$job'")
        [ "$st" = SUCCESS ] && break
        if [ "$st" = FAILED ]; then
            psql -XAtc "SELECT error FROM t2sql.export_jobs WHERE id = '$job'"
            exit 1
        fi
        sleep 0.02
    done
    exp=$(psql -XAtc "SELECT extract(epoch FROM finished_at - created_at)
                      FROM t2sql.export_jobs WHERE id = '$job'")
    # the stand-in's CompleteMultipartUpload re-reads and re-hashes every byte after the
    # stream has ended; show it separately (it is still part of exportd's time)
    cm=$(grep -E "complet(ing|ed) multipart upload of exports/$job" "$T2SQL_LOG_FILE" |
        sed -E 's/^[0-9-]+T([0-9]+):([0-9]+):([0-9.]+)Z.*/\1 \2 \3/' |
        awk '{t = $1 * 3600 + $2 * 60 + $3} NR == 1 {a = t} END {printf "%.2f", t - a}')
    printf 'round %d: baseline %.2f s, exportd %.2f s (of which CompleteMultipartUpload %.2f s)\n' \
        "$round" "$base" "$exp" "$cm"
    if [ -z "$best_base" ] || [ "$(echo "$base < $best_base" | bc -l)" = 1 ]; then best_base=$base; fi
    if [ -z "$best_exp" ] || [ "$(echo "$exp < $best_exp" | bc -l)" = 1 ]; then best_exp=$exp; fi
    stream=$(echo "$exp - $cm" | bc -l)
    if [ -z "$best_stream" ] || [ "$(echo "$stream < $best_stream" | bc -l)" = 1 ]; then
        best_stream=$stream
    fi
done

# the exported object is the baseline's bytes
url=$("$ROOT/bin/t2sql-jobs" status "$job" bench | sed -E 's/.*"download_url":"([^"]*)".*/\1/')
a=$(curl -sf "$url" | sha256sum | cut -d' ' -f1)
b=$(curl -sf "http://127.0.0.1:$S3PORT/$BUCKET/baseline.csv" | sha256sum | cut -d' ' -f1)
size=$(psql -XAtc "SELECT bytes FROM t2sql.export_jobs WHERE id = '$job'")
[ "$a" = "$b" ] || { echo "exported object differs from the baseline"; exit 1; }

hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$WORKER/status")
limit_kb=$(( (2 * PART_MB + 32) * 1024 ))
ratio=$(echo "$best_base / $best_exp" | bc -l)
printf '\n%d rows, %.1f MiB CSV, part %d MiB, best of %d\n' "$ROWS" \
    "$(echo "$size / 1048576" | bc -l)" "$PART_MB" "$ROUNDS"
printf 'baseline (psql | curl -T -): %.2f s  %.1f MiB/s\n' "$best_base" \
    "$(echo "$size / 1048576 / $best_base" | bc -l)"
printf 'exportd:                      %.2f s  %.1f MiB/s\n' "$best_exp" \
    "$(echo "$size / 1048576 / $best_exp" | bc -l)"
printf 'throughput ratio exportd/baseline: %.2f (target >= 0.80)\n' "$ratio"
printf '  (without the stand-in re-copying the object on CompleteMultipartUpload, which S3\n'
printf '   itself does not do: exportd %.2f s, ratio %.2f)\n' "$best_stream" \
    "$(echo "$best_base / $best_stream" | bc -l)"
printf 'exportd worker peak RSS: %.1f MiB (limit 2 x %d + 32 = %d MiB)\n' \
    "$(echo "$hwm_kb / 1024" | bc -l)" "$PART_MB" "$(( 2 * PART_MB + 32 ))"
ok=0
[ "$(echo "$ratio >= 0.8" | bc -l)" = 1 ] || { echo "FAIL: throughput ratio below 0.8"; ok=1; }
[ "$hwm_kb" -le "$limit_kb" ] || { echo "FAIL: peak RSS over the limit"; ok=1; }
exit $ok
