#!/usr/bin/env bash
# Fetch Docker Compose v2 (Debian trixie's docker-compose package, a static binary that runs on
# bookworm too) into .mp/tools, without touching the system's apt configuration, and print the
# binary's path. Idempotent. Used to validate docker-compose.yml where no Docker is installed.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TOOLS="${MP_TOOLS_DIR:-${ROOT}/.mp/tools}"
SUITE="${MP_COMPOSE_SUITE:-trixie}"
MIRROR="${MP_NATIVE_MIRROR:-http://deb.debian.org/debian}"
BINARY="${TOOLS}/docker-compose/usr/libexec/docker/cli-plugins/docker-compose"

if [ -x "$BINARY" ]; then
    printf '%s\n' "$BINARY"
    exit 0
fi
mkdir -p "${TOOLS}/apt/lists/partial" "${TOOLS}/apt/archives/partial"
printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
    "$MIRROR" "$SUITE" >"${TOOLS}/apt/sources.list"
APT=(-o "Dir::Etc::sourcelist=${TOOLS}/apt/sources.list" -o "Dir::Etc::sourceparts=/nonexistent"
     -o "Dir::State::Lists=${TOOLS}/apt/lists" -o "Dir::Cache::archives=${TOOLS}/apt/archives"
     -o "APT::Get::List-Cleanup=0" -o "Debug::NoLocking=1")
apt-get -qq "${APT[@]}" update >&2
(cd "${TOOLS}/apt/archives" && apt-get -qq "${APT[@]}" download docker-compose >&2)
DEB="$(find "${TOOLS}/apt/archives" -maxdepth 1 -name 'docker-compose_*.deb' | sort | tail -n 1)"
[ -n "$DEB" ] || { echo "get-docker-compose: download failed" >&2; exit 1; }
dpkg -x "$DEB" "${TOOLS}/docker-compose"
[ -x "$BINARY" ] || { echo "get-docker-compose: $BINARY missing from $DEB" >&2; exit 1; }
printf '%s\n' "$BINARY"
