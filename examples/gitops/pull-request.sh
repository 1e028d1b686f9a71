#!/usr/bin/env bash
# Pull request: lint warnings fail the pull request; the plan is written as a markdown comment
# (plan.md) and as the saved plan the merge applies (plan.json).
# Env: SPEC (the spec file), SECMON (the binary; default `secmon`).
# Exit: 0 the plan was made, with or without changes; 1 an invalid spec or an error.
# The workflow (github-actions.yml) and scripts/gitops-local run this same file.
set -euo pipefail
SECMON="${SECMON:-secmon}"
: "${SPEC:?set SPEC to the spec file}"

"$SECMON" validate -f "$SPEC" --strict
set +e
"$SECMON" plan -f "$SPEC" --detailed-exitcode -o plan.json --output markdown > plan.md
code=$?
set -e
cat plan.md
case "$code" in
  0) changes=false ;;
  2) changes=true ;;
  *) echo "secmon plan failed (exit $code)" >&2; exit 1 ;;
esac
echo "secmon: plan has changes: $changes"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "changes=$changes" >> "$GITHUB_OUTPUT"
fi
