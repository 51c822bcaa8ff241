#!/usr/bin/env bash
# The style check of a change: the lines it changes must be laid out as
# .clang-format says (git clang-format judges only those lines, so older code
# is never reformatted in bulk), and its changed .cpp files in the library and
# the tools must pass .clang-tidy's checks (any finding fails).
#
#   scripts/check-style.sh [BASE]
#
# The change is what differs between the merge-base of BASE (default HEAD~1,
# the last commit) and HEAD, and the work tree; a new file counts once it is
# added (git add). clang-tidy reads build/release/compile_commands.json
# (cmake --preset release writes it). Exits 1 on a finding, 2 when it cannot
# check.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
base_ref=${1:-HEAD~1}
build=build/release
folders='base|bus|daemon|state|clock|recorder|testing|bridge|apps|python'  # clang-tidy's: the library and the tools
tidy_jobs=2
tidy_timeout=120  # seconds per file; a typical file takes 5 to 20
started=$SECONDS

say() { echo "check-style: $*"; }
for tool in git-clang-format clang-format clang-tidy; do
  if ! command -v "$tool" >/dev/null; then
    say "$tool is missing: install Debian's clang-format and clang-tidy (scripts/setup-debian.sh does)"
    exit 2
  fi
done

if ! base=$(git merge-base "$base_ref" HEAD 2>/dev/null); then
  if [[ "$(git rev-parse --is-shallow-repository)" == true ]]; then
    say "cannot find $base_ref in this shallow clone: fetch more history (git fetch --unshallow) or name a base"
    exit 2
  elif [[ "$base_ref" == HEAD~1 ]] && ! git rev-parse -q --verify HEAD~1 >/dev/null; then
    base=$(git hash-object -t tree /dev/null)  # the first commit: all of it is the change
  else
    say "no merge-base of '$base_ref' and HEAD: name a commit or branch this one grew from"
    exit 2
  fi
fi

# A merge's conflict markers left in any changed file (code, docs, scripts).
if markers=$(git diff -U0 --diff-filter=ACMR "$base" | grep -nE '^\+(<<<<<<<|>>>>>>>) ' ); then
  echo "$markers"
  say "the change adds merge conflict markers (above): resolve them, then commit"
  exit 1
fi

mapfile -t changed < <(git diff --name-only --diff-filter=ACMR "$base" -- '*.cpp' '*.hpp' '*.h')
if ((${#changed[@]} == 0)); then
  say "no C++ file changed since $base_ref"
  exit 0
fi
say "${#changed[@]} C++ files changed since $base_ref"
failed=0

# Layout of the changed lines. git-clang-format 14 exits 0 even when it
# would change something, so its diff is what tells.
format_diff=$(git clang-format --diff "$base" -- "${changed[@]}")
if grep -q '^diff --git' <<<"$format_diff"; then
  echo "$format_diff"
  say "the changed lines above are not laid out as .clang-format says."
  say "  fix: git clang-format $base_ref   (rewrites just those lines in the work tree; then commit, or --amend)"
  failed=1
fi

# clang-tidy on the changed .cpp files of the library and the tools, two at a time.
tidy_files=()
for file in "${changed[@]}"; do
  [[ "$file" =~ ^($folders)/.*\.cpp$ ]] || continue
  if [[ ! -f "$build/compile_commands.json" ]]; then
    say "$build/compile_commands.json is missing: run cmake --preset release first"
    exit 2
  fi
  if grep -qF "\"file\": \"$root/$file\"" "$build/compile_commands.json"; then
    tidy_files+=("$file")
  else
    say "$file is not in $build/compile_commands.json (not built by this configuration): clang-tidy skips it"
  fi
done
if ((${#tidy_files[@]})); then
  logs=$(mktemp -d)
  trap 'rm -rf "$logs"' EXIT
  tidy_one() {
    local status=0
    timeout "$tidy_timeout" clang-tidy -p "$build" --quiet --use-color=false \
      --header-filter="^$root/($folders)/" \
      --warnings-as-errors='bugprone-*,concurrency-*,modernize-*,performance-*,readability-*' \
      "$1" >"$2" 2>&1 || status=$?
    echo "$status" >"$2.status"
  }
  for i in "${!tidy_files[@]}"; do
    while (($(jobs -rp | wc -l) >= tidy_jobs)); do wait -n || true; done
    tidy_one "${tidy_files[$i]}" "$logs/$i" &
  done
  wait
  tidy_failed=0
  for i in "${!tidy_files[@]}"; do
    status=$(cat "$logs/$i.status")
    if [[ "$status" == 124 ]]; then
      say "clang-tidy took over ${tidy_timeout} s on ${tidy_files[$i]} and was stopped: that file is not checked"
    elif [[ "$status" != 0 ]]; then
      grep -vE '^[0-9]+ (warning|error)s? (and [0-9]+ (warning|error)s? )?(generated|treated as errors?)\.$' \
        "$logs/$i" || true
      tidy_failed=1
    fi
  done
  if ((tidy_failed)); then
    say "clang-tidy's findings above: fix them (.clang-tidy says why each check is on); where one is wrong, say why"
    say "  on the line and silence just that check there: // NOLINT(check-name)"
    failed=1
  fi
fi

result=$([[ $failed == 0 ]] && echo passed || echo failed)
say "$result in $((SECONDS - started)) s (clang-format on ${#changed[@]} files, clang-tidy on ${#tidy_files[@]})"
exit "$failed"
