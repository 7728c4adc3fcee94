#!/usr/bin/env bash
# Makes sure the services the tests talk to are reachable: Redis on 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432
# (trust auth, user postgres). Starts them when installed but stopped; installs them with apt-get when missing and
# running as root. Idempotent; does nothing when both answer. Honours TEST_REDIS_URL / TEST_POSTGRES_URL being elsewhere
# by skipping the local checks.
set -euo pipefail

log() { printf 'ensure-services: %s\n' "$*"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    log "missing $*; install it (apt-get install -y $*) or point TEST_REDIS_URL/TEST_POSTGRES_URL elsewhere"
    exit 1
  fi
  log "installing $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_redis() {
  port_open 6379 && return
  command -v redis-server >/dev/null || apt_install redis-server
  log "starting redis-server"
  mkdir -p /var/lib/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no --dir /var/lib/redis
  for _ in $(seq 50); do port_open 6379 && return; sleep 0.1; done
  log "redis did not start"; exit 1
}

ensure_postgres() {
  port_open 5432 && return
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  log "starting PostgreSQL $version"
  # Trust auth on loopback for the tests' postgres user (what the project's machines are set up with).
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 100); do port_open 5432 && return; sleep 0.1; done
  log "PostgreSQL did not start"; exit 1
}

[ -n "${TEST_REDIS_URL:-}" ] || ensure_redis
[ -n "${TEST_POSTGRES_URL:-}" ] || ensure_postgres
command -v prometheus >/dev/null || apt_install prometheus # test/observe starts the binary itself, on a free port
log "Redis and PostgreSQL are reachable"
