#!/usr/bin/env bash
# The Node 24 pass CI runs after `npm test` (docs/architecture.md, "Node versions"): the tests
# that exercise what differs between Node lines, under the `node` first on PATH
# (`npm run test:node24:subset` puts the registry's node@24.9.0 there; the images run that
# release). The whole suite on Node 24 is `npm run test:node24` (run it before a release).
#
#   contracts/           every test: Ed25519 service tokens, the SSRF guard, trace context, config
#   api built-entry      the esbuild bundles the images run, with the OpenTelemetry loader hook, one trace
#                        across the API, RabbitMQ and a consumer
#   api events, auth     live-event streams over node:http; argon2's native addon and JWTs
#   consumers webhook-delivery   outbound fetch (Node's own undici) to a real receiver
#   scripts build        the bundles esbuild makes for Node 20 load on this line
set -euo pipefail
cd "$(dirname "$0")/.."
echo "Node $(node -v): the Node-specific subset (scripts/test-node24-subset.sh)"

tests() { # workspace, then its test files
  local dir="$1"
  shift
  (cd "$dir" && node --import tsx --test --test-concurrency=2 --test-timeout=300000 "$@")
}

tests contracts $(cd contracts && find src -name '*.test.ts' | sort)
tests api test/built-entry.test.ts test/events.test.ts test/auth.test.ts
tests consumers test/webhook-delivery.test.ts
tests scripts test/build.test.ts
