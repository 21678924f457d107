#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine, idempotently:
#   Python packages (.venv), bun from the npm registry (.tools, for Reflex's frontend build),
#   and with --browser, Chromium for the Playwright tests (Debian's package, or Playwright's own).
# Used by scripts/run.sh and scripts/test.sh; safe to run again (it skips what is there).
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
[[ "${1:-}" == "--browser" ]] && want_browser=1

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
# Reinstall only when requirements.txt changed since the last successful install.
stamp=.venv/.requirements.sha
sum=$(sha256sum requirements.txt | cut -d' ' -f1)
if [[ ! -f $stamp || "$(cat $stamp)" != "$sum" ]]; then
  echo "setup: installing Python packages"
  .venv/bin/pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/pip install -q -r requirements.txt 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import reflex, sqlmodel, fastapi, psycopg, asyncpg, argon2, redis, limits, socketio, PIL, boto3" \
    || { echo "setup: Python packages failed to install" >&2; exit 1; }
  echo "$sum" > $stamp
fi

# Debian packages the app and its tests use: libmagic1 (content sniffing of uploads),
# clamav-daemon (clamd: the upload tests start their own, with a signature file they write) and
# nginx with openssl (the HTTPS/WSS proxy test runs its own nginx with a self-signed certificate).
can_apt=0
command -v apt-get >/dev/null && [[ $(id -u) == 0 ]] && can_apt=1
if (( can_apt )); then
  missing=()
  [[ -e /usr/lib/x86_64-linux-gnu/libmagic.so.1 || -n "$(ldconfig -p 2>/dev/null | grep libmagic.so.1)" ]] || missing+=(libmagic1)
  command -v clamd >/dev/null || [[ -x /usr/sbin/clamd ]] || missing+=(clamav-daemon)
  command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
  command -v openssl >/dev/null || missing+=(openssl)
  if (( ${#missing[@]} )); then
    echo "setup: installing ${missing[*]} from Debian"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

# Reflex's own bun download is blocked here and its npm path needs Node 22; bun from the
# npm registry works (toolchain.md).
if [[ ! -x .tools/node_modules/.bin/bun ]]; then
  echo "setup: installing bun from npm into .tools"
  mkdir -p .tools
  npm install --silent --prefix .tools bun@1.4.4 >/dev/null
fi

if (( want_browser )); then
  # axe-core: the accessibility checks the browser tests run inside the pages.
  if [[ ! -f .tools/node_modules/axe-core/axe.min.js ]]; then
    echo "setup: installing axe-core from npm into .tools"
    npm install --silent --prefix .tools axe-core@4.14 >/dev/null
  fi
  if [[ ! -x /usr/bin/chromium ]]; then
    if (( can_apt )); then
      echo "setup: installing Chromium from Debian"
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "setup: installing Playwright's Chromium"
      .venv/bin/python -m playwright install chromium
    fi
  fi
  # Emoji in messages and screenshots need a colour emoji font (best effort: cosmetic only).
  if (( can_apt )) && [[ ! -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null; } \
      || echo "setup: no emoji font (screenshots will show boxes for emoji)"
  fi
fi
