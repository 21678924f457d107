#!/usr/bin/env bash
# Sets up and runs uTool Chat. With DATABASE_URL unset it uses the embedded SQLite file
# ./utool_chat.db. Stop it with Ctrl+C.
#
#   ./scripts/run.sh          the production build (what users get): UI, API and Socket.IO on
#                             ONE port, http://localhost:8000 (--port N for another)
#   ./scripts/run.sh --dev    the dev server with hot reload: UI on http://localhost:3000,
#                             backend (API, Socket.IO) on http://localhost:8000
#
# Both bind to 127.0.0.1 unless you pass --backend-host. Other arguments go to `reflex run`.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=prod
port=8000
args=()
while (( $# )); do
  case "$1" in
    --dev) mode=dev ;;
    --port) port="$2"; shift ;;
    *) args+=("$1") ;;
  esac
  shift
done
bash scripts/setup.sh
source scripts/env.sh
echo "run: migrating ${DATABASE_URL:-sqlite:///utool_chat.db}"
alembic upgrade head
# Reflex binds the backend to 0.0.0.0 by default; keep it on this machine unless asked
# (rxconfig.py does the same for the dev frontend).
case " ${args[*]-} " in
  *" --backend-host"*) host=() ;;
  *) host=(--backend-host 127.0.0.1) ;;
esac
if [[ $mode == dev ]]; then
  echo "run: dev server with hot reload: http://localhost:3000 (backend http://localhost:8000)"
  exec reflex run "${host[@]}" "${args[@]}"
fi
# In production Reflex serves the built pages from the backend: one port for everything. The
# backend is gunicorn + uvicorn, not granian (rxconfig.py, utool_chat/serving.py: memory per socket).
export API_URL="${API_URL:-http://localhost:$port}"
echo "run: production build on http://localhost:$port (building the frontend first)"
exec reflex run --env prod --frontend-port "$port" --backend-port "$port" "${host[@]}" "${args[@]}"
