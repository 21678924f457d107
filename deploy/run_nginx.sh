#!/usr/bin/env bash
# Runs nginx (Debian's `nginx`) in front of uTool Chat app processes with deploy/nginx.conf.template.
#
#   deploy/run_nginx.sh RUN_DIR HTTPS_PORT HTTP_PORT UPSTREAM [UPSTREAM...]
#     UPSTREAM   host:port of an app process (reflex run --env prod --backend-port ... each:
#                gunicorn + uvicorn, utool_chat/serving.py)
#   env: CERT / KEY   the certificate and key (default: a self-signed pair made in RUN_DIR)
#        LISTEN_HOST   address to listen on (default 127.0.0.1)
#        PUBLIC_HOST   name in the self-signed certificate and the redirect (default localhost)
#
# nginx runs in the foreground with its own pid, logs and temp files under RUN_DIR (never the
# system service); stop it with SIGTERM (or SIGQUIT for a graceful stop).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
run_dir="$1"; https_port="$2"; http_port="$3"; shift 3
[[ $# -ge 1 ]] || { echo "usage: $0 RUN_DIR HTTPS_PORT HTTP_PORT UPSTREAM [UPSTREAM...]" >&2; exit 2; }
mkdir -p "$run_dir"
run_dir="$(cd "$run_dir" && pwd)"
public_host="${PUBLIC_HOST:-localhost}"
cert="${CERT:-$run_dir/cert.pem}"
key="${KEY:-$run_dir/key.pem}"
if [[ ! -f $cert || ! -f $key ]]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$public_host" \
    -addext "subjectAltName=DNS:$public_host,IP:127.0.0.1" -keyout "$key" -out "$cert" 2>/dev/null
fi
servers=""
for upstream in "$@"; do
  servers+="        server $upstream max_fails=1 fail_timeout=2s;"$'\n'
done
python3 - "$here/nginx.conf.template" "$run_dir/nginx.conf" <<PY
import sys
text = open(sys.argv[1]).read()
values = {
    "RUN_DIR": "$run_dir", "HTTPS_PORT": "$https_port", "HTTP_PORT": "$http_port",
    "CERT": "$cert", "KEY": "$key", "LISTEN_HOST": "${LISTEN_HOST:-127.0.0.1}",
    "PUBLIC_URL": "https://$public_host:$https_port", "UPSTREAM_SERVERS": """$servers""".rstrip("\n"),
}
for name, value in values.items():
    text = text.replace("@@" + name + "@@", value)
open(sys.argv[2], "w").write(text)
PY
nginx -t -q -c "$run_dir/nginx.conf" -p "$run_dir"
exec nginx -c "$run_dir/nginx.conf" -p "$run_dir" -g "daemon off;"
