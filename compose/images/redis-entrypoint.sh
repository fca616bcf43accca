#!/bin/sh
# The official redis image turns protected mode off (it is built so); Debian's binary keeps it on,
# which refuses every client from another container when no password is set. The compose network is
# the boundary here, as with the official image.
set -eu
if [ "${1:-}" = "redis-server" ]; then
  shift
  exec redis-server "$@" --protected-mode no
fi
exec "$@"
