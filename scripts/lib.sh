# Shared by scripts/test and scripts/demo. Sourced, not run.
# Installs the pinned emulator into a project-local virtualenv (.venv) when missing or stale.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
REQS="$ROOT/scripts/requirements-emulator.txt"

ensure_venv() {
  local stamp="$VENV/.secmon-requirements"
  if [ -x "$VENV/bin/python" ] && cmp -s "$REQS" "$stamp" 2>/dev/null; then
    return 0
  fi
  echo "== installing the local AWS emulator (moto, pinned) into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS"
  cp "$REQS" "$stamp"
}

# Installs the independent IAM policy evaluator (test time only, npm, pinned by its lock file)
# that the emulator and the link-contract test judge generated policies with.
IAM_EVAL="$ROOT/scripts/iam-eval"
ensure_iam_eval() {
  local stamp="$IAM_EVAL/node_modules/.secmon-lock"
  if [ -d "$IAM_EVAL/node_modules/@cloud-copilot/iam-simulate" ] && cmp -s "$IAM_EVAL/package-lock.json" "$stamp" 2>/dev/null; then
    return 0
  fi
  command -v npm >/dev/null || { echo "Node.js and npm are needed (the IAM policy evaluator of the tests and the emulator)" >&2; return 1; }
  echo "== installing the IAM policy evaluator (@cloud-copilot/iam-simulate, pinned) into scripts/iam-eval" >&2
  (cd "$IAM_EVAL" && npm ci --no-audit --no-fund --loglevel=error >&2)
  cp "$IAM_EVAL/package-lock.json" "$stamp"
}

# Starts the emulator on a free 127.0.0.1 port; sets EMULATOR_PID and AWS_ENDPOINT_URL.
start_emulator() {
  local portfile
  portfile="$(mktemp)"
  rm -f "$portfile"
  "$VENV/bin/python" "$ROOT/scripts/emulator.py" --host 127.0.0.1 --port 0 --port-file "$portfile" >"${EMULATOR_LOG:-/dev/null}" 2>&1 &
  EMULATOR_PID=$!
  for _ in $(seq 1 300); do
    [ -s "$portfile" ] && break
    if ! kill -0 "$EMULATOR_PID" 2>/dev/null; then
      echo "emulator failed to start" >&2
      return 1
    fi
    sleep 0.1
  done
  [ -s "$portfile" ] || { echo "emulator did not report its port" >&2; return 1; }
  export AWS_ENDPOINT_URL="http://127.0.0.1:$(cat "$portfile")"
  rm -f "$portfile"
  # Emulator credentials: moto accepts any; never real ones.
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION="${AWS_REGION:-us-east-1}"
  unset AWS_PROFILE AWS_SESSION_TOKEN
}

stop_emulator() {
  if [ -n "${EMULATOR_PID:-}" ]; then
    kill "$EMULATOR_PID" 2>/dev/null || true
    wait "$EMULATOR_PID" 2>/dev/null || true
    EMULATOR_PID=
  fi
}
