#!/bin/bash
# The CI-sized freshness test beside the status page test (chromium, a SIGSTOPped replica of its
# own), N times: the load under which a CI run once failed the freshness test.
#   bash bench/data/19/freshness_stress.sh [N=8]
cd "$(dirname "$0")/../../.."
for i in $(seq 1 "${1:-8}"); do
  node_modules/.bin/deno test -A tests/admin_page_test.ts >/dev/null 2>&1 &
  A=$!
  node_modules/.bin/deno test -A tests/cache_freshness_test.ts >"/tmp/freshness_stress_$i.log" 2>&1
  grep -E "^cache freshness" "/tmp/freshness_stress_$i.log" | cut -c1-600
  grep -c FAILED "/tmp/freshness_stress_$i.log"
  wait $A
done
git checkout tests/artifacts/status_page_history.png
