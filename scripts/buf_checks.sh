#!/usr/bin/env bash
# buf lint and format on the workspace (buf.yaml: protos/ STANDARD+COMMENTS, the vendored google/rpc
# MINIMAL), and breaking (FILE) on protos/ against the previous commit.
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
# Prizm's module only: third_party/googleapis is upstream's API, and a commit without that module
# would otherwise not compare at all (a different number of modules).
$BUF breaking protos --against "${against},subdir=protos"
echo "buf: lint, format and breaking of protos/ (against ${against#.git#ref=}) pass"
