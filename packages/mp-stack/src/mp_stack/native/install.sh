#!/usr/bin/env bash
# Install what mp's native stack needs on a Debian machine: a PostgreSQL server, TimescaleDB for
# it, redis-server and pgBackRest (its backups). Idempotent: each step checks first and says "present" when it has nothing
# to do. On a release whose archive has no TimescaleDB binary for the installed PostgreSQL
# (Debian 12), Debian's own timescaledb source package is built against it (Apache-2 edition).
#
# Environment:
#   MP_NATIVE_PG_MAJOR      PostgreSQL major version to use (default: newest installed, else the
#                           release's default)
#   MP_NATIVE_CACHE_DIR     where sources and private apt lists go (default: /var/cache/mp-native)
#   MP_NATIVE_TSDB_SUITE    Debian suite to take the timescaledb source from (default: trixie)
#   MP_NATIVE_MIRROR        Debian mirror (default: http://deb.debian.org/debian)
set -euo pipefail

CACHE_DIR="${MP_NATIVE_CACHE_DIR:-/var/cache/mp-native}"
TSDB_SUITE="${MP_NATIVE_TSDB_SUITE:-trixie}"
MIRROR="${MP_NATIVE_MIRROR:-http://deb.debian.org/debian}"
CURRENT_STEP="start"
STEP_STARTED=0

say() { printf '[mp-native] %s\n' "$*"; }

step() {
    CURRENT_STEP="$1"
    STEP_STARTED=$SECONDS
    say "step: $1"
}

step_done() { say "  done: ${CURRENT_STEP} ($((SECONDS - STEP_STARTED)) s)"; }

fail() {
    say "FAILED at step '${CURRENT_STEP}': $1" >&2
    [ -n "${2:-}" ] && say "how to fix: $2" >&2
    exit 1
}

trap 'fail "command exited with status $? (line $LINENO)" "read the output above; re-running is safe"' ERR

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        fail "root rights are needed to run: $*" "run this script as root or install sudo"
    fi
}

apt_quiet() {
    # Keep the log readable: apt's progress bars are useless in CI, its errors are not.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Use-Pty=0 "$@"
}

apt_has_candidate() {
    local candidate
    candidate="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')"
    [ -n "$candidate" ] && [ "$candidate" != "(none)" ]
}

newest_installed_pg_major() {
    local dir major best=""
    for dir in /usr/lib/postgresql/*/bin/postgres; do
        [ -x "$dir" ] || continue
        major="$(basename "$(dirname "$(dirname "$dir")")")"
        if [ -z "$best" ] || [ "$major" -gt "$best" ]; then best="$major"; fi
    done
    printf '%s' "$best"
}

command -v apt-get >/dev/null 2>&1 \
    || fail "apt-get not found" "this installer supports Debian and its derivatives; elsewhere install PostgreSQL, TimescaleDB and redis-server by hand, or use the compose backend"

# --- PostgreSQL server --------------------------------------------------------------------------
step "postgresql server"
PG_MAJOR="${MP_NATIVE_PG_MAJOR:-$(newest_installed_pg_major)}"
if [ -n "$PG_MAJOR" ] && [ -x "/usr/lib/postgresql/${PG_MAJOR}/bin/postgres" ]; then
    say "  present: PostgreSQL ${PG_MAJOR}"
else
    if [ -z "${APT_UPDATED:-}" ]; then apt_quiet update; APT_UPDATED=1; fi
    if [ -n "$PG_MAJOR" ]; then
        apt_quiet install --no-install-recommends "postgresql-${PG_MAJOR}" \
            || fail "could not install postgresql-${PG_MAJOR}" "check MP_NATIVE_PG_MAJOR and the apt sources"
    else
        apt_quiet install --no-install-recommends postgresql \
            || fail "could not install postgresql" "check the apt sources"
        PG_MAJOR="$(newest_installed_pg_major)"
    fi
    [ -x "/usr/lib/postgresql/${PG_MAJOR}/bin/postgres" ] \
        || fail "PostgreSQL ${PG_MAJOR} binaries missing after install" "install postgresql-${PG_MAJOR} by hand"
fi
PG_CONFIG="/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config"
step_done

# --- redis-server ---------------------------------------------------------------------------------
step "redis-server"
if command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ]; then
    say "  present: $(redis-server --version 2>/dev/null | awk '{print $3}')"
else
    if [ -z "${APT_UPDATED:-}" ]; then apt_quiet update; APT_UPDATED=1; fi
    apt_quiet install --no-install-recommends redis-server \
        || fail "could not install redis-server" "check the apt sources"
fi
step_done

# --- pgBackRest (backups and WAL archiving of the native cluster) ------------------------------
step "pgbackrest"
if command -v pgbackrest >/dev/null 2>&1; then
    say "  present: $(pgbackrest version 2>/dev/null | awk '{print $2}')"
else
    if [ -z "${APT_UPDATED:-}" ]; then apt_quiet update; APT_UPDATED=1; fi
    apt_quiet install --no-install-recommends pgbackrest \
        || fail "could not install pgbackrest" "check the apt sources"
fi
step_done

# --- TimescaleDB ----------------------------------------------------------------------------------
step "timescaledb for PostgreSQL ${PG_MAJOR}"
SHAREDIR="$("$PG_CONFIG" --sharedir 2>/dev/null || printf '/usr/share/postgresql/%s' "$PG_MAJOR")"
if [ -f "${SHAREDIR}/extension/timescaledb.control" ]; then
    say "  present: $(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "${SHAREDIR}/extension/timescaledb.control")"
    step_done
    say "native prerequisites ready (PostgreSQL ${PG_MAJOR}, TimescaleDB, redis-server, pgBackRest)"
    exit 0
fi

if [ -z "${APT_UPDATED:-}" ]; then apt_quiet update; APT_UPDATED=1; fi
if apt_has_candidate "postgresql-${PG_MAJOR}-timescaledb"; then
    say "  installing the binary package postgresql-${PG_MAJOR}-timescaledb"
    apt_quiet install --no-install-recommends "postgresql-${PG_MAJOR}-timescaledb" \
        || fail "could not install postgresql-${PG_MAJOR}-timescaledb" "check the apt sources"
    step_done
    say "native prerequisites ready"
    exit 0
fi
say "  no binary package for PostgreSQL ${PG_MAJOR} in this release: building Debian's source package"
step_done

step "build tools (cmake, postgresql-server-dev-${PG_MAJOR})"
apt_quiet install --no-install-recommends cmake make gcc libc6-dev dpkg-dev \
    "postgresql-server-dev-${PG_MAJOR}" \
    || fail "could not install the build tools" "install cmake and postgresql-server-dev-${PG_MAJOR} by hand"
step_done

step "fetch timescaledb source from Debian ${TSDB_SUITE}"
as_root mkdir -p "${CACHE_DIR}/lists/partial" "${CACHE_DIR}/src"
SOURCES_LIST="${CACHE_DIR}/sources.list"
printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
    "$MIRROR" "$TSDB_SUITE" | as_root tee "$SOURCES_LIST" >/dev/null
# A private list and state folder so the system's apt configuration is left untouched.
PRIVATE_APT=(-o "Dir::Etc::sourcelist=${SOURCES_LIST}" -o "Dir::Etc::sourceparts=/nonexistent"
             -o "Dir::State::Lists=${CACHE_DIR}/lists" -o "APT::Get::List-Cleanup=0")
as_root apt-get -q "${PRIVATE_APT[@]}" update \
    || fail "could not read the ${TSDB_SUITE} source index" "check network access to ${MIRROR}"
SRC_DIR="$(find "${CACHE_DIR}/src" -maxdepth 1 -type d -name 'timescaledb-*' | sort | tail -n 1)"
if [ -z "$SRC_DIR" ]; then
    (cd "${CACHE_DIR}/src" && as_root apt-get -q "${PRIVATE_APT[@]}" source timescaledb) \
        || fail "could not download the timescaledb source" "check network access to ${MIRROR}"
    SRC_DIR="$(find "${CACHE_DIR}/src" -maxdepth 1 -type d -name 'timescaledb-*' | sort | tail -n 1)"
fi
[ -n "$SRC_DIR" ] || fail "timescaledb source folder not found in ${CACHE_DIR}/src" "delete ${CACHE_DIR} and retry"
say "  source: ${SRC_DIR}"
step_done

step "build and install timescaledb (about a minute on 2 cores)"
(
    cd "$SRC_DIR"
    rm -rf build
    ./bootstrap -DAPACHE_ONLY=1 -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
        -DPG_CONFIG="$PG_CONFIG" >"${CACHE_DIR}/bootstrap.log" 2>&1
    make -C build -j"$(nproc)" >"${CACHE_DIR}/make.log" 2>&1
    as_root make -C build install >"${CACHE_DIR}/install.log" 2>&1
) || fail "the timescaledb build failed" "see ${CACHE_DIR}/bootstrap.log, make.log and install.log"
[ -f "${SHAREDIR}/extension/timescaledb.control" ] \
    || fail "timescaledb.control missing after install" "see ${CACHE_DIR}/install.log"
step_done
say "native prerequisites ready (PostgreSQL ${PG_MAJOR}, TimescaleDB built from source, redis-server, pgBackRest)"
