#!/bin/sh
# The official Postgres image runs this once, on an empty data directory: a login role per
# service owning its schema (postgres-roles.sql), with the password from <SERVICE>_DB_PASSWORD.
set -eu
for pair in product:product order:ordering payment:payment delivery:delivery \
            marketing:marketing sellerpage:sellerpage; do
  service=${pair%%:*}
  schema=${pair#*:}
  password=$(printenv "$(echo "$service" | tr a-z A-Z)_DB_PASSWORD")
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v role="mealkit_$service" -v schema="$schema" -v password="$password" \
    -f /etc/mealkit/postgres-roles.sql
done
