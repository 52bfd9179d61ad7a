#!/usr/bin/env bash
# Build the extension with AddressSanitizer + UndefinedBehaviorSanitizer
# (-DRESODE_SANITIZE=ON) in its own virtual environment and run the test suite
# under it. The sanitizer runtimes must be loaded before Python, hence LD_PRELOAD.
# Usage: bash scripts/sanitize.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${SANITIZE_VENV:-.venv-sanitize}
python3 -m venv "$venv"
# shellcheck disable=SC1091
source "$venv/bin/activate"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet ".[test]" -Ccmake.define.RESODE_SANITIZE=ON \
  -Ccmake.define.RESODE_ISA_LEVELS="${RESODE_SANITIZE_ISA:-x86-64-v2}" \
  -Ccmake.build-type=Debug -Cbuild-dir=build/sanitize

asan=$(g++ -print-file-name=libasan.so)
ubsan=$(g++ -print-file-name=libubsan.so)
# Python itself leaks by design at exit: leak checking would only report that.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# OpenMP threads under ASan need a bigger stack than the default
export OMP_STACKSIZE=16M
LD_PRELOAD="$asan $ubsan" python -m pytest -x -q -p no:cacheprovider "$@"
echo "sanitizer run: clean"
