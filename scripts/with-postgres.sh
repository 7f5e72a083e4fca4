#!/usr/bin/env bash
# Runs a command against a throw-away PostgreSQL cluster: initdb in a temp dir, a free loopback
# port, DATABASE_URL exported for the command, and the server stopped by its pid afterwards.
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "PostgreSQL server binaries not found; run \`make system-deps\` (needs root) first." >&2
  exit 1
fi

workdir=$(mktemp -d -t bastion-pg.XXXXXX)
pgdata="$workdir/data"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# initdb and postgres refuse to run as root; use the postgres system user the package created.
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres "$workdir"
  as_pg=(runuser -u postgres --)
fi

pid=""
stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid"   # fast shutdown: roll back open transactions and exit
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$workdir"
}
trap stop EXIT

"${as_pg[@]}" "$bindir/initdb" -D "$pgdata" -U bastion --auth=trust --no-sync -E UTF8 >"$workdir/initdb.log" 2>&1 \
  || { cat "$workdir/initdb.log" >&2; exit 1; }
# fsync off: this cluster holds only test data and is deleted afterwards.
"${as_pg[@]}" "$bindir/pg_ctl" -D "$pgdata" -l "$workdir/server.log" -w -t 60 start \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $workdir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  >/dev/null || { cat "$workdir/server.log" >&2; exit 1; }
pid=$(head -n 1 "$pgdata/postmaster.pid")
"$bindir/createdb" -h 127.0.0.1 -p "$port" -U bastion bastion

export DATABASE_URL="postgres://bastion@127.0.0.1:$port/bastion"
echo "PostgreSQL $(basename "$(dirname "$bindir")") on 127.0.0.1:$port (pid $pid)"
"$@"
