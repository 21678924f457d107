#!/usr/bin/env bash
# Lint and type-check the whole tree with the configuration in pyproject.toml:
#   ruff check .   errors, import order, bug patterns, modern syntax (tool.ruff)
#   mypy           types of utool_chat/, tests/, bench/, alembic/env.py, rxconfig.py (tool.mypy)
# CI (.ci/run) runs it before the tests; any finding fails the build. Run it before pushing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
status=0
echo "lint: ruff check ."
ruff check . || status=1
echo "lint: mypy"
mypy || status=1
exit $status
