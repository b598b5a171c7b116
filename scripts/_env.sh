# Shared set-up for scripts/*: a project virtualenv with the given extras installed.
# Re-installs only when pyproject.toml (or the extras asked for) changed.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SEGUE_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"

ensure_venv() {
  local extras="$1"
  if [ ! -x "$PY" ]; then
    echo "segue: creating virtualenv $VENV" >&2
    python3 -m venv "$VENV"
  fi
  local want stamp="$VENV/.segue-installed-$extras"
  want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "segue: installing the project with extras [$extras] (first run takes a few minutes)" >&2
    "$PY" -m pip install -q --upgrade pip >&2
    # torch first and pinned: an unpinned torch pulls several GB of CUDA wheels.
    "$PY" -m pip install -q "torch==2.13.0" >&2
    "$PY" -m pip install -q -e "$ROOT[$extras]" >&2
    # CUDA builds of these break imports on CPU machines and nothing here needs them.
    "$PY" -m pip uninstall -q -y torchvision torchaudio torchcodec triton >/dev/null 2>&1 || true
    echo "$want" > "$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
  export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
}
