# Shared by scripts/test, scripts/demo and scripts/pg. Source it; do not run it.

# The repository root, whatever the caller's working directory.
PORTCULLIS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs the Debian packages Portcullis builds and tests with, when any is missing.
# As root it runs apt-get; otherwise it prints the exact command and fails.
# Extra arguments name further commands to install from Debian packages of the same name
# (benchmarks ask for wrk and nginx), or as `command=package` when the names differ (the
# console's browser test asks for chromium and chromedriver=chromium-driver).
ensure_system_packages() {
    local missing=()
    pkg-config --exists libsodium 2>/dev/null || missing+=(libsodium-dev)
    command -v pkg-config >/dev/null || missing+=(pkg-config)
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
    command -v curl >/dev/null || missing+=(curl)
    command -v openssl >/dev/null || missing+=(openssl)
    python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
    for tool in "$@"; do command -v "${tool%%=*}" >/dev/null || missing+=("${tool#*=}"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    # pkg-config must come with libsodium-dev for SwiftPM to find the library.
    if [ "$(id -u)" -eq 0 ]; then
        log "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        die "missing system packages; run: sudo apt-get install -y ${missing[*]}"
    fi
}

# Creates .venv with the Python tools of a requirements file: the tests' (the interop and
# differential tests drive them) unless another is named (scripts/demo's identity provider).
ensure_python_tools() {
    local venv="$PORTCULLIS_ROOT/.venv"
    local requirements="${1:-$PORTCULLIS_ROOT/scripts/requirements-test.txt}"
    local stamp
    stamp="$venv/.$(basename "$requirements").sha256"
    local want
    # The tests' tools include a few installed without their pins (requirements-test-nodeps.txt).
    local unpinned="$PORTCULLIS_ROOT/scripts/requirements-test-nodeps.txt"
    [ "$requirements" = "$PORTCULLIS_ROOT/scripts/requirements-test.txt" ] || unpinned=""
    want="$(cat "$requirements" "$PORTCULLIS_ROOT"/scripts/requirements-demo.txt ${unpinned:+"$unpinned"} | sha256sum | cut -d' ' -f1)"
    if [ ! -x "$venv/bin/python" ]; then
        log "creating $venv"
        python3 -m venv "$venv"
    fi
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        log "installing Python tools ($(grep -v '^-r' "$requirements" | tr '\n' ' '))"
        "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
        if [ -n "$unpinned" ]; then
            "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r "$unpinned"
        fi
        echo "$want" > "$stamp"
    fi
    export PORTCULLIS_PYTHON="$venv/bin/python"
}
