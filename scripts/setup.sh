#!/usr/bin/env bash
# Installs everything Orlop and its tests need on a fresh Debian 12 machine (run as root):
# system packages from Debian, then Orlop itself (editable) with its dev tools from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v busybox >/dev/null 2>&1 && busybox --list >/dev/null 2>&1 || need_apt+=(busybox-static)
command -v crun >/dev/null 2>&1 || need_apt+=(crun)
command -v mkfs.ext4 >/dev/null 2>&1 || need_apt+=(e2fsprogs)
command -v losetup >/dev/null 2>&1 || need_apt+=(mount)
command -v tar >/dev/null 2>&1 || need_apt+=(tar)
# rclone serve docker: a real Docker volume plugin for tests/integration/test_volume_plugins.py
command -v rclone >/dev/null 2>&1 || need_apt+=(rclone)
command -v fusermount3 >/dev/null 2>&1 || need_apt+=(fuse3)
# --init runs Debian's static tini as the container's PID 1.
[ -x /usr/bin/tini-static ] || need_apt+=(tini)
# The compat tests drive orlopd with real Docker clients: Debian's docker-compose (1.29)
# and the docker CLI (Debian 12 ships it in docker.io; no daemon is started here).
command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)
command -v docker >/dev/null 2>&1 || need_apt+=(docker.io)
# tests/compat/test_registry_dockerd.py and bench/pull.py, bench/api.py start a private
# dockerd (Debian's docker.io: dockerd 20.10, containerd, runc) on temporary roots; the
# package's postinst does not start the system service where policy-rc.d forbids it, and
# the tests never use it.
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
# Seccomp filters are built by libseccomp (through the pyseccomp binding, from PyPI).
ldconfig -p 2>/dev/null | grep -q 'libseccomp\.so\.2 ' || need_apt+=(libseccomp2)
# volume export's CRC-32 (src/orlop/archive/crc32.py): libdeflate's, 5x zlib's; without
# it zlib computes the same values, slower.
ldconfig -p 2>/dev/null | grep -q 'libdeflate\.so\.0 ' || need_apt+=(libdeflate0)
# tests/integration/test_seccomp.py builds a tiny static syscall prober (glibc's libc.a).
{ command -v gcc >/dev/null 2>&1 && ls /usr/lib/*-linux-gnu/libc.a >/dev/null 2>&1; } \
  || need_apt+=(gcc libc6-dev)
# Bridge networks (docs/networking.md): Podman's netavark sets up interfaces, firewall
# rules and port forwarding, aardvark-dns resolves container names; netavark drives
# iptables.
[ -x /usr/lib/podman/netavark ] || need_apt+=(netavark)
[ -x /usr/lib/podman/aardvark-dns ] || need_apt+=(aardvark-dns)
command -v iptables >/dev/null 2>&1 || need_apt+=(iptables)
# The demo checks the published web server from the host with curl.
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# tests/compat/test_tls.py makes its CA and certificates with the openssl CLI.
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# tests/integration/test_registry.py runs Debian's registry (distribution 2.8) itself
# (`docker-registry serve`, never the system service) and makes bcrypt htpasswd files;
# bench/pull.py compares with skopeo.
command -v docker-registry >/dev/null 2>&1 || need_apt+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || need_apt+=(apache2-utils)
command -v skopeo >/dev/null 2>&1 || need_apt+=(skopeo)
# tests/compat/test_registry_podman.py: Podman pulls what Orlop pushed and the other way
# (private roots, its own mount namespace; no container is run with it).
command -v podman >/dev/null 2>&1 || need_apt+=(podman)
# tests/compat/test_dashboard_browser.py drives the dashboard in Debian's Chromium,
# headless, through chromedriver (Selenium, from PyPI).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if ! "$PY" -c 'import orlop, pytest, pytest_timeout, mypy, ruff, importlinter, aiohttp, docker, zstandard, pyseccomp, trustme, jwt, pyroute2, oras, dockerfile, selenium' \
     >/dev/null 2>&1 \
   || ! "$PY" -c 'import docker, paramiko, sys; sys.exit(docker.__version__ != "7.2.0")' \
     >/dev/null 2>&1 \
   || ! "$PY" -m pip show orlop >/dev/null 2>&1; then
  echo "setup: installing orlop and its dev tools with pip"
  "$PY" -m pip install -q --disable-pip-version-check -e '.[dev]'
fi
# Byte-compile once: PYTHONDONTWRITEBYTECODE may be set, and every CLI start would then
# compile Orlop's modules again (~40 ms).
"$PY" -m compileall -q src >/dev/null
# ... and into one file, with the standard library's modules Orlop uses: each module then
# costs a read and an unmarshal instead of the path finder's search and file calls (~5 ms
# of a `run`; src/orlop/modcache.py says when an entry is not used).  A cache only: should
# it not be written, modules are imported as before.
PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m orlop.modcachebuild >/dev/null \
  || echo "setup: no module cache written (imports go through the path finder)" >&2
# The `orlop` command: pip's console script is replaced by a launcher whose interpreter
# runs with -S, so that no .pth file's code in site-packages runs before each command
# (src/orlop/launcher.py says why, docs/performance.md what it saves); written only when
# it differs.  `python -m orlop` is unchanged; should the launcher not be written, pip's
# console script stays, which works as before.
PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m orlop.launcher \
  || echo "setup: kept pip's orlop command (the launcher was not written)" >&2
# The busybox image every test and the demo use, built from Debian's busybox-static.
bash scripts/build-busybox.sh .cache/busybox.tar >/dev/null
echo "setup: done"
