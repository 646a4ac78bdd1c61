#!/usr/bin/env bash
# Runs a command with none of the caller's file descriptors but stdin,
# stdout and stderr: for the database servers the ensure-* scripts start,
# which outlive them. A lock the caller holds (flock around a test run on a
# shared machine) must end with the caller, not live on in a server.
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  [ "$fd" -gt 2 ] && eval "exec $fd>&-"
done
exec "$@"
