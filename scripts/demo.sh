#!/usr/bin/env bash
# `make demo`: the main job on the bundled examples. Exit 1 from `bcm check` means "findings",
# which is what a demo of a checker shows; anything else is a failure of the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bcm=.venv/bin/bcm
ex=examples/jp

expect_findings() { local rc=0; "$@" || rc=$?; [ "$rc" -le 1 ] || exit "$rc"; }

echo "== 1. The documents: real Japanese policy changes, validated against the spec"
$bcm validate $ex/*.json $ex/proposals/*.json | tail -n 1
echo
echo "== 2. The rule pack: the Balanced Coexistence Model (rules/)"
$bcm lint rules
echo
echo "== 3. Three proposals checked against the rules and the history of enacted changes"
expect_findings $bcm check $ex/proposals/*.json --history $ex/history.jsonl
echo
echo "== 4. The same conflict, reported in Japanese (--lang ja)"
expect_findings $bcm check $ex/proposals/demo-conflict.json --history $ex/history.jsonl --lang ja
echo
echo "== 5. Thirty years of real changes, each checked against the history before it"
expect_findings $bcm check $ex/[0-9]*.json --history $ex/history.jsonl --summary
echo
echo "== 6. The history in a store: examples/jp imported into a fresh one, a trajectory charted"
store=$(mktemp -d)
trap 'rm -rf "$store"' EXIT
$bcm history import $ex/history.jsonl --db "$store/bcm.db"
mkdir -p out
$bcm trajectory --jurisdiction JP --area border_control --target all_migrants \
  --db "$store/bcm.db" --lang ja --chart out/trajectory-jp-border_control-all_migrants.png
