#!/usr/bin/env bash
# The action's pull-request comment: `gauntlet diff` of this run against the
# base branch's last run, one comment per pull request, updated in place.
# Case texts are hostile: the comment neutralises @-mentions and remote
# images. Runs with GH_TOKEN, PR_NUMBER, HEAD_REPO, BASE_REF, GITHUB_REPOSITORY.
set -euo pipefail

marker="<!-- gauntlet-pr-comment -->"
if [ "${HEAD_REPO:-}" != "${GITHUB_REPOSITORY:-}" ]; then
  echo "::notice title=gauntlet::pull request from a fork (read-only token): no comment"
  exit 0
fi
if [ ! -f .gauntlet/base-reports/verdict.json ] || [ ! -f reports/verdict.json ]; then
  echo "::notice title=gauntlet::no run of ${BASE_REF} to compare with yet: no comment"
  exit 0
fi
gauntlet diff .gauntlet/base-reports reports --out .gauntlet/diff >/dev/null || true
[ -f .gauntlet/diff/diff.md ] || { echo "::notice title=gauntlet::gauntlet diff wrote nothing"; exit 0; }

body="$(mktemp)"
{
  echo "$marker"
  echo "### gauntlet: this branch against \`${BASE_REF}\`"
  echo
  # A zero-width space after @ stops a mention; images become plain links.
  sed -e 's/@/@\xE2\x80\x8B/g' -e 's/!\[/[/g' -e 's/<[iI][mM][gG]/\&lt;img/g' .gauntlet/diff/diff.md
} > "$body"

existing="$(gh api "repos/${GITHUB_REPOSITORY}/issues/${PR_NUMBER}/comments" --paginate \
  --jq ".[] | select(.user.login == \"github-actions[bot]\" and (.body | startswith(\"${marker}\"))) | .id" | head -n 1)"
if [ -n "$existing" ]; then
  gh api -X PATCH "repos/${GITHUB_REPOSITORY}/issues/comments/${existing}" -F "body=@${body}" >/dev/null
else
  gh api -X POST "repos/${GITHUB_REPOSITORY}/issues/${PR_NUMBER}/comments" -F "body=@${body}" >/dev/null
fi
echo "gauntlet: commented on pull request #${PR_NUMBER}"
