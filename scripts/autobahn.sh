#!/usr/bin/env bash
#
# Autobahn|Testsuite against ws-native: the server (scripts/autobahn-echo-server.js
# under `wstest -m fuzzingclient`), then the client (the suite's client driver
# with WS_MODULE=. under `wstest -m fuzzingserver`).
#
#   npm run test:autobahn                 # every case, server and client
#   npm run test:autobahn -- quick        # groups 1-10 + 12.x/13.x numbered 1-6
#   npm run test:autobahn -- '9.*' '6.4.*'
#
# Needs the suite, built once by `bash ../shared/autobahn/setup.sh` (about
# 30 s). Each side prints its table and `N passed, M failed`; the exit status
# is 0 only when neither side failed a case.
#
# Environment: AUTOBAHN_DIR (default ../shared/autobahn), AUTOBAHN_SIDES
# (`server client` by default), and the suite's own variables
# (AUTOBAHN_TIMEOUT, AUTOBAHN_EXCLUDE, AUTOBAHN_CLIENT_DEFLATE, ...).
#
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
autobahn="${AUTOBAHN_DIR:-$root/../shared/autobahn}"
sides="${AUTOBAHN_SIDES:-server client}"

if [ ! -f "$autobahn/server.sh" ]; then
  echo "autobahn: $autobahn/server.sh not found (set AUTOBAHN_DIR)" >&2
  exit 2
fi

# A port nothing listens on now (the suite's fuzzing server binds it itself).
free_port() {
  node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => {
    console.log(s.address().port); s.close(); })"
}

status=0
server_pid=""
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null' EXIT

for side in $sides; do
  port="$(free_port)"
  echo "== autobahn: $side on 127.0.0.1:$port"

  if [ "$side" = server ]; then
    # With permessage-deflate, so that groups 12 and 13 test it.
    node "$root/scripts/autobahn-echo-server.js" "$port" --deflate &
    server_pid=$!
    # Wait (bounded) until the echo server listens.
    for _ in $(seq 1 50); do
      timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && break
      sleep 0.1
    done
    bash "$autobahn/server.sh" "$port" "$@" || status=1
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=""
  else
    (cd "$root" && WS_MODULE=. bash "$autobahn/client.sh" "$port" "$@") || status=1
  fi
done

exit "$status"
