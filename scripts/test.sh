#!/usr/bin/env bash
# test.sh -- everything `make test` runs after the build: a fresh local stack (PostgreSQL,
# Redis, s3rver, scripted model, nginx, t2sql-fcgi, exportd), unit tests (cmocka; exec and txn
# use the stack's PostgreSQL), each fuzz target briefly (scripts/fuzz.sh), the checks of docker/
# (scripts/docker-check.sh), then the integration tests (pytest under Debian's
# /usr/bin/python3). The last line is the total: "N passed, N failed, N skipped" (tests that
# need ../shared/data skip themselves, saying why, when it is not beside the checkout). Exit status 0 only if nothing failed.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=/usr/bin/python3
pass=0 fail=0 skip=0

add_counts() { # add_counts "N passed, M failed[, K skipped]" line
  local p f s
  p=$(printf '%s' "$1" | sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p')
  f=$(printf '%s' "$1" | sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p')
  s=$(printf '%s' "$1" | sed -n 's/.* \([0-9][0-9]*\) skipped.*/\1/p')
  pass=$((pass + ${p:-0})) fail=$((fail + ${f:-0})) skip=$((skip + ${s:-0}))
}

# The stack starts first: the unit tests of exec and txn run against its PostgreSQL
# (T2SQL_TEST_PG; without it they skip, saying why).
trap 'scripts/stack.sh stop test >/dev/null 2>&1' EXIT
stack_ok=0
if scripts/stack.sh test; then
  stack_ok=1
  # shellcheck disable=SC1091
  . var/test/env.sh
fi

echo "== unit tests"
unit_out=$(scripts/unit.sh build/tests/test_* 2>&1)
printf '%s\n' "$unit_out"
add_counts "$(printf '%s\n' "$unit_out" | tail -1)"

echo "== fuzz targets (brief; make fuzz runs them longer)"
fuzz_out=$(scripts/fuzz.sh "${FUZZ_BRIEF_SECONDS:-5}" 2>&1)
printf '%s\n' "$fuzz_out"
add_counts "$(printf '%s\n' "$fuzz_out" | tail -1)"

echo "== docker/ (no engine here: the compose file against the Compose Specification, the Dockerfile linted)"
docker_out=$(scripts/docker-check.sh 2>&1)
printf '%s\n' "$docker_out" | grep -v ': ok '
add_counts "$(printf '%s\n' "$docker_out" | tail -1)"

echo "== integration tests"
if [ "$stack_ok" = 1 ]; then
  $PY -m pytest -q -rs -p no:cacheprovider --junitxml=var/test/junit.xml ${PYTEST_ARGS:-} \
    tests/integration 2>&1 | tail -n 60
  counts=$($PY - <<'PY'
import xml.etree.ElementTree as ET
try:
    r = ET.parse("var/test/junit.xml").getroot()
    suites = [r] if r.tag == "testsuite" else list(r)
    t = sum(int(s.get("tests", 0)) for s in suites)
    f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    sk = sum(int(s.get("skipped", 0)) for s in suites)
    print(f"x {t - f - sk} passed, {f} failed, {sk} skipped")
except Exception as e:
    print("x 0 passed, 1 failed")
PY
)
  add_counts "$counts"
  echo "integration:${counts#x}"
else
  echo "integration: the test stack did not start"
  fail=$((fail + 1))
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
