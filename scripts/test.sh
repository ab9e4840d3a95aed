#!/usr/bin/env bash
# Install everything the test suite needs (Debian packages, Python and npm packages) and run it.
# Extra arguments go to pytest, e.g. `scripts/test.sh -k refresh`.
# Runs as root on CI; as another user, the Debian packages must already be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

.ci/install-system-deps
if [ -z "${VIRTUAL_ENV:-}" ]; then
    [ -x .venv/bin/python ] || python3 -m venv .venv
    # shellcheck disable=SC1091
    . .venv/bin/activate
fi
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e '.[test]'
# The browser tests (tests/e2e) build the React app themselves; they need its npm packages.
(cd web && npm ci --no-audit --no-fund --loglevel=error)
# The whole suite twice: on SQLite files, then on a PostgreSQL the fixtures start and stop.
python -m pytest "$@"
STOCKROOM_TEST_DATABASE=postgres python -m pytest --ignore=tests/e2e "$@"
