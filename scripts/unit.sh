#!/usr/bin/env bash
# unit.sh BIN... -- runs cmocka test binaries from the project root; prints each one's
# result and a total line "unit: N passed, N failed, N skipped" (a test skips itself, saying
# why, when the shared corpora are not beside the checkout). Exit status 1 if any failed.
set -u
cd "$(dirname "$0")/.."
pass=0 fail=0 skip=0
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  s=$(printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' | tail -1)
  p=${p:-0} f=${f:-0} s=${s:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi # crashed or failed outside a test
  pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
  if [ "$f" -ne 0 ]; then
    printf '%s\n' "$out" | grep -E '^\[  (FAILED|  ERROR  )|FAIL|error' | head -20
    echo "unit: ${t##*/}: $p passed, $f failed"
  else
    printf '%s\n' "$out" | grep -E '^skipped: ' | sed "s|^|unit: ${t##*/}: |"
    echo "unit: ${t##*/}: $p passed${s:+$([ "$s" -gt 0 ] && echo ", $s skipped")}"
  fi
done
echo "unit: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
