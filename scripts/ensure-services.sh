#!/usr/bin/env bash
# The test set-up (`pretest`): everything `npm test` needs beyond Node and node_modules, so that the README's two
# commands are all a fresh machine needs.
# - Redis on 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres): started when installed
#   but stopped, installed with apt-get when missing and running as root. TEST_REDIS_URL / TEST_POSTGRES_URL
#   pointing elsewhere skip the local check of that one.
# - Programs the tests run: kcat (second Kafka client of the broker's compatibility tests), prometheus (a real
#   scrape of /metrics), etcd (etcd-server) and ZooKeeper (zookeeper) for the lock strategies' tests, which start
#   their own servers on free ports, haproxy for the scale-out tests, and patroni for the PostgreSQL failover tests
#   (a private cluster with etcd and HAProxy); none of their system services is started.
# - The service's own database (DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/seckill), created if
#   missing and migrated: the drift check (test/db) runs the CLI against it.
# Idempotent; quick when everything is there. Not root and something missing: says which Debian package to install.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'ensure-services: %s\n' "$*"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian package(s): $*. Install them as root (apt-get install -y $*) and run npm test again"
    exit 1
  fi
  log "installing $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Installs packages without letting their maintainer scripts start a system service: the Debian prometheus package
# would start one listening on every interface (:9090); the tests start their own on 127.0.0.1.
apt_install_quiet_services() {
  local policy=/usr/sbin/policy-rc.d
  if [ "$(id -u)" = 0 ] && [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
    apt_install "$@"
    rm -f "$policy"
    trap - EXIT
  else
    apt_install "$@"
  fi
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

ensure_programs() {
  local missing=()
  command -v kcat >/dev/null || missing+=(kcat)
  command -v prometheus >/dev/null || missing+=(prometheus)
  command -v etcd >/dev/null || missing+=(etcd-server)
  # The scale-out tests put HAProxy in front of API processes (test/support/haproxy.ts).
  command -v haproxy >/dev/null || missing+=(haproxy)
  # The zookeeper package's server is a jar run with java (src/sim/lock-servers.ts runs it the same way).
  [ -e /usr/share/java/zookeeper.jar ] && command -v java >/dev/null || missing+=(zookeeper)
  # The PostgreSQL failover tests run a private Patroni cluster (src/sim/postgres-ha.ts) with etcd and HAProxy.
  command -v patroni >/dev/null || missing+=(patroni)
  [ ${#missing[@]} -eq 0 ] || apt_install_quiet_services "${missing[@]}"
}

ensure_database() {
  local out
  # prisma.config.ts picks the same DATABASE_URL (or default) as the drift check; deploy creates a missing database.
  if ! out=$(PRISMA_HIDE_UPDATE_MESSAGE=1 node_modules/.bin/prisma migrate deploy 2>&1); then
    printf '%s\n' "$out" >&2
    log "could not create or migrate the service database (DATABASE_URL or prisma.config.ts's default)"
    exit 1
  fi
}

ready=()
if [ -n "${TEST_REDIS_URL:-}" ]; then ready+=("Redis at TEST_REDIS_URL (not checked)"); else ensure_redis; ready+=(Redis); fi
if [ -n "${TEST_POSTGRES_URL:-}" ]; then
  ready+=("PostgreSQL at TEST_POSTGRES_URL (not checked)")
else
  ensure_postgres
  ready+=(PostgreSQL)
fi
ensure_programs
ensure_database
ready+=(kcat prometheus etcd ZooKeeper HAProxy Patroni "the service database")
printf -v summary '%s, ' "${ready[@]}"
log "ready: ${summary%, }"
