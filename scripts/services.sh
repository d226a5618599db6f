#!/usr/bin/env bash
# Starts MariaDB, Redis and RabbitMQ on loopback when one is down, and waits until each answers.
# Safe to run again: a service that already answers is left alone.
set -euo pipefail

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # name port seconds
  for _ in $(seq 1 $(($3 * 5))); do
    if answers "$2"; then echo "$1 is up on 127.0.0.1:$2"; return 0; fi
    sleep 0.2
  done
  echo "$1 did not come up on 127.0.0.1:$2 within $3 s" >&2
  return 1
}

# Names the Debian package to install when a service's program is not there at all.
needs() { # program package
  command -v "$1" >/dev/null || { echo "$1 not found: apt-get install $2" >&2; exit 1; }
}

if ! answers 3306; then
  echo "starting MariaDB"
  needs /usr/sbin/mariadbd mariadb-server
  # /run is a tmpfs: after a reboot the socket and pid directory is gone.
  install -d -o mysql -g mysql /run/mysqld
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
if ! answers 6379; then
  echo "starting Redis"
  needs redis-server redis-server
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if ! answers 5672; then
  echo "starting RabbitMQ"
  needs rabbitmq-server rabbitmq-server
  rabbitmq-server -detached
fi

wait_for MariaDB 3306 60
wait_for Redis 6379 30
wait_for RabbitMQ 5672 90

# The management API (tests make a vhost per run through it) and the Prometheus exporter.
if ! answers 15672 || ! answers 15692; then
  rabbitmq-plugins enable rabbitmq_management rabbitmq_prometheus >/dev/null
fi
wait_for "RabbitMQ management" 15672 60
wait_for "RabbitMQ prometheus" 15692 60
