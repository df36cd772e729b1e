#!/usr/bin/env bash
# Run Flask's and Starlette's OWN test suites twice, bare and with every app wrapped by perfkit
# (perfkit_wrap_plugin.py), and print the tests whose outcome differs (issue 15).
# NOT run in CI: it downloads two sdists and runs ~1900 tests twice (a few minutes on 2 cores).
# Result and the cause of each difference: docs/frameworks-own-suites.md.
#
#   bash tests/frameworks/own_suites/run.sh [workdir]     (default workdir: /tmp/perfkit-own-suites)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
work=${1:-/tmp/perfkit-own-suites}
mkdir -p "$work"
cd "$work"

# the suites' test-only dependencies go into a venv on top of ours, so the shared environment
# is untouched (httpx2 installed globally would change which client starlette.testclient uses)
if [ ! -x venv/bin/python ]; then
    python -m venv --system-site-packages venv
    venv/bin/pip install -q httpx2 blockbuster python-multipart itsdangerous jinja2 pyyaml
fi
py="$work/venv/bin/python"
export PYTHONPATH="$repo:$here"

status=0
for framework in flask starlette; do
    version=$("$py" -c "import importlib.metadata as m; print(m.version('$framework'))")
    src="$work/$framework-$version"
    if [ ! -d "$src" ]; then
        "$py" -m pip download -q --no-deps --no-binary :all: "$framework==$version" -d "$work"
        tar xzf "$framework-$version.tar.gz"
        # starlette's sdist has its package at the top: move it aside so the INSTALLED copy
        # (the one the plugin wraps) is what the tests import
        if [ -d "$src/starlette" ]; then mv "$src/starlette" "$src/_sdist_starlette"; fi
    fi
    (cd "$src" && "$py" -m pytest -q -p no:cacheprovider tests \
        --junitxml="$work/$framework-bare.xml" >"$work/$framework-bare.log" 2>&1) || true
    (cd "$src" && "$py" -m pytest -q -p no:cacheprovider -p perfkit_wrap_plugin tests \
        --junitxml="$work/$framework-wrapped.xml" >"$work/$framework-wrapped.log" 2>&1) || true
    echo "== $framework $version"
    grep -h "apps wrapped" "$work/$framework-wrapped.log" || true
    "$py" "$here/compare.py" "$work/$framework-bare.xml" "$work/$framework-wrapped.xml" || status=1
done
exit $status
