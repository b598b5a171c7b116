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

# The Prometheus server and promtool (Debian package `prometheus`) for the observability
# tests: installed when missing and apt-get is usable; otherwise those tests skip and say why.
ensure_prometheus() {
  command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo -n"
  if command -v apt-get >/dev/null 2>&1; then
    echo "segue: installing prometheus + promtool (apt-get install prometheus)" >&2
    if $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >&2; then
      return 0
    fi
  fi
  echo "segue: could not install prometheus; the Prometheus/promtool tests will be skipped" >&2
}

# A PostgreSQL server (initdb/pg_ctl) for the store tests: the tier starts its own on loopback.
# Debian's `postgresql` package when no server binaries are found.
ensure_postgres() {
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && return 0
  command -v initdb >/dev/null 2>&1 && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo -n"
  if command -v apt-get >/dev/null 2>&1; then
    echo "segue: installing the PostgreSQL server (apt-get install postgresql)" >&2
    if $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql >&2; then
      return 0
    fi
  fi
  echo "segue: could not install PostgreSQL; the store tests on PostgreSQL will fail (SEGUE_REQUIRE_POSTGRES=1)" >&2
}

# Debian's Chromium for the browser tier (tests/browser drives it with Playwright's
# executable_path; Playwright's own browser download is never used). Installed when missing
# and apt-get is usable; otherwise the tier fails under SEGUE_REQUIRE_BROWSER and says why.
ensure_chromium() {
  [ -x "${SEGUE_CHROMIUM:-/usr/bin/chromium}" ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo -n"
  if command -v apt-get >/dev/null 2>&1; then
    echo "segue: installing chromium for the browser tests (apt-get install chromium)" >&2
    if $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2; then
      return 0
    fi
  fi
  echo "segue: could not install chromium; tests/browser cannot run" >&2
}
