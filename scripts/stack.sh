#!/usr/bin/env bash
# stack.sh -- the local stack under var/<mode>/: PostgreSQL (run as the postgres user), Redis,
# the S3 stand-in, nginx, t2sql-fcgi and exportd (and, for tests, the scripted model).
#   stack.sh demo                 start (or keep) the demo stack on T2SQL_HTTP_PORT (8080)
#   stack.sh test                 start a fresh test stack; writes var/test/env.sh
#   stack.sh bench                the same on other ports with the scale-1 demo (var/bench)
#   stack.sh stop [demo|test]     stop what stack.sh started (both by default)
#   stack.sh where MODE           print its ports and data directory (shell assignments)
#   stack.sh instance NAME PORT [KEY=VALUE ...]   another t2sql-fcgi + nginx with overrides
#   stack.sh apache NAME PORT INSTANCE            Apache httpd over INSTANCE's FastCGI socket
#   stack.sh nginx NAME PORT TEMPLATE ADDR...     an nginx from TEMPLATE (nginx/t2sql.conf.in,
#                                                 or a proxy's) whose upstream is the ADDRs
#   stack.sh host NAME [KEY=VALUE ...]            t2sql-fcgi (socket run/NAME.sock) + exportd in
#                                                 one process group, as one host of several;
#                                                 prints the group's id
#   stack.sh pgbouncer NAME PORT                  PgBouncer (transaction pooling) on PORT in
#                                                 front of the mode's PostgreSQL
#   stack.sh replica NAME PORT                    a streaming replica of the mode's PostgreSQL
#                                                 (pg_basebackup -R) on PORT
#   stack.sh instance-stop|apache-stop|nginx-stop|host-stop|pgbouncer-stop|replica-stop NAME
# The test and bench stacks also run Apache (apache/t2sql.conf.in) over the main instance's
# socket, on port 18078 (bench 38078); the demo only when T2SQL_APACHE_PORT is set.
# Each cluster trusts no local user: passwords (scram-sha-256) over TCP, peer on the socket;
# the superuser's password is generated into var/<mode>/pg.pass (0600).
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
    APACHE_PORT=$((18078 + o))
  elif [ "$MODE" = bench ]; then
    PGPORT=$((35432 + o)) REDIS_PORT=$((36379 + o)) S3_PORT=$((34569 + o)) LLM_PORT=$((38099 + o))
    HTTP_PORT=$((38080 + o)) SCALE=${DEMO_SCALE:-1} WORKERS=${T2SQL_WORKERS:-4}
    APACHE_PORT=$((38078 + o))
  else
    PGPORT=${T2SQL_PG_PORT:-54329} REDIS_PORT=${T2SQL_REDIS_PORT_LOCAL:-63799} S3_PORT=${T2SQL_S3_PORT:-4569}
    LLM_PORT= HTTP_PORT=${T2SQL_HTTP_PORT:-8080} SCALE=${DEMO_SCALE:-1} WORKERS=${T2SQL_WORKERS:-4}
    APACHE_PORT=${T2SQL_APACHE_PORT:-}
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

# How long a service's own process may take to start (t2sql-fcgi, exportd): a sanitizer's
# build on a machine running another test suite beside it has taken longer than 10 s. The
# wait ends as soon as it is up; only a process that never starts costs all of it.
START_WAIT=${T2SQL_START_WAIT:-60}

# pg_secret FILE -- a generated password kept 0600 in FILE (made once); prints it.
pg_secret() {
  [ -s "$1" ] || { (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$1"); }
  cat "$1"
}

# Our clusters trust nobody: TCP needs the password (scram-sha-256), the unix socket checks the
# connecting OS user (peer), so no local user is a database user it cannot prove to be.
PG_HBA='# written by scripts/stack.sh: passwords over TCP, the OS user on the unix socket
local  all          all                 peer
local  replication  all                 peer
host   all          all  127.0.0.1/32   scram-sha-256
host   all          all  ::1/128        scram-sha-256
host   replication  all  127.0.0.1/32   scram-sha-256'

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
  chmod 700 "$SVAR/pg"
  PG_PASS=$(pg_secret "$VAR/pg.pass") # the superuser's; the postgres user cannot read var/
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    (umask 077; echo "$PG_PASS" > "$SVAR/pg/pwfile"); chown postgres "$SVAR/pg/pwfile"
    as_postgres "$PGBIN/initdb" -D "$PGDATA" -U postgres --pwfile="$SVAR/pg/pwfile" \
      --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --no-locale \
      >"$VAR/log/initdb.log" 2>&1 || { rm -f "$SVAR/pg/pwfile"; die "initdb failed: see $VAR/log/initdb.log"; }
    rm -f "$SVAR/pg/pwfile"
  fi
  # also for a cluster an older checkout made with -A trust
  printf '%s\n' "$PG_HBA" | as_postgres tee "$PGDATA/pg_hba.conf" >/dev/null
  touch "$SVAR/log/postgres.log"; chown postgres:postgres "$SVAR/log/postgres.log"
  [ "$SVAR" = "$VAR" ] || ln -sfn "$SVAR/log/postgres.log" "$VAR/log/postgres.log"
  PGOPTS="-p $PGPORT -k $PGSOCK -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=256MB"
  [ "$MODE" != demo ] && PGOPTS="$PGOPTS -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  if ! as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -l "$SVAR/log/postgres.log" -w -t 60 \
      -o "$PGOPTS" start >/dev/null || die "PostgreSQL did not start: see $VAR/log/postgres.log"
  else
    as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" reload >/dev/null
  fi
  # peer auth on the socket; the password goes in on stdin, never on a command line
  printf "SET client_min_messages = warning; ALTER ROLE postgres PASSWORD '%s';\n" "$PG_PASS" |
    as_postgres psql -X -q -v ON_ERROR_STOP=1 -h "$PGSOCK" -p "$PGPORT" -d postgres >/dev/null ||
    die "cannot set the superuser's password (see $VAR/log/postgres.log)"
  DB_HOST=127.0.0.1 DB_PORT=$PGPORT DB_USER=postgres DB_NAME=t2sql DB_PASS=$PG_PASS
}

psql_db() {
  PGPASSWORD=${DB_PASS:-} PGOPTIONS='-c client_min_messages=warning' \
    psql -X -q -v ON_ERROR_STOP=1 -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" "$@"
}

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
    SERVICE_PASS=$(pg_secret "$VAR/service.pass")
    { printf '\\set service_password %s\n' "$SERVICE_PASS"; cat "$ROOT/conf/roles.sql"; } |
      psql_db -d "$DB_NAME" -v db="$DB_NAME" >/dev/null
    psql_db -d "$DB_NAME" -f "$ROOT/conf/tenants.sql" >/dev/null # two tenants, RLS on the demo
    SERVICE_USER=t2sql_service QUERY_ROLE=${T2SQL_QUERY_ROLE-t2sql_reader}
  fi
}

start_redis() {
  mkdir -p "$VAR/redis"
  pid_alive "$VAR/run/redis.pid" && return
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --pidfile "$VAR/run/redis.pid" \
    --unixsocket "$VAR/run/redis.sock" --unixsocketperm 700 \
    --dir "$VAR/redis" --save "" --appendonly no --logfile "$VAR/log/redis.log" >/dev/null
  wait_for 10 redis-cli -p "$REDIS_PORT" ping || die "Redis did not start"
}

# The test stack's S3 is the verifying proxy (tests/fixtures/s3verify.py) on S3_PORT: it
# recomputes every request's SigV4 signature with botocore, refuses a mismatch as S3 does, and
# forwards to s3rver on S3_PORT + 50, and SQS requests (signed for "sqs") to the SQS stand-in
# (sqslite, npm) on S3_PORT + 60. Its keys (var/test/s3/keys.json) start with the stack's
# own; tests add theirs. The demo and bench stacks talk to s3rver directly.
start_s3() {
  [ -x "$ROOT/scripts/s3rver.sh" ] || return 0
  local inner=$S3_PORT
  [ "$MODE" = test ] && inner=$((S3_PORT + 50))
  "$ROOT/scripts/s3rver.sh" start "$inner" "$VAR/s3" "${EXPORT_BUCKET:-t2sql-exports}" >&2 \
    || die "the S3 stand-in did not start"
  [ "$MODE" = test ] || return 0
  pid_alive "$VAR/run/s3verify.pid" && return
  (umask 077; printf '{"%s": {"secret": "%s", "token": null}}\n' "${AWS_ACCESS_KEY_ID:-S3RVER}" \
    "${AWS_SECRET_ACCESS_KEY:-S3RVER}" > "$VAR/s3/keys.json")
  start_sqs
  setsid /usr/bin/python3 "$ROOT/tests/fixtures/s3verify.py" --port "$S3_PORT" \
    --upstream "127.0.0.1:$inner" --data "$VAR/s3/data" --keys "$VAR/s3/keys.json" \
    --sqs-upstream "127.0.0.1:$((S3_PORT + 60))" \
    >>"$VAR/log/s3verify.log" 2>&1 < /dev/null &
  echo $! > "$VAR/run/s3verify.pid"
  wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" || die "the verifying S3 proxy did not start"
}

# The SQS stand-in (sqslite, installed by scripts/deps.sh) on S3_PORT + 60, behind the
# verifying proxy; it keeps its queues in memory (tests create their own).
start_sqs() {
  local bin=$ROOT/var/npm/node_modules/.bin/sqslite port=$((S3_PORT + 60))
  pid_alive "$VAR/run/sqslite.pid" && return
  [ -x "$bin" ] || { log "no SQS stand-in (run scripts/deps.sh); the SQS tests will fail"; return 0; }
  setsid "$bin" --host=127.0.0.1 --port="$port" >>"$VAR/log/sqslite.log" 2>&1 < /dev/null &
  echo $! > "$VAR/run/sqslite.pid"
  wait_for 10 curl -s -o /dev/null -X POST -d Action=ListQueues "http://127.0.0.1:$port/" ||
    die "the SQS stand-in did not start"
}

start_llm() {
  [ -n "$LLM_PORT" ] || return 0
  pid_alive "$VAR/run/fakellm.pid" && return
  setsid /usr/bin/python3 "$ROOT/tests/fixtures/fakellm.py" --port "$LLM_PORT" \
    --aws-keys "$VAR/s3/keys.json" \
    >>"$VAR/log/fakellm.log" 2>&1 < /dev/null &
  echo $! > "$VAR/run/fakellm.pid"
  wait_for 10 curl -sf "http://127.0.0.1:$LLM_PORT/_health" || die "the scripted model did not start"
}

write_env() { # the service's environment for this mode
  {
    echo "export DB_HOST='$DB_HOST' DB_PORT='$DB_PORT' DB_NAME='$DB_NAME' DB_USER='$SERVICE_USER' DB_PASS='$SERVICE_PASS'"
    echo "export T2SQL_QUERY_ROLE='$QUERY_ROLE'"
    # the bench stack's workers reach Redis over its Unix socket, as a Redis on the same host
    # would be set up; the others over TCP (the tests stop and move it by port)
    if [ "$MODE" = bench ]; then echo "export T2SQL_REDIS_HOST='$VAR/run/redis.sock' T2SQL_REDIS_PORT=$REDIS_PORT"
    else echo "export T2SQL_REDIS_HOST=127.0.0.1 T2SQL_REDIS_PORT=$REDIS_PORT"; fi
    echo "export S3_ENDPOINT=http://127.0.0.1:$S3_PORT AWS_REGION=${AWS_REGION:-us-east-1}"
    echo "export EXPORT_BUCKET=${EXPORT_BUCKET:-t2sql-exports} EXPORT_PREFIX=${EXPORT_PREFIX:-exports/}"
    echo "export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-S3RVER} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-S3RVER}"
    echo "export T2SQL_WORKERS=$WORKERS"
    # conf/semantic.yaml describes the demo's tables: a database of your own has no layer
    # until you write one (semantic_file)
    [ -z "$EXTERNAL_DB" ] || echo "export T2SQL_SEMANTIC_FILE=\"\${T2SQL_SEMANTIC_FILE:-}\""
    if [ "$MODE" = demo ]; then echo "export T2SQL_AUTH_REQUIRED=${T2SQL_AUTH_REQUIRED:-false}"
    else echo "export T2SQL_AUTH_REQUIRED=false"; fi
    if [ -n "$LLM_PORT" ]; then
      echo "export OPENAI_BASE_URL=http://127.0.0.1:$LLM_PORT/v1 OPENAI_API_KEY=test-llm-key-123456 OPENAI_MODEL=fake-model"
    else
      echo "export OPENAI_BASE_URL='${OPENAI_BASE_URL:-}' OPENAI_API_KEY='${OPENAI_API_KEY:-}' OPENAI_MODEL='${OPENAI_MODEL:-gpt-4o-mini}'"
    fi
  } > "$VAR/service.env"
  chmod 600 "$VAR/service.env"
  [ "$MODE" = demo ] && write_demo_conf
  return 0
}

# write_demo_conf -- var/demo/t2sql.conf, which conf/t2sql.conf includes last: the demo's
# addresses, so that bin/t2sql-keys and bin/t2sql-fcgi -t with -c conf/t2sql.conf (as the
# README shows them) reach the demo stack rather than the file's defaults.
write_demo_conf() {
  [ -z "$SERVICE_PASS" ] || [ "$(cat "$VAR/service.pass" 2>/dev/null)" = "$SERVICE_PASS" ] ||
    (umask 077; echo "$SERVICE_PASS" > "$VAR/service.pass")
  (umask 077; cat > "$VAR/t2sql.conf") <<CONF
# Written by scripts/stack.sh demo (each run): the demo stack's addresses. conf/t2sql.conf
# includes this file last; the environment still overrides it.
db_host = $DB_HOST
db_port = $DB_PORT
db_name = $DB_NAME
db_user = $SERVICE_USER
$([ -n "$SERVICE_PASS" ] && echo "db_pass_file = service.pass")
query_role = $QUERY_ROLE
redis_host = 127.0.0.1
redis_port = $REDIS_PORT
s3_endpoint = http://127.0.0.1:$S3_PORT
export_bucket = ${EXPORT_BUCKET:-t2sql-exports}
aws_access_key_id = ${AWS_ACCESS_KEY_ID:-S3RVER}
auth_required = ${T2SQL_AUTH_REQUIRED:-false}
CONF
}

# size_bytes 1m -> 1048576 (nginx's size syntax, for Apache)
size_bytes() {
  case $1 in
    *[mM]) echo $(( ${1%[mM]} * 1048576 )) ;;
    *[kK]) echo $(( ${1%[kK]} * 1024 )) ;;
    *) echo "$1" ;;
  esac
}

# render TEMPLATE OUT NAME PORT SOCK UPSTREAM -- a front end's config from its template; the
# pages it serves itself are copied where its workers (nobody) can read them.
render() {
  local tmpl=$1 out=$2 name=$3 port=$4 sock=$5 upstream=$6 hupstream=${7:-$6} body=${NGINX_MAX_BODY:-1m}
  local rt=${NGINX_READ_TIMEOUT:-600s} www; www=$SVAR/www.$(basename "$out" .conf)
  rm -rf "$www.new"; mkdir -p "$www.new"
  cp -R "$ROOT/web" "$www.new/web"; cp -R "$ROOT/nginx/errors-root" "$www.new/errors-root"
  mkdir -p "$www.new/web/vendor" # the console's charting library (make deps installs it)
  cp "$ROOT/var/npm/node_modules/chart.js/dist/chart.umd.min.js" "$www.new/web/vendor/" 2>/dev/null ||
    log "chart.js is not in var/npm (make deps): the console shows no charts"
  chmod -R a+rX "$www.new"; rm -rf "$www"; mv "$www.new" "$www"
  sed -e "s|@VAR@|$VAR|g" -e "s|@SVAR@|$SVAR|g" -e "s|@NAME@|$name|g" -e "s|@PORT@|$port|g" \
      -e "s|@SOCK@|$sock|g" -e "s|@UPSTREAM@|$upstream|g" -e "s|@HEALTH_UPSTREAM@|$hupstream|g" -e "s|@WWW@|$www|g" \
      -e "s|@MAX_BODY@|$body|g" -e "s|@MAX_BODY_BYTES@|$(size_bytes "$body")|g" \
      -e "s|@READ_TIMEOUT@|$rt|g" -e "s|@READ_TIMEOUT_S@|${rt%s}|g" "$tmpl" > "$out"
}

# start_nginx NAME PORT TEMPLATE ADDR... -- nginx on PORT from TEMPLATE, its upstream the
# ADDRs ("unix:/path" for FastCGI sockets, "HOST:PORT" for TCP ones or, for a proxy template,
# HTTP servers)
start_nginx() {
  local name=$1 port=$2 tmpl=$3 up="" hup="" a; shift 3
  for a in "$@"; do up="$up server $a max_fails=1 fail_timeout=10s;"; done
  # a socket's health pool listens on its path + .health (the query workers are its backup,
  # for health_workers = 0); a TCP address has none here
  for a in "$@"; do
    case $a in unix:*) hup="$hup server $a.health max_fails=1 fail_timeout=10s;" ;;
      *) hup="$hup server $a max_fails=1 fail_timeout=10s;" ;; esac
  done
  for a in "$@"; do
    case $a in unix:*) hup="$hup server $a backup;" ;; esac
  done
  stop_nginx "$name"
  mkdir -p "$SVAR/nginx/$name"/{body,fastcgi,proxy,uwsgi,scgi}
  chown -R nobody:nogroup "$SVAR/nginx/$name"
  render "$tmpl" "$VAR/nginx-$name.conf" "$name" "$port" "${1#unix:}" "$up" "$hup"
  nginx -c "$VAR/nginx-$name.conf" -p "$VAR/nginx/$name" -e "$VAR/log/nginx-$name-error.log" \
    || die "nginx ($name) did not start"
  wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$port/" || die "nginx ($name): no answer on port $port"
}

# start_apache NAME PORT SOCK -- Apache httpd (apache/t2sql.conf.in) over the FastCGI socket
start_apache() {
  local name=$1 port=$2 sock=$3
  command -v apache2 >/dev/null || die "apache2 is not installed (scripts/deps.sh installs it)"
  stop_pidfile "$VAR/run/apache-$name.pid" 10
  mkdir -p "$SVAR/apache/$name"; chown nobody:nogroup "$SVAR/apache/$name"
  render "$ROOT/apache/t2sql.conf.in" "$VAR/apache-$name.conf" "$name" "$port" "$sock" ""
  apache2 -f "$VAR/apache-$name.conf" -k start || die "apache ($name) did not start"
  wait_for 10 curl -sf "http://127.0.0.1:$port/health" ||
    die "apache ($name): no answer on port $port (see $VAR/log/apache-$name-error.log)"
}

# stop_pidfile FILE SECONDS [SIGNAL] -- ends the process FILE names (and only it), waiting for
# it to be gone so that its port can be bound again
stop_pidfile() {
  local f=$1 t=$2 sig=${3:-TERM} p
  if pid_alive "$f"; then
    p=$(cat "$f")
    kill -"$sig" "$p" 2>/dev/null || true
    wait_for "$t" bash -c "! kill -0 $p" || kill -KILL "$p" 2>/dev/null || true
  fi
  rm -f "$f"
}

stop_nginx() { stop_pidfile "$VAR/run/nginx-$1.pid" 10 QUIT; }

# start_fcgi NAME LISTEN [KEY=VALUE ...] -- a t2sql-fcgi master in a new session (process
# group), with the mode's environment and the overrides
start_fcgi() {
  local name=$1 listen=$2; shift 2
  (
    set -a
    # shellcheck disable=SC1091
    . "$VAR/service.env"
    export T2SQL_LISTEN="$listen" T2SQL_LOG_FILE="$VAR/log/$name.log" T2SQL_PID_FILE="$VAR/run/$name.pid"
    for kv in "$@"; do export "${kv?}"; done
    cd "$ROOT"
    exec setsid "$BINDIR/t2sql-fcgi" -c "$ROOT/conf/t2sql.conf" </dev/null >>"$VAR/log/$name.stderr" 2>&1
  ) &
  wait_for "$START_WAIT" pid_alive "$VAR/run/$name.pid" || die "t2sql-fcgi ($name) did not start: see $VAR/log/$name.log"
}

start_service() { # start_service NAME PORT [KEY=VALUE ...] -- t2sql-fcgi + nginx
  local name=$1 port=$2; shift 2
  local sock=$SVAR/run/$name.sock
  stop_service "$name"
  start_fcgi "$name" "$sock" "$@"
  wait_for "$START_WAIT" test -S "$sock" || die "t2sql-fcgi ($name) did not start: see $VAR/log/$name.log"
  start_nginx "$name" "$port" "$ROOT/nginx/t2sql.conf.in" "unix:$sock"
  wait_for "$START_WAIT" curl -sf "http://127.0.0.1:$port/health" || die "no answer on port $port"
  cat "$VAR/run/$name.pid"
}

stop_service() {
  stop_nginx "$1"
  stop_pidfile "$VAR/run/$1.pid" 15
}

# start_host NAME LISTEN [KEY=VALUE ...] -- one complete instance as on a host of its own:
# t2sql-fcgi on LISTEN (a socket path, or HOST:PORT as on separate hosts) and an exportd, both
# in one process group (its id in run/host-NAME.pgid), on the mode's PostgreSQL and Redis.
# Prints the group id.
start_host() {
  local name=$1 listen=$2; shift 2
  stop_host "$name"
  (
    set -a
    # shellcheck disable=SC1091
    . "$VAR/service.env"
    export T2SQL_LOG_FILE="$VAR/log/$name.log"
    for kv in "$@"; do export "${kv?}"; done
    cd "$ROOT"
    exec setsid bash -c 'echo $$ > "$0"
      T2SQL_LISTEN=$1 T2SQL_PID_FILE=$2 "$3/t2sql-fcgi" -c "$4" &
      T2SQL_LOG_FILE=$5 "$3/exportd" -c "$4" & echo $! > "$6"
      wait' "$VAR/run/host-$name.pgid" "$listen" "$VAR/run/$name.pid" "$BINDIR" \
      "$ROOT/conf/t2sql.conf" "$VAR/log/exportd-$name.log" "$VAR/run/exportd-$name.pid" \
      </dev/null >>"$VAR/log/$name.stderr" 2>&1
  ) &
  wait_for "$START_WAIT" pid_alive "$VAR/run/$name.pid" || die "host $name: t2sql-fcgi did not start (see $VAR/log/$name.log)"
  wait_for "$START_WAIT" pid_alive "$VAR/run/exportd-$name.pid" || die "host $name: exportd did not start"
  cat "$VAR/run/host-$name.pgid"
}

stop_host() {
  stop_pidfile "$VAR/run/$1.pid" 15
  stop_pidfile "$VAR/run/exportd-$1.pid" 15
  stop_pidfile "$VAR/run/host-$1.pgid" 5
}

# own_log FILE -- an empty log FILE under $SVAR/log the postgres user may write, linked from
# $VAR/log when that is elsewhere
own_log() {
  touch "$1"; chown postgres:postgres "$1"
  [ "$SVAR" = "$VAR" ] || ln -sfn "$1" "$VAR/log/${1##*/}"
}

# start_pgbouncer NAME PORT -- PgBouncer in transaction pooling mode on 127.0.0.1:PORT in front
# of the mode's PostgreSQL, for the service's login (service.env), with a password
# (scram-sha-256). It runs as the postgres user (it refuses root); its files are under
# $SVAR/pgbouncer/NAME, its pid file is run/pgbouncer-NAME.pid (stop ends that pid only).
start_pgbouncer() {
  local name=$1 port=$2 dir=$SVAR/pgbouncer/$1 pidf=$SVAR/run/pgbouncer-$1.pid user pass
  command -v pgbouncer >/dev/null || die "pgbouncer is not installed (scripts/deps.sh installs it)"
  stop_pidfile "$pidf" 10
  user=$(set +u; . "$VAR/service.env"; echo "$DB_USER")
  pass=$(set +u; . "$VAR/service.env"; echo "$DB_PASS")
  mkdir -p "$dir"; chown postgres:postgres "$dir"; chmod 700 "$dir"
  (umask 077; printf '"%s" "%s"\n' "$user" "$pass" > "$dir/userlist.txt")
  own_log "$SVAR/log/pgbouncer-$name.log"
  cat > "$dir/pgbouncer.ini" <<INI
; written by scripts/stack.sh pgbouncer $name
[databases]
* = host=127.0.0.1 port=$PGPORT
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = transaction
stats_users = $user
max_client_conn = 500
default_pool_size = ${PGBOUNCER_POOL_SIZE:-10}
logfile = $SVAR/log/pgbouncer-$name.log
pidfile = $pidf
INI
  chown postgres:postgres "$dir/userlist.txt" "$dir/pgbouncer.ini"
  as_postgres pgbouncer -d -q "$dir/pgbouncer.ini" ||
    die "pgbouncer ($name) did not start: see $SVAR/log/pgbouncer-$name.log"
  wait_for 10 pid_alive "$pidf" || die "pgbouncer ($name) did not start"
  wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || die "pgbouncer ($name): no answer on $port"
}

# start_replica NAME PORT -- a hot standby of the mode's PostgreSQL on 127.0.0.1:PORT, made
# once by pg_basebackup -R over the primary's socket (as the postgres user: peer), its data
# under $SVAR/pg-replica-NAME (where that user can reach it); a stopped one is started again
start_replica() {
  local name=$1 port=$2 data=$SVAR/pg-replica-$1/data
  if [ ! -f "$data/PG_VERSION" ]; then
    rm -rf "${data%/data}"; mkdir -p "${data%/data}"
    chown postgres:postgres "${data%/data}"; chmod 700 "${data%/data}"
    as_postgres "$PGBIN/pg_basebackup" -h "$PGSOCK" -p "$PGPORT" -U postgres -D "$data" -R \
      -X stream -c fast >>"$VAR/log/replica-$name-setup.log" 2>&1 ||
      die "pg_basebackup ($name) failed: see $VAR/log/replica-$name-setup.log"
  fi
  own_log "$SVAR/log/replica-$name.log"
  as_postgres "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1 && return
  # a standby needs max_connections (and the others) at least the primary's
  as_postgres "$PGBIN/pg_ctl" -D "$data" -l "$SVAR/log/replica-$name.log" -w -t 60 -o \
    "-p $port -k $PGSOCK -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=64MB -c fsync=off" \
    start >/dev/null || die "replica ($name) did not start: see $SVAR/log/replica-$name.log"
}

stop_replica() {
  local data=$SVAR/pg-replica-$1/data
  [ -f "$data/postmaster.pid" ] || return 0
  as_postgres "$PGBIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
}

start_exportd() {
  [ -x "$BINDIR/exportd" ] || return 0
  pid_alive "$VAR/run/exportd.pid" && return
  (
    set -a; . "$VAR/service.env"
    T2SQL_EXPORTD_METRICS_FILE=$VAR/exportd.prom # its Prometheus textfile
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
  # only what this checkout started, by the pids it recorded (hosts' groups last)
  for f in "$VAR"/run/*.pid "$VAR"/run/*.pgid; do
    [ -e "$f" ] && stop_pidfile "$f" 15
  done
  for f in "$SVAR"/run/pgbouncer-*.pid; do
    [ -e "$f" ] && stop_pidfile "$f" 10
  done
  for f in "$SVAR"/pg-replica-*; do
    [ -d "$f" ] && stop_replica "${f##*/pg-replica-}"
  done
  [ -x "$ROOT/scripts/s3rver.sh" ] && { "$ROOT/scripts/s3rver.sh" stop "$VAR/s3" >/dev/null 2>&1 || true; }
  if [ -f "$PGDATA/postmaster.pid" ]; then
    as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -f "$VAR"/run/*.pid "$VAR"/run/*.pgid
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

# demo_summary KEY -- what `make demo` prints: where things are, the key, one request and its
# answer (with the key when auth is on: what the service itself says, bin/t2sql-fcgi -t).
demo_summary() {
  local key=$1 url="http://127.0.0.1:$HTTP_PORT" auth=off hdr="" q
  if (set -a; . "$VAR/service.env"; "$BINDIR/t2sql-fcgi" -c "$ROOT/conf/t2sql.conf" -t 2>/dev/null) |
     grep -qx 'auth_required = true'; then
    auth=on
  fi
  [ "$auth" = on ] && [ -n "$key" ] && hdr="-H 'Authorization: Bearer $key' "
  q='how many tickets were sold by event category'
  [ -n "$EXTERNAL_DB" ] && q='how many rows are in <one of your tables>'
  cat <<MSG
t2sql demo is running (build and setup output: var/demo/log/build.log, setup.log; stop: make stop)
  API      $url   contract: $url/openapi.json
  console  $url/console
  database ${EXTERNAL_DB:+yours, }$DB_HOST:$DB_PORT/$DB_NAME (bin/t2sql-keys -c conf/t2sql.conf ... uses it)
  model    ${OPENAI_BASE_URL:-none configured: the offline planner answers common questions}
  auth     $([ "$auth" = on ] && echo "on: every request but /health and /ready needs the key" ||
               echo "off (T2SQL_AUTH_REQUIRED=true make demo turns it on)")
  API key  ${key:-none} (scopes query, export, admin; kept in var/demo/demo.key)

Try:
  curl -s $url/query -H 'Content-Type: application/json' ${hdr}\\
       -d '{"question": "$q", "stream": false}'
MSG
  [ -n "$EXTERNAL_DB" ] && { echo; echo "Your database's tables: curl -s ${hdr}$url/schema"; return; }
  local args=(-s -w '\n%{http_code}' "$url/query" -H 'Content-Type: application/json'
              -d "{\"question\": \"$q\", \"stream\": false}")
  [ "$auth" = on ] && [ -n "$key" ] && args+=(-H "Authorization: Bearer $key")
  curl "${args[@]}" | /usr/bin/python3 -c '
import json, sys
text = sys.stdin.read()
body, _, status = text.rpartition("\n")
try:
    d = json.loads(body)
except ValueError:
    d = None
if status != "200" or not isinstance(d, dict) or "rows" not in d:
    print("\nThe example got %s: %s" % (status, body[:500]))
    sys.exit(0)
print("\nIts answer (source: %s, %d rows):" % (d.get("source"), len(d["rows"])))
print("  " + " ".join(d.get("sql", "").split()))
rows = [d["columns"]] + [["null" if v is None else str(v) for v in r] for r in d["rows"][:8]]
w = [max(len(r[i]) for r in rows) for i in range(len(d["columns"]))]
for n, r in enumerate(rows):
    print("  " + " | ".join(v.ljust(w[i]) for i, v in enumerate(r)).rstrip())
    if n == 0:
        print("  " + "-+-".join("-" * x for x in w))
if len(d["rows"]) > 8:
    print("  ... %d more" % (len(d["rows"]) - 8))
'
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
  [ -z "$APACHE_PORT" ] || start_apache main "$APACHE_PORT" "$SVAR/run/main.sock"
  start_exportd
}

cmd=${1:-}
case $cmd in
  demo)
    setup_mode demo
    mkdir -p "$VAR/log"
    # the setup's output goes to a log (so do the daemons'), the terminal gets the summary;
    # the subshell hands back what the summary needs
    log=$VAR/log/setup.log
    if ! (
      echo "== $(date -u +%FT%TZ) stack.sh demo"
      start_all
      key=$(demo_key)
      declare -p EXTERNAL_DB DB_HOST DB_PORT DB_NAME key > "$VAR/run/demo.vars"
    ) >>"$log" 2>&1 </dev/null; then
      tail -n 15 "$log" >&2
      die "the demo did not start (the end of $log is above)"
    fi
    . "$VAR/run/demo.vars"; rm -f "$VAR/run/demo.vars"
    demo_summary "$key"
    ;;
  test|bench)
    setup_mode "$cmd"
    stop_mode "$cmd"
    [ "$cmd" = test ] && rm -rf "$VAR"
    start_all
    # the superuser's password: in T2SQL_TEST_PG for drivers, in a pgpass file for psql and
    # pgbench (so that it never shows on a command line)
    (umask 077; echo "127.0.0.1:$PGPORT:*:postgres:$PG_PASS" > "$VAR/pgpass")
    (umask 077; cat > "$VAR/env.sh") <<ENV
export T2SQL_TEST_URL=http://127.0.0.1:$HTTP_PORT
export T2SQL_TEST_APACHE_URL=http://127.0.0.1:$APACHE_PORT
export T2SQL_TEST_PG="host=127.0.0.1 port=$PGPORT dbname=t2sql user=postgres password=$PG_PASS"
export PGPASSFILE=$VAR/pgpass
export T2SQL_TEST_LLM=http://127.0.0.1:$LLM_PORT
export T2SQL_TEST_REDIS_PORT=$REDIS_PORT
export T2SQL_TEST_S3=http://127.0.0.1:$S3_PORT
export T2SQL_TEST_S3_KEYS=$VAR/s3/keys.json
export T2SQL_TEST_SQS_INNER=http://127.0.0.1:$((S3_PORT + 60))
export T2SQL_TEST_S3_DATA=$VAR/s3/data
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
  apache) # apache NAME PORT SOCKNAME: Apache over the FastCGI socket of instance SOCKNAME
    [ $# -eq 4 ] || die "usage: stack.sh apache NAME PORT INSTANCE"
    setup_mode "${T2SQL_STACK_MODE:-test}"
    start_apache "$2" "$3" "$SVAR/run/$4.sock"
    ;;
  apache-stop)
    setup_mode "${T2SQL_STACK_MODE:-test}"
    stop_pidfile "$VAR/run/apache-$2.pid" 10
    ;;
  nginx) # nginx NAME PORT TEMPLATE ADDR...: an nginx from TEMPLATE over the upstream ADDRs
    [ $# -ge 5 ] || die "usage: stack.sh nginx NAME PORT TEMPLATE ADDR..."
    setup_mode "${T2SQL_STACK_MODE:-test}"
    name=$2 port=$3 tmpl=$4; shift 4
    case $tmpl in /*) ;; *) tmpl=$ROOT/$tmpl ;; esac
    start_nginx "$name" "$port" "$tmpl" "$@"
    ;;
  nginx-stop)
    setup_mode "${T2SQL_STACK_MODE:-test}"
    stop_nginx "$2"
    ;;
  host) # host NAME [KEY=VALUE ...]: t2sql-fcgi + exportd in one process group
    [ $# -ge 2 ] || die "usage: stack.sh host NAME [KEY=VALUE ...]"
    setup_mode "${T2SQL_STACK_MODE:-test}"
    [ -f "$VAR/service.env" ] || die "start the $MODE stack first"
    name=$2; shift 2
    start_host "$name" "$SVAR/run/$name.sock" "$@"
    ;;
  host-stop)
    setup_mode "${T2SQL_STACK_MODE:-test}"
    stop_host "$2"
    ;;
  pgbouncer|replica) # pgbouncer NAME PORT, replica NAME PORT
    [ $# -eq 3 ] || die "usage: stack.sh $cmd NAME PORT"
    setup_mode "${T2SQL_STACK_MODE:-test}"
    [ -f "$VAR/service.env" ] || die "start the $MODE stack first"
    "start_$cmd" "$2" "$3"
    ;;
  pgbouncer-stop)
    setup_mode "${T2SQL_STACK_MODE:-test}"
    stop_pidfile "$SVAR/run/pgbouncer-$2.pid" 10
    ;;
  replica-stop)
    setup_mode "${T2SQL_STACK_MODE:-test}"
    stop_replica "$2"
    ;;
  *)
    die "usage: stack.sh demo|test|bench|stop [mode]|where MODE|instance NAME PORT [K=V...]|apache NAME PORT INSTANCE|nginx NAME PORT TEMPLATE ADDR...|host NAME [K=V...]|pgbouncer NAME PORT|replica NAME PORT|instance-stop|apache-stop|nginx-stop|host-stop|pgbouncer-stop|replica-stop NAME"
    ;;
esac
