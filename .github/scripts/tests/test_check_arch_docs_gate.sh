#!/usr/bin/env bash
# Tests of .github/scripts/check_arch_docs_gate.sh on throw-away git repositories.
#
#   bash .github/scripts/tests/test_check_arch_docs_gate.sh
#
# Prints "ok - NAME" or "not ok - NAME" per case and closes with "N passed, M failed".
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
gate="$(cd "$here/.." && pwd)/check_arch_docs_gate.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

# Hermetic git: no user or system configuration, no inherited repository or base ref.
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GITHUB_BASE_REF
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=gate-test GIT_AUTHOR_EMAIL=gate-test@example.invalid
export GIT_COMMITTER_NAME=gate-test GIT_COMMITTER_EMAIL=gate-test@example.invalid

ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() {
  failed=$((failed + 1))
  echo "not ok - $1"
  shift
  printf '    %s\n' "$@"
}

# new_repo: a repository whose main branch has the three docs (valid markers), code under
# proto/ and services/, and a README; HEAD is a new branch `feature`. Prints its path.
new_repo() {
  local repo
  repo="$(mktemp -d "$work/repo.XXXXXX")"
  (
    cd "$repo" || exit 1
    git init -q -b main
    mkdir -p docs proto services/ingestion-control gateway migrations
    for d in architecture decisions implementation-plan; do
      printf '# %s\n\nUpdated on 2026-11-01\n' "$d" >"docs/$d.md"
    done
    echo 'syntax = "proto3";' >proto/ingestion.proto
    echo 'fn main() {}' >services/ingestion-control/main.rs
    echo '# readme' >README.md
    git add -A
    git commit -q -m initial
    git checkout -q -b feature
  ) || return 1
  printf '%s\n' "$repo"
}

# commit REPO FILE CONTENT: writes FILE and commits it.
commit() {
  (cd "$1" && mkdir -p "$(dirname "$2")" && printf '%s\n' "$3" >"$2" && git add -A && git commit -q -m "change $2")
}

# touch_docs REPO DATE [DOC...]: sets the marker of the named docs (default: all three).
touch_docs() {
  local repo="$1" date="$2" d
  shift 2
  [ "$#" -gt 0 ] || set -- architecture decisions implementation-plan
  for d in "$@"; do
    printf '# %s\n\nSome new text.\n\nUpdated on %s\n' "$d" "$date" >"$repo/docs/$d.md"
  done
  (cd "$repo" && git add -A && git commit -q -m "docs $*")
}

# run_gate NAME REPO WANT_STATUS PATTERN [gate args...]: runs the gate in REPO; asserts the
# exit status and that the output contains PATTERN (a fixed string; "" for any).
run_gate() {
  local name="$1" repo="$2" want="$3" pattern="$4" out rc
  shift 4
  out="$(cd "$repo" && bash "$gate" "$@" 2>&1)"
  rc=$?
  if [ "$rc" -eq "$want" ] && { [ -z "$pattern" ] || grep -qF -- "$pattern" <<<"$out"; }; then
    ok "$name"
  else
    not_ok "$name" "expected exit $want and '$pattern', got exit $rc:" "$out"
  fi
}

# ---------------------------------------------------------------- passes

r="$(new_repo)"
commit "$r" README.md "# readme, edited"
run_gate "no change to architecture paths passes" "$r" 0 "no documentation required" main

r="$(new_repo)"
run_gate "an empty change passes" "$r" 0 "passed" main

r="$(new_repo)"
commit "$r" services/ingestion-control/main.rs 'fn main() { println!("hi"); }'
touch_docs "$r" 2026-11-29
run_gate "architecture change with all three docs and valid markers passes" "$r" 0 "arch-docs gate: passed" main

for path in proto/ingestion.proto services/sources/lib.rs gateway/src/main.rs migrations/0001_init.sql; do
  r="$(new_repo)"
  commit "$r" "$path" "changed"
  touch_docs "$r" 2026-11-29
  run_gate "a change to ${path%%/*}/ with the docs passes" "$r" 0 "arch-docs gate: passed" main
done

r="$(new_repo)"
commit "$r" proto/ingestion.proto 'syntax = "proto3"; // v2'
touch_docs "$r" 2028-02-29
run_gate "leap day 2028-02-29 is a valid date" "$r" 0 "passed" main

r="$(new_repo)"
commit "$r" proto/ingestion.proto 'syntax = "proto3"; // v2'
(cd "$r" && for d in architecture decisions implementation-plan; do printf '# x\n\n_Updated on 2026-11-29_\n' >"docs/$d.md"; done && git add -A && git commit -q -m docs)
run_gate "a marker in Markdown emphasis is read" "$r" 0 "passed" main

r="$(new_repo)"
commit "$r" gateway/src/lib.rs "// gateway"
touch_docs "$r" 2026-11-29
GITHUB_BASE_REF=main run_gate "GITHUB_BASE_REF=main is used when no argument is given" "$r" 0 "checking main...HEAD"

# Without argument or GITHUB_BASE_REF the base is origin/main: a clone has it.
r="$(new_repo)"
clone="$(mktemp -d "$work/clone.XXXXXX")"
git clone -q --branch main "$r" "$clone/repo"
commit "$clone/repo" services/ingestion-control/main.rs "fn main() {}  // edited"
touch_docs "$clone/repo" 2026-11-29
run_gate "the default base is origin/main" "$clone/repo" 0 "checking origin/main...HEAD"
# As in a GitHub Actions checkout of a pull request: no local branch of the base, only origin/<base>.
(cd "$clone/repo" && git checkout -q -b pr && git branch -q -D main)
GITHUB_BASE_REF=main run_gate "GITHUB_BASE_REF=main resolves to origin/main when there is no local main" \
  "$clone/repo" 0 "checking origin/main...HEAD"

# Commits on the base branch after the fork point are not part of the change (base...HEAD).
r="$(new_repo)"
(cd "$r" && git checkout -q main && mkdir -p services/x && echo change >services/x/lib.rs && git add -A && git commit -q -m "on main" && git checkout -q feature)
commit "$r" README.md "# readme, edited on feature"
run_gate "changes on the base branch after the fork point do not count" "$r" 0 "no documentation required" main

# ---------------------------------------------------------------- fails

r="$(new_repo)"
commit "$r" services/ingestion-control/main.rs 'fn main() { todo!() }'
touch_docs "$r" 2026-11-29 architecture implementation-plan
run_gate "architecture change missing docs/decisions.md fails and names it" "$r" 1 "FAIL: docs/decisions.md was not updated" main

r="$(new_repo)"
commit "$r" migrations/0002_more.sql "alter table x add column y int;"
run_gate "architecture change without any doc fails" "$r" 1 "FAIL: docs/implementation-plan.md was not updated" main

r="$(new_repo)"
commit "$r" proto/ingestion.proto 'syntax = "proto3"; // v3'
touch_docs "$r" 2026-11-29
touch_docs "$r" 2026-02-30 architecture
run_gate "invalid date 2026-02-30 fails" "$r" 1 "docs/architecture.md: 'Updated on 2026-02-30' is not a valid date" main

for bad in 2027-02-29 2026-13-01 2026-04-31 2026-00-10 2026-11-00 2026-1-5 26-11-29 yesterday; do
  r="$(new_repo)"
  commit "$r" gateway/src/main.rs "fn main() {}"
  touch_docs "$r" 2026-11-29
  touch_docs "$r" "$bad" decisions
  run_gate "invalid date '$bad' fails" "$r" 1 "docs/decisions.md: 'Updated on $bad' is not a valid date" main
done

r="$(new_repo)"
commit "$r" services/ingestion-control/main.rs 'fn main() { }'
touch_docs "$r" 2026-11-29
(cd "$r" && printf '# plan\n\nNo marker here.\n' >docs/implementation-plan.md && git add -A && git commit -q -m "drop marker")
run_gate "missing marker fails" "$r" 1 "FAIL: docs/implementation-plan.md has no 'Updated on YYYY-MM-DD' marker" main

r="$(new_repo)"
commit "$r" README.md "# readme, edited"
touch_docs "$r" 2026-02-30 decisions
run_gate "a touched doc with an invalid date fails even without architecture changes" "$r" 1 "'Updated on 2026-02-30' is not a valid date" main

r="$(new_repo)"
(cd "$r" && git mv services/ingestion-control/main.rs main.rs && git commit -q -m "move out of services")
run_gate "moving a file out of services/ counts as an architecture change" "$r" 1 "docs/architecture.md was not updated" main

r="$(new_repo)"
run_gate "an unknown base ref is an error (exit 2) with a hint" "$r" 2 "base ref 'no-such-branch' not found" no-such-branch

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
