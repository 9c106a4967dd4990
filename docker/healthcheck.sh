#!/bin/bash
# Docker HEALTHCHECK for seawall (installed in the image as seawall-healthcheck).
#
# Sends GET /healthz to the admin port through bash's /dev/tcp and succeeds when the status is
# 200. debian:12-slim has no curl or wget, and installing one would add megabytes to the image for
# a single HTTP request; bash is already there (Essential: yes).
#
# usage: seawall-healthcheck [PORT [PATH]]
#   PORT  admin port, default $SEAWALL_ADMIN_PORT or 9380
#   PATH  default /healthz (/readyz checks readiness instead)
#   The host is $SEAWALL_ADMIN_HOST or 127.0.0.1.
# Exit status: 0 healthy; 1 unhealthy (no connection, no answer within 2 s, or a status that is
# not 200), which is what Docker expects.
set -u

host=${SEAWALL_ADMIN_HOST:-127.0.0.1}
port=${1:-${SEAWALL_ADMIN_PORT:-9380}}
path=${2:-/healthz}
# A stopped (SIGSTOP) or wedged process still accepts connections from the kernel's backlog, so
# the answer needs its own deadline; Docker's --timeout would also end us, but later.
answer_timeout_s=2

# A failed redirection does not end a non-interactive bash, so test it explicitly.
if ! { exec 3<>"/dev/tcp/${host}/${port}"; } 2>/dev/null; then
  echo "unhealthy: cannot connect to ${host}:${port}"
  exit 1
fi
printf 'GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n' "$path" "$host" "$port" >&3
if ! IFS= read -r -t "$answer_timeout_s" status_line <&3; then
  echo "unhealthy: no answer from ${host}:${port}${path} within ${answer_timeout_s}s"
  exit 1
fi
exec 3<&-
status_line=${status_line%$'\r'}
if [[ $status_line =~ ^HTTP/1\.[01]\ 200( |$) ]]; then
  echo "healthy: ${status_line}"
  exit 0
fi
echo "unhealthy: ${path} answered '${status_line}'"
exit 1
