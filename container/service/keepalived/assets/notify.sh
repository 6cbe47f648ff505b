#!/bin/sh
# Called for every state transition with: GROUP|INSTANCE, its name, the new state.
# Writes to the container's log (PID 1's stdout), as osixia/keepalived's notify.sh does.
TYPE=$1
NAME=$2
STATE=$3
case $STATE in
  MASTER) echo "I'm the MASTER! Whup whup." > /proc/1/fd/1 ;;
  BACKUP) echo "Ok, i'm just a backup, great." > /proc/1/fd/1 ;;
  FAULT)  echo "Fault, what ?" > /proc/1/fd/1 ;;
  *)      echo "Unknown state" > /proc/1/fd/1; exit 1 ;;
esac
exit 0
