#!/usr/bin/env bash
# Sets up everything (packages, bun, Chromium) and runs the whole test suite: domain, HTTP and
# Socket.IO integration tests on a real PostgreSQL (and Redis), migrations, Playwright in Chromium.
# Tests create and drop their own databases on 127.0.0.1:5432 (TEST_PG_ADMIN_URL to change).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
source scripts/env.sh
bash scripts/services.sh
exec pytest "$@"
