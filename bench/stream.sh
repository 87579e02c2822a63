#!/usr/bin/env bash
# stream.sh -- streamed /query pages against their physical limits, in one run, on the bench
# stack's scale-1 demo data (scripts/stack.sh bench), through nginx:
#   throughput  1,000,000-row page (stream: true)  vs  psql -c "COPY (same SQL) TO STDOUT"
#   memory      the worker's peak RSS (VmHWM) for that page vs for a 10-row page
#   tie-breaker a 1,000,000-row page of a query with no ORDER BY and no key among its columns
#               (the service sorts it by every column: core/order.c) vs COPY of the same
#               SQL sorted so, and (the cost) vs COPY of it as written, unsorted
#   first byte  time to first byte of the 1,000,000-row page vs a 1-row page
#   hang-up     client closes mid-stream -> the query is gone from pg_stat_activity
# One line per measurement ending in PASS or MISS; exit status 1 if a target is missed.
#   ROUNDS=5 TTFB_ROUNDS=11 HUP_ROUNDS=3 bench/stream.sh        (the bench stack must be running)
# Uses its own service instance (one worker) on port 38070 (+ T2SQL_PORT_OFFSET), stopped at the end.
. "$(dirname "$0")/lib.bash"
need_stack stream.sh
ROUNDS=${ROUNDS:-5}
TTFB_ROUNDS=${TTFB_ROUNDS:-11}
HUP_ROUNDS=${HUP_ROUNDS:-3}
ROWS=1000000
NAME=bench-stream
PORT=$((38070 + ${T2SQL_TEST_PORT_OFFSET:-0}))
URL=http://127.0.0.1:$PORT
LLM=$T2SQL_TEST_LLM
PGCONN=$T2SQL_TEST_PG
PGCONN=${PGCONN% password=*} # the password comes from PGPASSFILE (var/bench/env.sh), not argv
PY=/usr/bin/python3
SQL="SELECT * FROM ticket_sales ORDER BY sale_id LIMIT $ROWS"
TIE_SQL="SELECT event_id, customer_id, quantity, price FROM ticket_sales LIMIT $ROWS"
TIE_SORTED="SELECT event_id, customer_id, quantity, price FROM ticket_sales ORDER BY 1, 2, 3, 4 LIMIT $ROWS"
RUN=$$-$(date +%s)                       # fresh questions: the first ask goes to the model
Q_BIG="stream bench $RUN: every ticket sale in order"
Q_HUP="stream bench $RUN: the hang-up grid"
Q_TIE="stream bench $RUN: sales without a key"
HUP_TOK="hup_${RUN//-/_}"
HUP_SQL="SELECT a, b, '$HUP_TOK' AS tok FROM generate_series(1, 10000) a, generate_series(1, 5000) b"
STACK="env T2SQL_STACK_MODE=bench scripts/stack.sh"

CLEANUP='$STACK instance-stop $NAME >/dev/null 2>&1 || true'
bench_tmp stream

start_instance() { # a fresh master and worker; sets WORKER
    local master
    # the old nginx leaves gracefully: wait until the port is free before binding it again
    $STACK instance-stop "$NAME" >/dev/null 2>&1 || true
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || break
        sleep 0.1
    done
    master=$($STACK instance "$NAME" "$PORT" T2SQL_WORKERS=1 T2SQL_MAX_PAGE_SIZE=$ROWS | tail -n 1)
    WORKER=
    for _ in $(seq 100); do
        WORKER=$(pgrep -P "$master" | head -n 1 || true)
        [ -n "$WORKER" ] && break
        sleep 0.05
    done
    [ -n "$WORKER" ] || { echo "stream.sh: no worker under master $master" >&2; exit 1; }
}
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

query() { # query QUESTION PAGE_SIZE COUNT [curl args...] -> curl's output
    local q=$1 size=$2 count=$3; shift 3
    curl -sS -H 'Content-Type: application/json' \
        -d "{\"question\": \"$q\", \"page_size\": $size, \"count\": \"$count\", \"stream\": true}" \
        "$@" "$URL/query"
}

curl -sf -X POST "$LLM/_rules" -d "$($PY -c 'import json,sys; print(json.dumps({"rules": [
    {"match": sys.argv[1], "reply": "<sql>%s</sql>" % sys.argv[2]},
    {"match": sys.argv[3], "reply": "<sql>%s</sql>" % sys.argv[4]},
    {"match": sys.argv[5], "reply": "<sql>%s</sql>" % sys.argv[6]}]}))' \
    "$Q_BIG" "$SQL" "$Q_HUP" "$HUP_SQL" "$Q_TIE" "$TIE_SQL")" >/dev/null

start_instance
# warm-up: the first ask goes to the model, later ones come from the cache; the table is
# read into the page cache; and the page is checked to be complete and valid
query "$Q_BIG" $ROWS none -o "$TMP/page.json"
$PY - "$TMP/page.json" $ROWS <<'PY' || { echo "stream.sh: the big page is wrong" >&2; exit 1; }
import json, sys
d = json.load(open(sys.argv[1]))
assert "error" not in d, d["error"]
assert len(d["rows"]) == int(sys.argv[2]), len(d["rows"])
PY
psql -X -q -d "$PGCONN" -c "COPY ($SQL) TO STDOUT" >/dev/null

# -- throughput: alternate API and COPY runs, medians --------------------------------------
: >"$TMP/api" >"$TMP/copy"
for _ in $(seq "$ROUNDS"); do
    query "$Q_BIG" $ROWS none -o /dev/null -w '%{time_total} %{size_download}\n' >>"$TMP/api"
    t0=$(now)
    psql -X -q -d "$PGCONN" -c "COPY ($SQL) TO STDOUT" >"$TMP/copy.out"
    echo "$(calc "$(now) - $t0") $(stat -c %s "$TMP/copy.out")" >>"$TMP/copy"
done
api_s=$(cut -d' ' -f1 "$TMP/api" | median)
copy_s=$(cut -d' ' -f1 "$TMP/copy" | median)
api_rps=$(calc "int($ROWS / $api_s)")
copy_rps=$(calc "int($ROWS / $copy_s)")
ratio=$(calc "$copy_s / $api_s")
echo "stream: rows/s api $api_rps vs copy $copy_rps, ratio $(printf %.2f "$ratio") (target >= 1.0): $(verdict "$(calc "$ratio >= 1.0")")"
echo "        (${ROWS} rows; api runs: $(cut -d' ' -f1 "$TMP/api" | xargs printf '%.3f ')s; copy runs: $(cut -d' ' -f1 "$TMP/copy" | xargs printf '%.3f ')s)"
echo "        (median of $ROUNDS: api $(printf %.3f "$api_s") s for $(head -n1 "$TMP/api" | cut -d' ' -f2) bytes of JSON, copy $(printf %.3f "$copy_s") s for $(head -n1 "$TMP/copy" | cut -d' ' -f2) bytes of text; count none)"
t=$(query "$Q_BIG" $ROWS exact -o /dev/null -w '%{time_total}')
echo "        (the same page with count exact, the default: $(printf %.3f "$t") s, $(calc "int($ROWS / $t)") rows/s, including the count query)"

# -- tie-breaker: a keyless, unordered page is sorted by every column before it streams ------
query "$Q_TIE" $ROWS none -o /dev/null # into the cache
: >"$TMP/tapi" >"$TMP/tsorted" >"$TMP/tplain"
for _ in $(seq "$ROUNDS"); do
    query "$Q_TIE" $ROWS none -o /dev/null -w '%{time_total}\n' >>"$TMP/tapi"
    t0=$(now)
    psql -X -q -d "$PGCONN" -c "COPY ($TIE_SORTED) TO STDOUT" >/dev/null
    calc "$(now) - $t0" >>"$TMP/tsorted"
    t0=$(now)
    psql -X -q -d "$PGCONN" -c "COPY ($TIE_SQL) TO STDOUT" >/dev/null
    calc "$(now) - $t0" >>"$TMP/tplain"
done
tapi=$(median <"$TMP/tapi")
tsorted=$(median <"$TMP/tsorted")
tplain=$(median <"$TMP/tplain")
ratio=$(calc "$tsorted / $tapi")
echo "stream: tie-breaker page (no key, no ORDER BY) rows/s api $(calc "int($ROWS / $tapi)") vs copy of it sorted $(calc "int($ROWS / $tsorted)"), ratio $(printf %.2f "$ratio") (target >= 0.5): $(verdict "$(calc "$ratio >= 0.5")")"
echo "        (medians of $ROUNDS: api $(printf %.3f "$tapi") s; copy sorted $(printf %.3f "$tsorted") s; copy as written, unsorted, $(printf %.3f "$tplain") s: the sort costs $(printf %.2f "$(calc "$tsorted / $tplain")")x)"

# -- memory: fresh worker for each page ----------------------------------------------------
start_instance
query "$Q_BIG" 10 none -o /dev/null
small_kb=$(hwm_kb "$WORKER")
start_instance
query "$Q_BIG" $ROWS none -o /dev/null
big_kb=$(hwm_kb "$WORKER")
diff_kb=$((big_kb - small_kb))
echo "stream: worker peak RSS $ROWS-row page $(printf %.1f "$(calc "$big_kb / 1024")") MiB vs 10-row page $(printf %.1f "$(calc "$small_kb / 1024")") MiB, difference $(printf %+d "$diff_kb") KiB (target <= 16 MiB): $(verdict "$(calc "$diff_kb <= 16384")")"

# -- time to first byte: both pages from the cache, alternating, medians -------------------
: >"$TMP/tbig" >"$TMP/tone"
# (each request starts from an idle service: a pause lets the previous page's tail settle)
for _ in $(seq "$TTFB_ROUNDS"); do
    sleep 0.2
    query "$Q_BIG" 1 none -o /dev/null -w '%{time_starttransfer}\n' >>"$TMP/tone"
    sleep 0.2
    query "$Q_BIG" $ROWS none -o /dev/null -w '%{time_starttransfer}\n' >>"$TMP/tbig"
done
tbig=$(median <"$TMP/tbig")
tone=$(median <"$TMP/tone")
ratio=$(calc "$tbig / $tone")
echo "stream: first byte $ROWS-row page $(printf %.1f "$(calc "$tbig * 1000")") ms vs 1-row page $(printf %.1f "$(calc "$tone * 1000")") ms, ratio $(printf %.2f "$ratio") (medians of $TTFB_ROUNDS; target <= 2): $(verdict "$(calc "$ratio <= 2")")"

# -- hang-up: read 16 KB of a 50M-row page, close, poll pg_stat_activity every 10 ms ------
query "$Q_HUP" 1 none -o /dev/null # into the cache
hup=$($PY - "$PORT" "$Q_HUP" "$HUP_TOK" "$PGCONN" "$HUP_ROUNDS" $ROWS <<'PY'
import json, socket, sys, time
import psycopg2
port, question, tok, conn, rounds, size = sys.argv[1:7]
pg = psycopg2.connect(conn)
pg.autocommit = True
cur = pg.cursor()
def active():
    cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 't2sql'"
                " AND state = 'active' AND position(%s in query) > 0", (tok,))
    return cur.fetchone()[0]
out = []
for _ in range(int(rounds)):
    body = json.dumps({"question": question, "page_size": int(size), "count": "none"}).encode()
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
    s.sendall(b"POST /query HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    got = 0
    while got < 16384:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("the stream ended after %d bytes" % got)
        got += len(chunk)
    if not active():
        sys.exit("the query is not running while it streams")
    s.close()
    t0 = time.monotonic()
    while active():
        if time.monotonic() - t0 > 30:
            break
        time.sleep(0.01)
    out.append(time.monotonic() - t0)
    time.sleep(0.2)
print(" ".join("%.3f" % x for x in out))
PY
)
hup_s=$(echo "$hup" | tr ' ' '\n' | median)
echo "stream: hang-up -> query cancelled in $(printf %.0f "$(calc "$hup_s * 1000")") ms (median of $HUP_ROUNDS: $hup s; target <= 1 s): $(verdict "$(calc "$hup_s <= 1.0")")"
bench_exit
