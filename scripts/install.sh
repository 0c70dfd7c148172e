#!/usr/bin/env bash
# Install crashhub with everything it needs on Debian 12 (as root): Debian
# packages from .ci/apt-packages.txt, then a virtualenv at .venv with the
# package and all its extras.  Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if [ "${CRASHHUB_SKIP_APT:-0}" != 1 ]; then
    apt-get update -qq
    # shellcheck disable=SC2046
    apt-get install -y -qq --no-install-recommends $(grep -v '^\s*#' .ci/apt-packages.txt | grep -v '^\s*$') >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e '.[all]'
echo "installed: $(.venv/bin/crashhub --version)"
