#!/usr/bin/env bash
# Throwaway PostgreSQL for tests: `pg.sh start DIR` initialises a cluster in DIR (as the postgres user
# when run as root), starts it on a free 127.0.0.1 port with a random password and prints its admin URL;
# `pg.sh stop DIR` stops it. Nothing outside DIR is touched.
set -euo pipefail

cmd=${1:?usage: pg.sh start|stop DIR}
dir=${2:?usage: pg.sh start|stop DIR}

bindir() {
  local b
  b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$b" ] && [ -x "$b/initdb" ] || { echo "pg.sh: PostgreSQL server binaries not found" >&2; return 1; }
  echo "$b"
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$(( 20000 + RANDOM % 30000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "pg.sh: no free port found" >&2; return 1
}

case "$cmd" in
start)
  bin=$(bindir)
  mkdir -p "$dir"
  # The postgres user must traverse the parent; only add search permission (a+x), never take any
  # away: with a parent such as /tmp, a plain chmod 755 would drop its sticky, world-writable mode.
  chmod a+x "$(dirname "$dir")"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  chmod 700 "$dir"
  pw=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
  printf '%s\n' "$pw" > "$dir/pw"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir/pw"
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=scram-sha-256 --pwfile="$dir/pw" -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$dir/pw"
  port=$(free_port)
  # fsync off: the cluster lives for one test run; durability is tested on SQLite and by the app's own logic.
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  echo "postgres://postgres:$pw@127.0.0.1:$port/postgres?sslmode=disable"
  ;;
stop)
  bin=$(bindir)
  [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  ;;
*) echo "usage: pg.sh start|stop DIR" >&2; exit 2 ;;
esac
