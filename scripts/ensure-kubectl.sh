#!/usr/bin/env bash
# Makes a kustomize renderer available for test/k8s (kustomize v4+, for components and `patches`).
# Order: kubectl already on PATH with an embedded kustomize v4+; Debian's kubectl package if the
# apt sources offer one recent enough; else the kustomize module built from the Go module proxy
# into .tools/bin (needs Go). Prints the command to use, e.g. "kubectl kustomize" or ".tools/bin/kustomize build".
set -euo pipefail
cd "$(dirname "$0")/.."
KUSTOMIZE_VERSION=v5.5.0

kubectl_ok() {
  command -v kubectl >/dev/null 2>&1 || return 1
  local v
  v=$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9]*\).*/\1/p')
  [[ -n "$v" && "$v" -ge 4 ]]
}

if kubectl_ok; then echo "kubectl kustomize"; exit 0; fi
if [[ -x .tools/bin/kustomize ]]; then echo ".tools/bin/kustomize build"; exit 0; fi

if command -v apt-get >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]]; then
  apt-get update -qq >&2 || true
  # Debian bookworm only has kubernetes-client 1.20 (kustomize v2, too old); newer releases ship kubectl.
  if apt-cache show kubectl >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubectl >&2 || true
    if kubectl_ok; then echo "kubectl kustomize"; exit 0; fi
  fi
fi

if command -v go >/dev/null 2>&1; then
  mkdir -p .tools/bin
  GOBIN="$PWD/.tools/bin" go install "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}" >&2
  echo ".tools/bin/kustomize build"
  exit 0
fi

echo "ensure-kubectl: no kustomize v4+ available (no recent kubectl, no Debian kubectl package, no Go)." >&2
exit 1
