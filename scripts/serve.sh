#!/usr/bin/env bash
# Tra, production shape (`make serve`): run the migrations, then gunicorn and RQ_WORKERS issuance
# workers, all configured from environment variables only (README "Running in production").
# Ctrl-C or SIGTERM stops every child; if one child dies, the others are stopped too, so that
# a supervisor (systemd, a container runtime) sees the failure and restarts the whole set.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${VENV_BIN:-.venv/bin}
export PORTAL_ENV=${PORTAL_ENV:-production}
RQ_WORKERS=${RQ_WORKERS:-1}
if ! [[ $RQ_WORKERS =~ ^[0-9]+$ ]]; then
  echo "serve: RQ_WORKERS must be a whole number, not '$RQ_WORKERS'" >&2
  exit 2
fi

# Metrics from several processes (gunicorn workers, RQ work horses) meet in this directory;
# samples of an earlier run must not be added to this one's.
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$PWD/instance/prometheus}
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
find "$PROMETHEUS_MULTIPROC_DIR" -mindepth 1 -maxdepth 1 -type f -name '*.db' -delete

"$BIN/flask" --app wsgi db upgrade

pids=()
stop_all() {
  trap - INT TERM
  if ((${#pids[@]})); then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
trap 'echo "serve: stopping" >&2; stop_all; exit 0' INT TERM

"$BIN/gunicorn" -c gunicorn.conf.py wsgi:app &
pids+=($!)

if [[ -n ${REDIS_URL:-} ]]; then
  for ((i = 1; i <= RQ_WORKERS; i++)); do
    "$BIN/python" -m portal.jobs.worker &
    pids+=($!)
  done
  echo "serve: gunicorn (pid ${pids[0]}) and $RQ_WORKERS issuance worker(s) started" >&2
else
  echo "serve: WARNING: REDIS_URL is not set: documents are issued inside the web processes," \
    "without retries; no RQ workers started. Set REDIS_URL for production." >&2
fi

status=0
wait -n "${pids[@]}" || status=$?
echo "serve: a process exited (status $status); stopping the others" >&2
stop_all
exit "$status"
