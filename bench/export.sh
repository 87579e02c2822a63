#!/usr/bin/env bash
# export.sh -- exportd vs the physical baseline, on loopback, in one run, each round in turn:
#   baseline:  psql -c "COPY (sql) TO STDOUT CSV HEADER" | curl -T - <s3rver>/<bucket>/<key>
#              (one streamed PutObject: every byte crosses the stand-in once)
#   multipart baseline: the same stream cut by split into PART_MB parts, one curl -T - each,
#              then CompleteMultipartUpload (the multipart path with plain tools; information)
#   exportd:   the same SQL as an export job (COPY -> part buffers -> S3 multipart, SigV4,
#              PART_UPLOADS parts uploading at once while the next one fills)
# All three write into the same stand-in, scripts/s3rver.sh: s3rver with S3's
# CompleteMultipartUpload (scripts/s3rver.js), which keeps the parts where UploadPart wrote
# them, as S3 does, instead of s3rver's own re-read and re-hash of the whole object into a
# second file (a cost of the stand-in, not of the service: it made the ratio 0.51). So the
# stand-in stores every byte once on either path, and the ratio compares exportd with the
# physical limit of the same path: the time from job creation to SUCCESS (claim, COPY, every
# part, Complete, the job's row) against psql | curl's wall time.
# Prints every round, the medians, the throughput ratio (the median of the rounds' baseline /
# exportd, target >= 0.8) and exportd's peak RSS (the worker's VmHWM over all rounds) against
# its limit, 2 x part size + 32 MiB. Checks that the three objects are the same bytes. Exit
# status 1 if either target is missed.
#   ROWS=2000000 ROUNDS=5 PART_MB=8 PART_UPLOADS=2 bench/export.sh
# Uses its own PostgreSQL (port 25442, BENCH_PGPORT) and s3rver (port 24579, BENCH_S3PORT) in
# a temp dir.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ROWS="${ROWS:-2000000}"
ROUNDS="${ROUNDS:-5}"
PART_MB="${PART_MB:-8}"
PART_UPLOADS="${PART_UPLOADS:-2}"
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
export T2SQL_EXPORT_CONCURRENCY=1 T2SQL_EXPORT_PART_MB=$PART_MB T2SQL_EXPORT_PART_UPLOADS=$PART_UPLOADS
export T2SQL_LOG_FILE="$TMP/exportd.log" T2SQL_LOG_LEVEL=debug
"$ROOT/bin/exportd" &
EXPORTD_PID=$!
sleep 0.5
WORKER="$(pgrep -P "$EXPORTD_PID" | head -n 1)"

now() { date +%s.%N; }
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# The same bytes as a multipart upload with plain tools: split cuts the COPY stream into
# PART_MB parts, one curl -T - each (sequential, like exportd's uploads), then complete.
mp_baseline() {
    local url="http://127.0.0.1:$S3PORT/$BUCKET/baseline-mp.csv" uid n xml
    uid=$(curl -sf -X POST "$url?uploads" | grep -o '<UploadId>[^<]*' | cut -c11-)
    rm -rf "$TMP/mp"; mkdir "$TMP/mp"
    psql -Xq -c "COPY ($SQL) TO STDOUT CSV HEADER" |
        MPURL="$url" MPUID="$uid" MPDIR="$TMP/mp" split -b "${PART_MB}M" -d -a 5 --filter \
        'n=$(expr "${FILE#p}" + 1); curl -sf -T - -o /dev/null -w "%header{etag}" "$MPURL?partNumber=$n&uploadId=$MPUID" > "$MPDIR/$n"' - p
    xml="<CompleteMultipartUpload>"
    for n in $(ls "$TMP/mp" | sort -n); do
        xml="$xml<Part><PartNumber>$n</PartNumber><ETag>$(cat "$TMP/mp/$n")</ETag></Part>"
    done
    curl -sf -X POST --data-binary "$xml</CompleteMultipartUpload>" -o /dev/null "$url?uploadId=$uid"
}

bases="" mps="" exps="" cms="" ratios=""
for round in $(seq 1 "$ROUNDS"); do
    sync; sleep 1   # each starts with no dirty pages of the other's upload being written back
    t0=$(now)
    psql -Xq -c "COPY ($SQL) TO STDOUT CSV HEADER" |
        curl -sf -T - -o /dev/null "http://127.0.0.1:$S3PORT/$BUCKET/baseline.csv"
    t1=$(now)
    base=$(echo "$t1 - $t0" | bc -l)

    sync; sleep 1
    t0=$(now)
    mp_baseline
    t1=$(now)
    mp=$(echo "$t1 - $t0" | bc -l)

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
    # the stand-in's CompleteMultipartUpload (scripts/s3rver.js: the part list checked, the
    # parts kept behind a manifest); part of exportd's time, shown apart
    cm=$(grep -E "complet(ing|ed) multipart upload of exports/$job" "$T2SQL_LOG_FILE" |
        sed -E 's/^[0-9-]+T([0-9]+):([0-9]+):([0-9.]+)Z.*/\1 \2 \3/' |
        awk '{t = $1 * 3600 + $2 * 60 + $3} NR == 1 {a = t} END {printf "%.2f", t - a}')
    printf 'round %d: baseline %.2f s, multipart baseline %.2f s, exportd %.2f s (of which CompleteMultipartUpload %.2f s)\n' \
        "$round" "$base" "$mp" "$exp" "$cm"
    bases="$bases $base" mps="$mps $mp" exps="$exps $exp" cms="$cms $cm"
    ratios="$ratios $(echo "$base / $exp" | bc -l)"
done
base=$(echo "$bases" | tr ' ' '\n' | grep . | median)
mp=$(echo "$mps" | tr ' ' '\n' | grep . | median)
exp=$(echo "$exps" | tr ' ' '\n' | grep . | median)
cm=$(echo "$cms" | tr ' ' '\n' | grep . | median)
ratio=$(echo "$ratios" | tr ' ' '\n' | grep . | median)

# the exported object and the multipart baseline are the baseline's bytes
url=$("$ROOT/bin/t2sql-jobs" status "$job" bench | sed -E 's/.*"download_url":"([^"]*)".*/\1/')
a=$(curl -sf "$url" | sha256sum | cut -d' ' -f1)
b=$(curl -sf "http://127.0.0.1:$S3PORT/$BUCKET/baseline.csv" | sha256sum | cut -d' ' -f1)
c=$(curl -sf "http://127.0.0.1:$S3PORT/$BUCKET/baseline-mp.csv" | sha256sum | cut -d' ' -f1)
size=$(psql -XAtc "SELECT bytes FROM t2sql.export_jobs WHERE id = '$job'")
[ "$a" = "$b" ] || { echo "exported object differs from the baseline"; exit 1; }
[ "$c" = "$b" ] || { echo "the multipart baseline's object differs from the baseline"; exit 1; }

hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$WORKER/status")
limit_kb=$(( (2 * PART_MB + 32) * 1024 ))
mib=$(echo "$size / 1048576" | bc -l)
printf '\n%d rows, %.1f MiB CSV, part %d MiB, %d uploading at once, medians of %d rounds\n' \
    "$ROWS" "$mib" "$PART_MB" "$PART_UPLOADS" "$ROUNDS"
printf 'baseline (psql | curl -T -, one PUT):   %.2f s  %.1f MiB/s\n' "$base" \
    "$(echo "$mib / $base" | bc -l)"
printf 'multipart baseline (psql | split | curl): %.2f s  %.1f MiB/s\n' "$mp" \
    "$(echo "$mib / $mp" | bc -l)"
printf 'exportd:                                 %.2f s  %.1f MiB/s (CompleteMultipartUpload %.2f s)\n' \
    "$exp" "$(echo "$mib / $exp" | bc -l)" "$cm"
printf 'throughput ratio exportd/baseline: %.2f (median of the rounds; target >= 0.80)\n' "$ratio"
printf '  (exportd/multipart baseline, the same multipart path with plain tools: %.2f)\n' \
    "$(echo "$mp / $exp" | bc -l)"
printf 'exportd worker peak RSS: %.1f MiB (limit 2 x %d + 32 = %d MiB)\n' \
    "$(echo "$hwm_kb / 1024" | bc -l)" "$PART_MB" "$(( 2 * PART_MB + 32 ))"
ok=0
[ "$(echo "$ratio >= 0.8" | bc -l)" = 1 ] || { echo "FAIL: throughput ratio below 0.8"; ok=1; }
[ "$hwm_kb" -le "$limit_kb" ] || { echo "FAIL: peak RSS over the limit"; ok=1; }
exit $ok
