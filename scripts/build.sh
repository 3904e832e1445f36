#!/usr/bin/env bash
# Bundles src/main.ts and src/post.ts with ncc into dist/. Builds into a scratch directory first
# and replaces dist/ only when both bundles built, so a failed build never leaves dist/ half gone.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d .build-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
npx ncc build src/main.ts -o "$tmp/main" --license licenses.txt >/dev/null
npx ncc build src/post.ts -o "$tmp/post" --license licenses.txt >/dev/null
rm -rf dist.old
[ -d dist ] && mv dist dist.old
mv "$tmp" dist
rm -rf dist.old
echo "built dist/main and dist/post"
