#!/usr/bin/env bash
# The README's demo: Docker's data-management walkthrough, on busybox, with Orlop.
# Sets everything up, then runs each step in a private engine root and prints what it does.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
PY=${PYTHON:-python3}
DEMO=$(mktemp -d /tmp/orlop-demo.XXXXXX)
ROOT="$DEMO/root"
cleanup() {
  # Unmount anything a failed step could have left (normally nothing), then remove the demo.
  grep -o " $DEMO[^ ]*" /proc/self/mountinfo 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$DEMO"
}
trap cleanup EXIT
cd "$DEMO"
orlop() { "$PY" -m orlop --root "$ROOT" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() {  # print the command as one would type it, then run it
  local line='$ orlop' a
  for a in "$@"; do
    if [[ $a =~ [[:space:]\;\&\|\<\>\$\'\"] ]]; then line+=" '${a//\'/\'\\\'\'}'"; else line+=" $a"; fi
  done
  printf '%s\n' "$line"; orlop "$@"
}

step "1. Import a busybox image (built from Debian's busybox-static)"
show import "$OLDPWD/.cache/busybox.tar" busybox:latest
show images

step "2. A container is isolated: its own hostname, its own PID 1, its own mount table"
show run --rm --hostname demo busybox sh -c 'echo "hostname: $(hostname)"; echo "my pid: $$"; ps; echo "mounts:"; cut -d" " -f5 /proc/self/mountinfo | head -8'
echo "host mount table entries for the demo root: $(grep -c "$DEMO" /proc/self/mountinfo || true)"

step "3. A bind-mounted web root, read and written from both sides"
mkdir -p webroot && echo '<h1>hello from the host</h1>' > webroot/index.html
show run --rm -v "$DEMO/webroot:/var/www" busybox sh -c 'httpd -p 127.0.0.1:8080 -h /var/www && sleep 0.3 && wget -qO- http://127.0.0.1:8080/index.html && echo "<p>written by the container</p>" >> /var/www/index.html'
echo "host sees: $(cat webroot/index.html | tr '\n' ' ')"
show run --rm -v "$DEMO/webroot:/var/www:ro" busybox sh -c 'touch /var/www/x 2>&1 || true'
# The seed's web server: the host directory served from a container on a published port,
# checked from the host over HTTP (a free loopback port; the container is on the bridge).
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
show run -d --name web -p "127.0.0.1:$PORT:80" -v "$DEMO/webroot:/var/www/html:ro" busybox httpd -f -h /var/www/html
show port web
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$PORT/index.html" >/dev/null 2>&1 && break; sleep 0.1; done
echo "\$ curl http://127.0.0.1:$PORT/index.html"; curl -fsS "http://127.0.0.1:$PORT/index.html"
show rm -f web

step "4. A data-volume container and two consumers sharing its volume"
show create -v /dbdata --name dbdata busybox true
show run --rm --volumes-from dbdata --name writer busybox sh -c 'echo "record 1 from writer" > /dbdata/db.txt; mkdir -p /dbdata/sub; echo nested > /dbdata/sub/n.txt; ln -s db.txt /dbdata/link; chown 1000:1000 /dbdata/db.txt'
show run --rm --volumes-from dbdata --name reader busybox sh -c 'cat /dbdata/db.txt; echo "record 2 from reader" >> /dbdata/db.txt'
show run --rm --volumes-from dbdata:ro busybox sh -c 'cat /dbdata/db.txt; echo x > /dbdata/nope 2>&1 || echo "(read-only, as asked)"'
show inspect -f '{{json .Mounts}}' dbdata
show volume ls

step "5. Back up the volume to the host with a worker container"
mkdir -p backup
show run --rm --volumes-from dbdata -v "$DEMO/backup:/backup" busybox tar cvf /backup/backup.tar /dbdata
echo "on the host:"; tar tvf backup/backup.tar

step "6. Restore it into a new container's volume"
show create -v /dbdata --name dbdata2 busybox /bin/sh
show run --rm --volumes-from dbdata2 -v "$DEMO/backup:/backup" busybox sh -c 'cd /dbdata && tar xvf /backup/backup.tar --strip 1'
show run --rm --volumes-from dbdata2 busybox sh -c 'ls -ln /dbdata; cat /dbdata/db.txt'

step "7. Volumes outlive containers: rm keeps them, rm -v removes the anonymous ones"
show rm dbdata2
show volume ls
show rm -v dbdata
show volume ls
echo; echo "demo finished: every step ran in real containers under $ROOT"
