#!/usr/bin/env bash
# Create or update benchmarks/.venv with the pinned benchmark packages.
#
#   bash benchmarks/setup_venv.sh          # --all: the turbopuffer client, numpy, matplotlib + every peer
#   bash benchmarks/setup_venv.sh --core   # only the client, numpy, matplotlib (enough for run.py --quick)
#
# Pins: requirements-core.txt, requirements-peers.txt, and constraints.txt (every transitive
# package). Idempotent: a stamp in the venv skips pip when nothing changed.
# Environment: PYTHON (interpreter, default python3), LAGOON_BENCH_VENV (venv folder).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${LAGOON_BENCH_VENV:-$here/.venv}"
python="${PYTHON:-python3}"
profile=all
for a in "$@"; do
  case "$a" in
    --core) profile=core ;;
    --all) profile=all ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "setup_venv.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

stamp() { cat "$@" "$here/constraints.txt" | sha256sum | cut -c1-16; }
core_stamp="$(stamp "$here/requirements-core.txt")"
all_stamp="$(stamp "$here/requirements-core.txt" "$here/requirements-peers.txt")"
have_all="$(cat "$venv/.lagoon-bench-all" 2>/dev/null || true)"
have_core="$(cat "$venv/.lagoon-bench-core" 2>/dev/null || true)"
if [ "$have_all" = "$all_stamp" ] || { [ "$profile" = core ] && [ "$have_core" = "$core_stamp" ]; }; then
  echo "[venv] $venv is up to date ($profile)"
  exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "[venv] creating $venv with $("$python" --version 2>&1)"
  "$python" -m venv "$venv"
fi
reqs=(-r "$here/requirements-core.txt")
[ "$profile" = all ] && reqs+=(-r "$here/requirements-peers.txt")
echo "[venv] installing the $profile packages (pinned; the peers take a minute or two the first time) ..."
"$venv/bin/python" -m pip install --progress-bar off --disable-pip-version-check -c "$here/constraints.txt" "${reqs[@]}"

mods="turbopuffer numpy matplotlib"
[ "$profile" = all ] && mods="$mods faiss lancedb pyarrow tantivy bm25s Stemmer"
"$venv/bin/python" - $mods <<'PY'
import importlib, sys
for m in sys.argv[1:]:
    importlib.import_module(m)
print("[venv] imports ok:", " ".join(sys.argv[1:]))
PY
"$venv/bin/python" -m pip freeze --disable-pip-version-check > "$venv/.lagoon-bench-freeze.txt"
if [ "$profile" = all ]; then echo "$all_stamp" > "$venv/.lagoon-bench-all"; fi
echo "$core_stamp" > "$venv/.lagoon-bench-core"
echo "[venv] ready: $venv ($profile)"
