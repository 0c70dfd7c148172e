#!/usr/bin/env bash
# Install crashhub with everything it needs on Debian 12 (as root): Debian
# packages from .ci/apt-packages.txt, then a virtualenv at .venv with the
# package and all its extras.  Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if [ "${CRASHHUB_SKIP_APT:-0}" != 1 ]; then
    # postgresql, redis-server and rabbitmq-server start a system service when installed.  crashhub
    # needs none of them (its embedded default is SQLite; the tests start their own servers on
    # loopback ports), and rabbitmq-server's install fails outright when its node cannot start (a
    # host name that does not resolve): so no service starts during this install.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get update -qq
    # shellcheck disable=SC2046
    apt-get install -y -qq --no-install-recommends $(grep -v '^\s*#' .ci/apt-packages.txt | grep -v '^\s*$') >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e '.[all]'
echo "installed: $(.venv/bin/crashhub --version)"
