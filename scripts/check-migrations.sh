#!/usr/bin/env bash
# Migration drift: drizzle-kit must find nothing to generate from src/**/*.sql.ts, i.e. drizzle/
# already holds every change to the tables. drizzle/ is restored as it was whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
backup=$(mktemp -d)
cp -a drizzle/. "$backup/"
restore() { rm -rf drizzle && mkdir drizzle && cp -a "$backup/." drizzle/ && rm -rf "$backup"; }
trap restore EXIT
npx drizzle-kit generate --name drift-check >/dev/null
if ! diff -r "$backup" drizzle >/dev/null; then
  echo "drizzle/ is out of date with the tables in src/: run \`npm run db:generate\` and commit the migration" >&2
  diff -r "$backup" drizzle | head -20 >&2 || true
  exit 1
fi
echo "drizzle/ matches the tables in src/"
