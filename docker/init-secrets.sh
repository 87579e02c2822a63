#!/bin/sh
# init-secrets.sh -- makes the Docker secrets docker-compose.yml reads, once: random passwords
# in docker/secrets/ (the directory 0700; the files readable inside the containers, whose
# users differ from yours). Run it before the first `docker compose up`.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)/secrets
mkdir -p "$dir"
chmod 700 "$dir"
for name in pg_superuser_password db_service_password s3_secret_key; do
    [ -s "$dir/$name" ] && continue
    head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$dir/$name"
    chmod 644 "$dir/$name"
    echo "init-secrets: made $dir/$name"
done
