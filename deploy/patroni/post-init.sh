#!/bin/sh
# Patroni's bootstrap.post_init (deploy/patroni/patroni.yml): runs once, on the member that initialised the cluster,
# with a connection string to it as its only argument. Creates the service's database, as POSTGRES_DB did for the
# single server, so that the processes started with --no-migrate find it even before the migrating one has run.
set -eu
createdb --maintenance-db="$1" seckill
