# Sourced by the scripts: the environment Reflex needs on these machines (toolchain.md).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/.tools/node_modules/.bin:$ROOT/.venv/bin:$PATH"
export REFLEX_USE_SYSTEM_BUN=1
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
