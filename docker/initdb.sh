#!/bin/bash
# initdb.sh -- run once by the postgres image on a new volume (/docker-entrypoint-initdb.d):
# the service's t2sql schema, the demo data (DEMO_SCALE, default 0.1) and conf/roles.sql, with
# the service login's password from its Docker secret. conf/ is mounted at /t2sql/conf.
set -euo pipefail
db=${POSTGRES_DB:-t2sql}
psql -X -q -v ON_ERROR_STOP=1 -U postgres -d "$db" -c 'SET client_min_messages = warning' \
     -f /t2sql/conf/schema.sql
/t2sql/conf/demo/load.sh "dbname=$db user=postgres" "${DEMO_SCALE:-0.1}"
{ printf '\\set service_password %s\n' "$(cat /run/secrets/db_service_password)"
  cat /t2sql/conf/roles.sql; } |
  PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -U postgres -d "$db" -v db="$db"
