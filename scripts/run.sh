#!/usr/bin/env bash
# Sets up and runs uTool Chat: http://localhost:3000 (UI), http://localhost:8000 (API, Socket.IO).
# With DATABASE_URL unset it uses the embedded SQLite file ./utool_chat.db.
# Extra arguments go to `reflex run` (e.g. --env prod, --backend-port 8001).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
echo "run: migrating ${DATABASE_URL:-sqlite:///utool_chat.db}"
alembic upgrade head
# Reflex binds the backend to 0.0.0.0 by default; keep it on this machine unless asked.
case " $* " in
  *" --backend-host"*) exec reflex run "$@" ;;
  *) exec reflex run --backend-host 127.0.0.1 "$@" ;;
esac
