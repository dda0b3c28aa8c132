#!/usr/bin/env bash
# Validates deploy/ offline: renders the Kubernetes overlays and checks every object against
# the Kubernetes schemas (strict) and the KEDA schemas in deploy/schemas/, cross-checks the
# manifests against the design contract, and checks compose.yaml and the Dockerfile.
#
#   deploy/validate.sh [--tree DIR] [--renderer auto|kustomize|kubectl|python]
#                      [--k8s-versions 1.30,1.37] [--no-lint]
#
# The first run creates the Python environment (.venv at the repository root, or
# $DEPLOY_VENV) from deploy/requirements.txt; that is the only step that needs the network
# (PyPI). Later runs reuse it until requirements.txt changes, and need no network at all.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="${DEPLOY_VENV:-$root/.venv}"
requirements="$here/requirements.txt"
stamp="$venv/.deploy-requirements.sha256"

ensure_venv() {
  local want python
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  python="${PYTHON:-python3}"
  if ! command -v "$python" >/dev/null 2>&1; then
    echo "validate.sh: $python not found; install Python 3.9 or newer (apt-get install python3 python3-venv)" >&2
    exit 2
  fi
  if [ ! -x "$venv/bin/python" ]; then
    echo "validate.sh: creating $venv" >&2
    if ! "$python" -m venv "$venv" >/dev/null 2>&1; then
      # Debian's python3 ships venv separately.
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "validate.sh: python3 -m venv failed; installing python3-venv" >&2
        apt-get install -y -qq python3-venv >/dev/null
        "$python" -m venv --clear "$venv"
      else
        echo "validate.sh: '$python -m venv' failed: install python3-venv" >&2
        exit 2
      fi
    fi
  fi
  echo "validate.sh: installing deploy/requirements.txt into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  printf '%s\n' "$want" >"$stamp"
}

if command -v flock >/dev/null 2>&1; then
  mkdir -p "$venv"
  exec 9>"$venv/.deploy.lock"
  flock 9
  ensure_venv
  flock -u 9
else
  ensure_venv
fi

exec "$venv/bin/python" "$here/tools/validate.py" "$@"
