#!/bin/sh
# load.sh -- (re)creates the demo venue business: schema, deterministic data, keys, statistics.
#   conf/demo/load.sh "host=127.0.0.1 port=5432 dbname=demo user=postgres" [SCALE]
#   conf/demo/load.sh "-h /tmp -p 5432 -U postgres demo" 0.02
# The first argument is a libpq conninfo or URL (one word containing '=' or '://'), or psql
# arguments split on spaces. SCALE defaults to 1 (about 3.1M rows). The demo tables are dropped
# and recreated, so running it again gives the same database.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 CONNINFO|PSQL_ARGS [SCALE]" >&2
    exit 2
fi
conn=$1
scale=${2:-1}
case $scale in
    ''|*[!0-9.]*|*.*.*) echo "$0: SCALE must be a positive number, got '$scale'" >&2; exit 2 ;;
esac
dir=$(cd "$(dirname "$0")" && pwd)
PSQL=${PSQL:-psql}

case $conn in
    *=*|*://*) set -- "$conn" ;;
    *) set -f; set -- $conn; set +f ;;
esac

start=$(date +%s.%N)
"$PSQL" "$@" -X -q -v ON_ERROR_STOP=1 -v DEMO_SCALE="$scale" \
    -c 'SET client_min_messages = warning' -c 'SET synchronous_commit = off' \
    -f "$dir/schema.sql" -f "$dir/data.sql" -f "$dir/keys.sql"
end=$(date +%s.%N)
"$PSQL" "$@" -X -q -At -v ON_ERROR_STOP=1 -c "
SELECT format('demo loaded at scale %s in %ss: %s venues, %s customers, %s events, %s ticket_sales, %s merch_orders',
       '$scale', round(($end - $start)::numeric, 1),
       (SELECT count(*) FROM public.venues), (SELECT count(*) FROM public.customers),
       (SELECT count(*) FROM public.events), (SELECT count(*) FROM public.ticket_sales),
       (SELECT count(*) FROM public.merch_orders))"
