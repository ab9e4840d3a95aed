#!/bin/sh
# Fails when web/openapi.json or web/src/api/schema.d.ts no longer match the live API.
# Usage: sh web/scripts/check-client.sh   (needs the API's Python deps and web/node_modules)
set -eu
WEB=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
GEN="$WEB/node_modules/.bin/openapi-typescript"
if [ ! -x "$GEN" ]; then
    echo "check-client: $GEN is missing; run 'npm ci' in web/ first." >&2
    exit 2
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

"$PYTHON" "$WEB/scripts/export-openapi.py" > "$TMP/openapi.json"
"$GEN" "$TMP/openapi.json" -o "$TMP/schema.d.ts" >/dev/null 2>&1 || {
    echo "check-client: openapi-typescript failed on the exported document" >&2
    "$GEN" "$TMP/openapi.json" -o "$TMP/schema.d.ts" >&2 || true
    exit 2
}

stale=0
if ! cmp -s "$TMP/openapi.json" "$WEB/openapi.json"; then
    echo "check-client: web/openapi.json is stale (the API's OpenAPI document changed)." >&2
    diff -u "$WEB/openapi.json" "$TMP/openapi.json" | head -40 >&2 || true
    stale=1
fi
if ! cmp -s "$TMP/schema.d.ts" "$WEB/src/api/schema.d.ts"; then
    echo "check-client: web/src/api/schema.d.ts is stale." >&2
    diff -u "$WEB/src/api/schema.d.ts" "$TMP/schema.d.ts" | head -40 >&2 || true
    stale=1
fi
if [ "$stale" -ne 0 ]; then
    echo "check-client: regenerate with: cd web && npm run openapi && npm run gen  (then commit both)" >&2
    exit 1
fi
echo "check-client: web/openapi.json and web/src/api/schema.d.ts are up to date."
