#!/usr/bin/env bash
# Architecture-docs gate (ADR-023).
#
# A change that touches proto/, services/, gateway/ or migrations/ must also update all three
# of docs/architecture.md, docs/decisions.md and docs/implementation-plan.md, and each of
# those documents must carry an "Updated on YYYY-MM-DD" marker that is a real calendar date.
#
#   .github/scripts/check_arch_docs_gate.sh [BASE_REF]
#
# BASE_REF is the argument, else $GITHUB_BASE_REF (set by GitHub Actions on pull requests; a
# branch name is looked up as origin/<branch> when needed), else origin/main. The change
# checked is BASE_REF...HEAD: every commit on HEAD since it left BASE_REF, so later commits on
# the base branch do not count. The documents are read as committed at HEAD.
#
# Exit status: 0 passed, 1 the gate failed, 2 the comparison could not be made.
set -euo pipefail

readonly ARCH_RE='^(proto|services|gateway|migrations)/'
readonly DOCS=(docs/architecture.md docs/decisions.md docs/implementation-plan.md)

say() { printf 'arch-docs gate: %s\n' "$*"; }
die() {
  printf 'arch-docs gate: error: %s\n' "$*" >&2
  exit 2
}

if [ "$#" -gt 1 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  [ "$#" -gt 1 ] && exit 2
  exit 0
fi

git rev-parse --git-dir >/dev/null 2>&1 || die "not inside a git repository"

wanted="${1:-${GITHUB_BASE_REF:-origin/main}}"
if git rev-parse --verify --quiet "${wanted}^{commit}" >/dev/null; then
  base="$wanted"
elif git rev-parse --verify --quiet "origin/${wanted}^{commit}" >/dev/null; then
  base="origin/$wanted"
else
  die "base ref '$wanted' not found. Fetch it first (git fetch origin ${wanted#origin/}); in GitHub Actions check out with fetch-depth: 0."
fi

merge_base="$(git merge-base "$base" HEAD 2>/dev/null)" ||
  die "'$base' and HEAD share no history (a shallow clone? check out with fetch-depth: 0)"

# --no-renames: a file moved out of services/ counts as a change to services/.
changed="$(git diff --name-only --no-renames "$merge_base" HEAD)"
say "checking $base...HEAD (merge base $(git rev-parse --short "$merge_base"), $(printf '%s' "$changed" | grep -c . || true) file(s) changed)"

arch_changed="$(printf '%s\n' "$changed" | grep -E "$ARCH_RE" || true)"
problems=0
fail() {
  problems=$((problems + 1))
  printf 'arch-docs gate: FAIL: %s\n' "$*"
}

# valid_date YYYY-MM-DD: a real day of the Gregorian calendar.
valid_date() {
  local y m d max
  [[ "$1" =~ ^([0-9]{4})-([0-9]{2})-([0-9]{2})$ ]] || return 1
  y=$((10#${BASH_REMATCH[1]}))
  m=$((10#${BASH_REMATCH[2]}))
  d=$((10#${BASH_REMATCH[3]}))
  ((y >= 1 && m >= 1 && m <= 12 && d >= 1)) || return 1
  case "$m" in
    1 | 3 | 5 | 7 | 8 | 10 | 12) max=31 ;;
    4 | 6 | 9 | 11) max=30 ;;
    2) if ((y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))); then max=29; else max=28; fi ;;
  esac
  ((d <= max))
}

# check_marker DOC: the document at HEAD has "Updated on YYYY-MM-DD", every one a valid date.
check_marker() {
  local doc="$1" content markers marker date
  if ! content="$(git show "HEAD:$doc" 2>/dev/null)"; then
    fail "$doc does not exist at HEAD"
    return
  fi
  markers="$(printf '%s\n' "$content" | grep -oE 'Updated on [^[:space:]]*' || true)"
  if [ -z "$markers" ]; then
    fail "$doc has no 'Updated on YYYY-MM-DD' marker: add one with today's date"
    return
  fi
  while IFS= read -r marker; do
    date="${marker#Updated on }"
    # Tolerate Markdown emphasis around the date: Updated on **2026-11-29**.
    date="${date#"${date%%[0-9]*}"}"
    date="${date%%[^0-9-]*}"
    if ! valid_date "$date"; then
      fail "$doc: '${marker}' is not a valid date (want 'Updated on YYYY-MM-DD', a real calendar day)"
    fi
  done <<<"$markers"
}

if [ -z "$arch_changed" ]; then
  say "no change under proto/, services/, gateway/ or migrations/: no documentation required"
  for doc in "${DOCS[@]}"; do
    if printf '%s\n' "$changed" | grep -qxF "$doc"; then
      check_marker "$doc"
    fi
  done
else
  count="$(printf '%s\n' "$arch_changed" | grep -c .)"
  say "architecture paths changed ($count file(s)): $(printf '%s\n' "$arch_changed" | head -n 5 | paste -sd' ' -)$([ "$count" -gt 5 ] && echo ' ...')"
  for doc in "${DOCS[@]}"; do
    if ! printf '%s\n' "$changed" | grep -qxF "$doc"; then
      fail "$doc was not updated: a change to proto/, services/, gateway/ or migrations/ must update ${DOCS[*]} (ADR-023)"
    fi
    check_marker "$doc"
  done
fi

if [ "$problems" -gt 0 ]; then
  say "FAILED with $problems problem(s)"
  exit 1
fi
say "passed"
