#!/usr/bin/env bash
# Nightly: does AWS still match the spec on main? The plan, as markdown, goes to drift.md.
# Env: SPEC, SECMON (default `secmon`).
# Exit: 0 no drift; 2 drift (drift.md says what; the workflow opens or updates an issue with
# it); 1 an error (a mistyped flag's 64 is reported as an error too, never as drift).
# The workflow (github-actions.yml) and scripts/gitops-local run this same file.
set -euo pipefail
SECMON="${SECMON:-secmon}"
: "${SPEC:?set SPEC to the spec file}"

set +e
"$SECMON" plan -f "$SPEC" --detailed-exitcode --output markdown > drift.md
code=$?
set -e
case "$code" in
  0) echo "secmon: no drift" ;;
  2) echo "secmon: AWS drifted from the spec (drift.md)" ;;
  *) echo "secmon plan failed (exit $code)" >&2; exit 1 ;;
esac
exit "$code"
