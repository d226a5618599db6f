#!/usr/bin/env bash
# Before any test runs: checks that this machine has what the suite needs, installs the missing
# Debian tools when it may (root with apt-get), and otherwise names exactly what is missing and
# how to get it, then exits 1 without running anything. `npm test` and .ci/run both start here.
#
# Needs: Node >= 20.19 (see docs/architecture.md, "Node versions"); node_modules (npm ci);
# Chromium for the console's browser tests (CHROMIUM_PATH, default /usr/bin/chromium);
# Prometheus (promtool) and Alertmanager (amtool) for the monitoring and alerting tests; MariaDB, Redis and RabbitMQ
# (with its management API) answering on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
installed="${1:-}" # --installed: the second pass, after apt-get (never installs again)

missing=() # one line each: what, and how to get it
packages=() # Debian packages that would fix what is missing

node_ok=$(node -e 'const [a, b] = process.versions.node.split(".").map(Number); console.log(a > 20 || (a === 20 && b >= 19) ? 1 : 0)' 2>/dev/null || echo 0)
if [[ "$node_ok" != 1 ]]; then
  missing+=("Node >= 20.19 (found $(node -v 2>/dev/null || echo none)): install Node 24 LTS, or run the suite with 'npx -p node@24 npm test'")
fi

if [[ ! -d node_modules ]]; then
  missing+=("node_modules: run 'npm ci'")
fi

chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [[ ! -x "$chromium" ]]; then
  missing+=("Chromium at $chromium (the console's browser tests): 'apt-get install chromium', or set CHROMIUM_PATH")
  [[ -z "${CHROMIUM_PATH:-}" ]] && packages+=(chromium)
fi
# promtool checks the Prometheus configuration; a real Prometheus feeds a real Alertmanager in the
# alerting test, and amtool checks the Alertmanager configuration.
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
  missing+=("promtool and prometheus (the monitoring tests): 'apt-get install prometheus'")
  packages+=(prometheus)
fi
if ! command -v amtool >/dev/null || ! command -v prometheus-alertmanager >/dev/null; then
  missing+=("amtool and prometheus-alertmanager (the alerting tests): 'apt-get install prometheus-alertmanager'")
  packages+=(prometheus-alertmanager)
fi

# Installs what it can: only as root with apt-get, and only packages named above.
if ((${#packages[@]} > 0)) && [[ -z "$installed" ]] && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  echo "preflight: installing ${packages[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  # Wait for another apt run rather than fail on its lock.
  apt=(apt-get -o DPkg::Lock::Timeout=600 -qq)
  if "${apt[@]}" update && "${apt[@]}" install -y --no-install-recommends "${packages[@]}" >/dev/null; then
    exec bash scripts/preflight.sh --installed
  fi
  echo "preflight: apt-get could not install ${packages[*]}" >&2
fi

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for service in MariaDB:3306 Redis:6379 RabbitMQ:5672 RabbitMQ-management:15672; do
  if ! answers "${service#*:}"; then
    missing+=("${service%:*} on 127.0.0.1:${service#*:}: run 'bash scripts/services.sh' (starts each service that is down)")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "preflight: the tests need what is missing below; nothing was run." >&2
  for line in "${missing[@]}"; do echo "  - $line" >&2; done
  exit 1
fi
echo "preflight: node $(node -v), Chromium, promtool, amtool and the services are ready${installed:+ (installed what was missing)}"
