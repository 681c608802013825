#!/usr/bin/env bash
# buf lint, format and breaking (FILE) on protos/; breaking compares with the previous commit.
set -euo pipefail
cd "$(dirname "$0")/.."
BUF=node_modules/.bin/buf

$BUF lint
$BUF format --diff --exit-code
if git rev-parse -q --verify 'HEAD~1' >/dev/null; then
  against='.git#ref=HEAD~1'
else
  # A shallow clone or the first commit: compare with HEAD, which still checks uncommitted changes.
  echo "buf breaking: no previous commit here; comparing with HEAD" >&2
  against='.git#ref=HEAD'
fi
$BUF breaking --against "$against"
echo "buf: lint, format and breaking (against ${against#.git#ref=}) pass"
