#!/usr/bin/env bash
# s3rver.sh -- the local S3 stand-in (s3rver, npm) on loopback, for tests and the demo stack.
#   scripts/s3rver.sh start PORT DIR BUCKET   install into var/npm if missing, start on
#                                             127.0.0.1:PORT with data in DIR, pid in
#                                             DIR/s3rver.pid, create BUCKET, wait until it answers
#   scripts/s3rver.sh stop DIR                stop the one started with that DIR
# s3rver accepts the credentials S3RVER / S3RVER (it checks no signature: the test stack's
# verifying proxy, tests/fixtures/s3verify.py, does). It runs through scripts/s3rver.js, which
# replaces its CompleteMultipartUpload with one that checks the part list and ETags as S3 does
# and keeps the parts where UploadPart wrote them behind a manifest (s3rver's own re-streams
# and re-hashes every byte into a second file).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
NPM_DIR="$ROOT/var/npm"
BIN="$NPM_DIR/node_modules/.bin/s3rver"

die() { echo "s3rver.sh: $*" >&2; exit 1; }

install_s3rver() {
    [ -x "$BIN" ] && return 0
    command -v npm >/dev/null || die "npm is not installed"
    mkdir -p "$NPM_DIR"
    npm install --prefix "$NPM_DIR" --no-audit --no-fund s3rver >"$NPM_DIR/install.log" 2>&1 \
        || die "npm install s3rver failed (see $NPM_DIR/install.log)"
}

start() {
    local port="$1" dir="$2" bucket="$3" i
    install_s3rver
    mkdir -p "$dir/data"
    dir="$(cd "$dir" && pwd)"
    if [ -f "$dir/s3rver.pid" ] && kill -0 "$(cat "$dir/s3rver.pid")" 2>/dev/null; then
        echo "s3rver already running (pid $(cat "$dir/s3rver.pid"))"
        return 0
    fi
    NODE_PATH="$NPM_DIR/node_modules" nohup node "$ROOT/scripts/s3rver.js" -d "$dir/data" -a 127.0.0.1 -p "$port" -s \
        --configure-bucket "$bucket" >"$dir/s3rver.log" 2>&1 &
    echo $! >"$dir/s3rver.pid"
    for i in $(seq 1 100); do
        if curl -s -o /dev/null "http://127.0.0.1:$port/$bucket" 2>/dev/null; then
            echo "s3rver on 127.0.0.1:$port (bucket $bucket, pid $(cat "$dir/s3rver.pid"))"
            return 0
        fi
        kill -0 "$(cat "$dir/s3rver.pid")" 2>/dev/null || break
        sleep 0.1
    done
    cat "$dir/s3rver.log" >&2 || true
    die "s3rver did not start on port $port"
}

stop() {
    local dir="$1" pid i
    [ -f "$dir/s3rver.pid" ] || return 0
    pid="$(cat "$dir/s3rver.pid")"
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    rm -f "$dir/s3rver.pid"
}

case "${1:-}" in
start) [ $# -eq 4 ] || die "usage: $0 start PORT DIR BUCKET"; start "$2" "$3" "$4" ;;
stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
*) die "usage: $0 start PORT DIR BUCKET | stop DIR" ;;
esac
