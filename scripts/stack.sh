#!/usr/bin/env bash
# stack.sh -- the local stack under var/<mode>/: PostgreSQL (run as the postgres user), Redis,
# the S3 stand-in, nginx, t2sql-fcgi and exportd (and, for tests, the scripted model).
#   stack.sh demo                 start (or keep) the demo stack on T2SQL_HTTP_PORT (8080)
#   stack.sh test                 start a fresh test stack; writes var/test/env.sh
#   stack.sh bench                the same on other ports with the scale-1 demo (var/bench)
#   stack.sh stop [demo|test]     stop what stack.sh started (both by default)
#   stack.sh where MODE           print its ports and data directory (shell assignments)
#   stack.sh instance NAME PORT [KEY=VALUE ...]   another t2sql-fcgi + nginx with overrides
#   stack.sh instance-stop NAME
# T2SQL_BIN_DIR=bin-san runs the sanitizer build (make SAN=address,undefined).
# T2SQL_PORT_OFFSET=N shifts every port of the test and bench stacks (two checkouts on one host).
# Files other users must reach (PostgreSQL's cluster and socket as `postgres`, nginx's temporary
# files, the FastCGI sockets and the static pages as `nobody`) live under var/<mode>/ when those
# users can enter it, else under /var/tmp/t2sql-<checkout hash>/<mode>/ (a checkout in /root or in
# a mktemp -d directory); `stop` removes that directory.
# With DB_HOST set, `demo` uses that database (DB_PORT, DB_NAME, DB_USER, DB_PASS) instead of
# starting PostgreSQL.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PGBIN=/usr/lib/postgresql/15/bin
BINDIR=${T2SQL_BIN_DIR:-$ROOT/bin}
case $BINDIR in /*) ;; *) BINDIR=$ROOT/$BINDIR ;; esac

die() { echo "stack: $*" >&2; exit 1; }
log() { echo "stack: $*" >&2; }

setup_mode() {
  MODE=$1
  VAR=$ROOT/var/$MODE
  local o=${T2SQL_PORT_OFFSET:-0}
  if [ "$MODE" = test ]; then
    PGPORT=$((15432 + o)) REDIS_PORT=$((16379 + o)) S3_PORT=$((14569 + o)) LLM_PORT=$((18099 + o))
    HTTP_PORT=$((18080 + o)) SCALE=${DEMO_SCALE:-0.02} WORKERS=${T2SQL_WORKERS:-4}
  elif [ "$MODE" = bench ]; then
    PGPORT=$((35432 + o)) REDIS_PORT=$((36379 + o)) S3_PORT=$((34569 + o)) LLM_PORT=$((38099 + o))
    HTTP_PORT=$((38080 + o)) SCALE=${DEMO_SCALE:-1} WORKERS=${T2SQL_WORKERS:-4}
  else
    PGPORT=${T2SQL_PG_PORT:-54329} REDIS_PORT=${T2SQL_REDIS_PORT_LOCAL:-63799} S3_PORT=${T2SQL_S3_PORT:-4569}
    LLM_PORT= HTTP_PORT=${T2SQL_HTTP_PORT:-8080} SCALE=${DEMO_SCALE:-1} WORKERS=${T2SQL_WORKERS:-4}
  fi
  SVAR=$(shared_dir)
  PGDATA=$SVAR/pg/data PGSOCK=$SVAR/run
}

# shared_dir -- where the files other users must reach go for this mode: var/<mode> when the
# postgres and nobody users can enter it (and read the checkout), else a directory of this
# checkout's own under /var/tmp.
shared_dir() {
  if runuser -u postgres -- test -x "$ROOT" 2>/dev/null &&
     runuser -u nobody -- test -r "$ROOT/web/index.html" 2>/dev/null; then
    echo "$VAR"
  else
    echo "/var/tmp/t2sql-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)/$MODE"
  fi
}

wait_for() { # wait_for SECONDS CMD... -- retries CMD until it succeeds
  local t=$1; shift
  for _ in $(seq 1 $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

as_postgres() { (cd / && runuser -u postgres -- "$@"); } # from a directory it may enter

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_pg() {
  EXTERNAL_DB=
  if [ -n "${DB_HOST:-}" ] && [ "$MODE" = demo ]; then
    log "using the database at $DB_HOST:${DB_PORT:-5432} (nothing is loaded into it)"
    EXTERNAL_DB=1 DB_PORT=${DB_PORT:-5432} DB_USER=${DB_USER:-postgres} DB_NAME=${DB_NAME:-postgres}
    return
  fi
  mkdir -p "$SVAR/pg" "$SVAR/run" "$SVAR/log"
  chmod 755 "$SVAR" "$SVAR/log"
  [ "$SVAR" = "$VAR" ] || chmod 755 "${SVAR%/*}"
  chown postgres:postgres "$SVAR/pg" "$SVAR/run"
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    as_postgres "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 \
      --no-locale >"$VAR/log/initdb.log" 2>&1 || die "initdb failed: see $VAR/log/initdb.log"
  fi
  touch "$SVAR/log/postgres.log"; chown postgres:postgres "$SVAR/log/postgres.log"
  [ "$SVAR" = "$VAR" ] || ln -sfn "$SVAR/log/postgres.log" "$VAR/log/postgres.log"
  PGOPTS="-p $PGPORT -k $PGSOCK -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=256MB"
  [ "$MODE" != demo ] && PGOPTS="$PGOPTS -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  if ! as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -l "$SVAR/log/postgres.log" -w -t 60 \
      -o "$PGOPTS" start >/dev/null || die "PostgreSQL did not start: see $VAR/log/postgres.log"
  fi
  DB_HOST=127.0.0.1 DB_PORT=$PGPORT DB_USER=postgres DB_NAME=t2sql DB_PASS=
}

psql_db() { PGPASSWORD=${DB_PASS:-} psql -X -q -v ON_ERROR_STOP=1 -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" "$@"; }

load_demo() {
  if [ -n "$EXTERNAL_DB" ]; then # the user's own data: only the service's t2sql schema is added
    SERVICE_USER=$DB_USER SERVICE_PASS=${DB_PASS:-} QUERY_ROLE=${T2SQL_QUERY_ROLE:-}
    psql_db -d "$DB_NAME" -f "$ROOT/conf/schema.sql" >/dev/null 2>&1 ||
      log "could not create the t2sql schema as $DB_USER; the service will try again"
    return
  fi
  if ! psql_db -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1; then
    psql_db -d postgres -c "CREATE DATABASE \"$DB_NAME\""
  fi
  if psql_db -d "$DB_NAME" -Atc "SELECT count(*) > 0 FROM public.ticket_sales" 2>/dev/null | grep -q t; then
    log "demo data already loaded in $DB_NAME"
  else
    log "loading the demo data (scale $SCALE)"
    PGPASSWORD=${DB_PASS:-} "$ROOT/conf/demo/load.sh" \
      "host=$DB_HOST port=$DB_PORT dbname=$DB_NAME user=$DB_USER" "$SCALE" >&2
  fi
  psql_db -d "$DB_NAME" -f "$ROOT/conf/schema.sql" >/dev/null
  SERVICE_USER=$DB_USER SERVICE_PASS=${DB_PASS:-} QUERY_ROLE=${T2SQL_QUERY_ROLE:-}
  if [ -f "$ROOT/conf/roles.sql" ] && [ "$DB_USER" = postgres ]; then
    # our own cluster: the service logs in as t2sql_service, generated SQL runs as t2sql_reader
    [ -s "$VAR/service.pass" ] || { head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$VAR/service.pass"; chmod 600 "$VAR/service.pass"; }
    SERVICE_PASS="t2sql-$(cat "$VAR/service.pass")"
    psql_db -d "$DB_NAME" -v db="$DB_NAME" -v service_password="$SERVICE_PASS" \
      -f "$ROOT/conf/roles.sql" >/dev/null
    SERVICE_USER=t2sql_service QUERY_ROLE=${T2SQL_QUERY_ROLE-t2sql_reader}
  fi
}

start_redis() {
  mkdir -p "$VAR/redis"
  pid_alive "$VAR/run/redis.pid" && return
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --pidfile "$VAR/run/redis.pid" \
    --dir "$VAR/redis" --save "" --appendonly no --logfile "$VAR/log/redis.log" >/dev/null
  wait_for 10 redis-cli -p "$REDIS_PORT" ping || die "Redis did not start"
}

start_s3() {
  if [ -x "$ROOT/scripts/s3rver.sh" ]; then
    "$ROOT/scripts/s3rver.sh" start "$S3_PORT" "$VAR/s3" "${EXPORT_BUCKET:-t2sql-exports}" >&2 \
      || die "the S3 stand-in did not start"
  fi
}

start_llm() {
  [ -n "$LLM_PORT" ] || return 0
  pid_alive "$VAR/run/fakellm.pid" && return
  setsid /usr/bin/python3 "$ROOT/tests/fixtures/fakellm.py" --port "$LLM_PORT" \
    >>"$VAR/log/fakellm.log" 2>&1 < /dev/null &
  echo $! > "$VAR/run/fakellm.pid"
  wait_for 10 curl -sf "http://127.0.0.1:$LLM_PORT/_health" || die "the scripted model did not start"
}

write_env() { # the service's environment for this mode
  {
    echo "export DB_HOST='$DB_HOST' DB_PORT='$DB_PORT' DB_NAME='$DB_NAME' DB_USER='$SERVICE_USER' DB_PASS='$SERVICE_PASS'"
    echo "export T2SQL_QUERY_ROLE='$QUERY_ROLE'"
    echo "export T2SQL_REDIS_HOST=127.0.0.1 T2SQL_REDIS_PORT=$REDIS_PORT"
    echo "export S3_ENDPOINT=http://127.0.0.1:$S3_PORT AWS_REGION=${AWS_REGION:-us-east-1}"
    echo "export EXPORT_BUCKET=${EXPORT_BUCKET:-t2sql-exports} EXPORT_PREFIX=${EXPORT_PREFIX:-exports/}"
    echo "export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-S3RVER} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-S3RVER}"
    echo "export T2SQL_WORKERS=$WORKERS"
    if [ -n "$LLM_PORT" ]; then
      echo "export OPENAI_BASE_URL=http://127.0.0.1:$LLM_PORT/v1 OPENAI_API_KEY=test-llm-key-123456 OPENAI_MODEL=fake-model"
    else
      echo "export OPENAI_BASE_URL='${OPENAI_BASE_URL:-}' OPENAI_API_KEY='${OPENAI_API_KEY:-}' OPENAI_MODEL='${OPENAI_MODEL:-gpt-4o-mini}'"
    fi
  } > "$VAR/service.env"
  chmod 600 "$VAR/service.env"
}

render_nginx() { # render_nginx NAME PORT SOCK
  mkdir -p "$SVAR/nginx/$1"/{body,fastcgi,proxy,uwsgi,scgi}
  chown -R nobody:nogroup "$SVAR/nginx/$1"
  # the pages nginx serves itself, where its workers (nobody) can read them
  rm -rf "$SVAR/www.new"; mkdir -p "$SVAR/www.new"
  cp -R "$ROOT/web" "$SVAR/www.new/web"; cp -R "$ROOT/nginx/errors-root" "$SVAR/www.new/errors-root"
  mkdir -p "$SVAR/www.new/web/vendor" # the console's charting library (make deps installs it)
  cp "$ROOT/var/npm/node_modules/chart.js/dist/chart.umd.min.js" "$SVAR/www.new/web/vendor/" 2>/dev/null ||
    log "chart.js is not in var/npm (make deps): the console shows no charts"
  chmod -R a+rX "$SVAR/www.new"; rm -rf "$SVAR/www"; mv "$SVAR/www.new" "$SVAR/www"
  sed -e "s|@VAR@|$VAR|g" -e "s|@SVAR@|$SVAR|g" -e "s|@NAME@|$1|g" -e "s|@PORT@|$2|g" -e "s|@SOCK@|$3|g" \
      -e "s|@WWW@|$SVAR/www|g" -e "s|@MAX_BODY@|${NGINX_MAX_BODY:-1m}|g" \
      -e "s|@READ_TIMEOUT@|${NGINX_READ_TIMEOUT:-600s}|g" \
      "$ROOT/nginx/t2sql.conf.in" > "$VAR/nginx-$1.conf"
}

start_service() { # start_service NAME PORT [KEY=VALUE ...] -- t2sql-fcgi + nginx
  local name=$1 port=$2; shift 2
  local sock=$SVAR/run/$name.sock pidf=$VAR/run/$name.pid
  stop_service "$name"
  (
    set -a
    # shellcheck disable=SC1091
    . "$VAR/service.env"
    export T2SQL_LISTEN="$sock" T2SQL_LOG_FILE="$VAR/log/$name.log" T2SQL_PID_FILE="$pidf"
    for kv in "$@"; do export "${kv?}"; done
    cd "$ROOT"
    exec setsid "$BINDIR/t2sql-fcgi" -c "$ROOT/conf/t2sql.conf" </dev/null >>"$VAR/log/$name.stderr" 2>&1
  ) &
  wait_for 10 test -S "$sock" || die "t2sql-fcgi ($name) did not start: see $VAR/log/$name.log"
  render_nginx "$name" "$port" "$sock"
  nginx -c "$VAR/nginx-$name.conf" -p "$VAR/nginx/$name" -e "$VAR/log/nginx-$name-error.log" \
    || die "nginx ($name) did not start"
  wait_for 10 curl -sf "http://127.0.0.1:$port/health" || die "no answer on port $port"
  cat "$pidf"
}

stop_service() {
  local name=$1
  if pid_alive "$VAR/run/nginx-$name.pid"; then
    local npid; npid=$(cat "$VAR/run/nginx-$name.pid")
    kill -QUIT "$npid" 2>/dev/null || true
    # wait until it has let go of its port, so that a restart can bind it again
    wait_for 10 bash -c "! kill -0 $npid" || kill -KILL "$npid" 2>/dev/null || true
  fi
  if pid_alive "$VAR/run/$name.pid"; then
    local pid; pid=$(cat "$VAR/run/$name.pid")
    kill -TERM "$pid" 2>/dev/null || true
    wait_for 15 bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$VAR/run/$name.pid" "$VAR/run/nginx-$name.pid"
}

start_exportd() {
  [ -x "$BINDIR/exportd" ] || return 0
  pid_alive "$VAR/run/exportd.pid" && return
  (
    set -a; . "$VAR/service.env"
    cd "$ROOT"
    exec setsid "$BINDIR/exportd" -c "$ROOT/conf/t2sql.conf" </dev/null >>"$VAR/log/exportd.log" 2>&1
  ) &
  echo $! > "$VAR/run/exportd.pid"
}

stop_mode() {
  setup_mode "$1"
  [ -d "$VAR/run" ] || return 0
  for f in "$VAR"/run/nginx-*.pid; do
    [ -e "$f" ] || continue
    local n=${f##*/nginx-}; stop_service "${n%.pid}"
  done
  for f in "$VAR"/run/*.pid; do
    [ -e "$f" ] || continue
    # only what this checkout started, by the pid it recorded
    if pid_alive "$f"; then
      local p; p=$(cat "$f")
      kill -TERM "$p" 2>/dev/null || true
      wait_for 15 bash -c "! kill -0 $p" || kill -KILL "$p" 2>/dev/null || true
    fi
  done
  [ -x "$ROOT/scripts/s3rver.sh" ] && { "$ROOT/scripts/s3rver.sh" stop "$VAR/s3" >/dev/null 2>&1 || true; }
  if [ -f "$PGDATA/postmaster.pid" ]; then
    as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -f "$VAR"/run/*.pid
  if [ "$SVAR" != "$VAR" ]; then # our files outside the checkout
    rm -rf "$SVAR"; rmdir "${SVAR%/*}" 2>/dev/null || true
  fi
}

demo_key() { # prints the demo API key (all scopes), made once and kept in $VAR/demo.key
  local f=$VAR/demo.key key=""
  [ -s "$f" ] && key=$(cat "$f")
  if [ -n "$key" ] && echo "SELECT 1 FROM t2sql.api_keys WHERE revoked_at IS NULL AND
       key_hash = encode(sha256(convert_to(:'k', 'UTF8')), 'hex')" |
       psql_db -d "$DB_NAME" -v k="$key" -At 2>/dev/null | grep -q 1; then
    echo "$key"; return
  fi
  key=$(set -a; . "$VAR/service.env"; "$BINDIR/t2sql-keys" -c "$ROOT/conf/t2sql.conf" \
          create demo --scopes query,export,admin 2>/dev/null) || return 0
  (umask 077; echo "$key" > "$f")
  echo "$key"
}

start_all() {
  mkdir -p "$VAR/log" "$VAR/run"
  chmod 755 "$ROOT/var" "$VAR" "$VAR/log" "$VAR/run"
  mkdir -p "$SVAR/run"; chmod 755 "$SVAR" "$SVAR/run"
  start_pg
  load_demo
  start_redis
  start_s3
  start_llm
  write_env
  start_service main "$HTTP_PORT" >/dev/null
  start_exportd
}

cmd=${1:-}
case $cmd in
  demo)
    setup_mode demo
    start_all
    url="http://127.0.0.1:$HTTP_PORT"
    key=$(demo_key)
    cat <<MSG

t2sql is running at $url  (logs: var/demo/log/, stop: make stop)
  model: ${OPENAI_BASE_URL:-none configured: the offline planner answers common questions}
  demo API key (scopes query, export, admin; kept in var/demo/demo.key): ${key:-none}
  auth is off unless T2SQL_AUTH_REQUIRED=true; then add -H 'Authorization: Bearer <key>'

MSG
    q='how many tickets were sold by event category'
    [ -n "$EXTERNAL_DB" ] && q='how many rows are in <one of your tables>'
    cat <<MSG
Try:
  curl -s $url/query -H 'Content-Type: application/json' \\
       -d '{"question": "$q", "stream": false}'

MSG
    if [ -z "$EXTERNAL_DB" ]; then
      curl -s "$url/query" -H 'Content-Type: application/json' \
        -d '{"question": "how many tickets were sold by event category", "stream": false}' | head -c 1500
      echo
    else
      echo "Your database's tables: curl -s $url/schema"
    fi
    ;;
  test|bench)
    setup_mode "$cmd"
    stop_mode "$cmd"
    [ "$cmd" = test ] && rm -rf "$VAR"
    start_all
    cat > "$VAR/env.sh" <<ENV
export T2SQL_TEST_URL=http://127.0.0.1:$HTTP_PORT
export T2SQL_TEST_PG="host=127.0.0.1 port=$PGPORT dbname=t2sql user=postgres"
export T2SQL_TEST_LLM=http://127.0.0.1:$LLM_PORT
export T2SQL_TEST_REDIS_PORT=$REDIS_PORT
export T2SQL_TEST_S3=http://127.0.0.1:$S3_PORT
export T2SQL_TEST_VAR=$VAR
export T2SQL_TEST_PORT_OFFSET=${T2SQL_PORT_OFFSET:-0}
export T2SQL_TEST_PGDATA=$PGDATA
export T2SQL_TEST_PGOPTS="$PGOPTS"
export T2SQL_TEST_SHARED_VAR=$SVAR
export T2SQL_ROOT=$ROOT
ENV
    log "$cmd stack ready: $VAR/env.sh"
    ;;
  stop)
    for m in ${2:-demo test bench}; do stop_mode "$m"; done
    ;;
  where) # where MODE: its ports and data directory as shell assignments
    setup_mode "${2:-test}"
    echo "PGPORT=$PGPORT HTTP_PORT=$HTTP_PORT PGDATA='$PGDATA'"
    ;;
  instance)
    [ $# -ge 3 ] || die "usage: stack.sh instance NAME PORT [KEY=VALUE ...]"
    setup_mode "${T2SQL_STACK_MODE:-test}"
    [ -f "$VAR/service.env" ] || die "start the $MODE stack first"
    name=$2 port=$3; shift 3
    start_service "$name" "$port" "$@"
    ;;
  instance-stop)
    setup_mode "${T2SQL_STACK_MODE:-test}"
    stop_service "$2"
    ;;
  *)
    die "usage: stack.sh demo|test|stop [mode]|instance NAME PORT [K=V...]|instance-stop NAME"
    ;;
esac
