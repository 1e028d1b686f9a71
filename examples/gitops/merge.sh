#!/usr/bin/env bash
# Merge: apply exactly the plan reviewed on the pull request (plan.json; refused if AWS changed
# since the review), then verify the pipeline end to end.
# Env: SPEC, SECMON (default `secmon`), and the spec's value sources (e.g. DB_PASSWORD).
# Exit: 0 applied and nothing broken; 1 otherwise. Right after a first apply the e-mail
# subscriptions always wait for their recipients' click: `secmon verify` exits 3 for that, which
# is a warning here, not a failure (SNS deletes an unconfirmed subscription after 48 hours, and
# verify then fails). Verify's warnings (exit 2) are reported, not fatal.
# The workflow (github-actions.yml) and scripts/gitops-local run this same file.
set -euo pipefail
SECMON="${SECMON:-secmon}"
: "${SPEC:?set SPEC to the spec file}"
warn() {
  if [ -n "${GITHUB_ACTIONS:-}" ]; then echo "::warning::$*"; else echo "warning: $*" >&2; fi
}

"$SECMON" apply -f "$SPEC" plan.json --stats
set +e
"$SECMON" verify -f "$SPEC"
code=$?
set -e
case "$code" in
  0) ;;
  2) warn "secmon verify found warnings (above); nothing is broken" ;;
  3) warn "subscriptions await their recipients' confirmation: confirm from the \"AWS Notification - Subscription Confirmation\" e-mail within 48 hours (secmon verify --resend-confirmation sends it again)" ;;
  *) echo "secmon verify: a link of the pipeline is broken (exit $code)" >&2; exit 1 ;;
esac
