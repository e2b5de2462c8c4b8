# shellcheck shell=bash
# Shared helpers for scripts/test, scripts/demo, scripts/provision-tenant and scripts/audit.
# Sourced, not executed: callers set `set -euo pipefail` themselves and cd to the repo root first.
#
# Environment knobs:
#   PROPSAAS_NO_APT=1   never install Debian packages (tests of the scripts set it; so can a careful laptop)

VENV=.venv
# Stamps record the sha256 of requirements*.txt the venv was last installed from, so reruns skip pip.
STAMP_DEV=$VENV/.requirements.sha
STAMP_RUNTIME=$VENV/.requirements-runtime.sha

log()  { printf '==> %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [[ $(id -u) -eq 0 ]]; }

requirements_sha() {
    # One hash over every requirements file, names included: changing any of them invalidates both stamps.
    sha256sum requirements*.txt | sha256sum | cut -d' ' -f1
}

# ensure_venv dev|runtime: create .venv with python3 when missing (or broken) and pip install the
# requirements unless a stamp says this exact set is installed already. A dev install covers the runtime one.
ensure_venv() {
    local kind=${1:-dev} reqfile stamp sha
    case $kind in
        dev)     reqfile=requirements-dev.txt; stamp=$STAMP_DEV ;;
        runtime) reqfile=requirements.txt;     stamp=$STAMP_RUNTIME ;;
        *) die "ensure_venv: unknown kind $kind" ;;
    esac
    # A venv whose interpreter vanished (python upgraded, pyenv version removed) is rebuilt, not patched.
    if [[ -d $VENV ]] && ! "$VENV/bin/python" -c '' 2>/dev/null; then
        warn "$VENV is broken (its python does not run); recreating it"
        rm -rf "$VENV"
    fi
    if [[ ! -d $VENV ]]; then
        log "creating $VENV with $(command -v python3 || echo 'python3 (missing!)')"
        command -v python3 >/dev/null || die 'python3 is not installed'
        if ! python3 -m venv "$VENV"; then
            # Debian's python3 ships without ensurepip; python3-venv adds it.
            rm -rf "$VENV"
            ensure_debian_packages python3-venv
            python3 -m venv "$VENV" || die "python3 -m venv failed"
        fi
    fi
    sha=$(requirements_sha)
    if [[ -f $STAMP_DEV && $(cat "$STAMP_DEV") == "$sha" ]] || [[ -f $stamp && $(cat "$stamp") == "$sha" ]]; then
        return 0
    fi
    log "installing $reqfile into $VENV"
    "$VENV/bin/python" -m pip install -q -r "$reqfile"
    # Written only after pip succeeded, so a half-finished install is retried next time.
    printf '%s\n' "$sha" >"$stamp"
}

# ensure_venv_exists: for commands that only need the app runnable; never re-runs pip on an existing venv
# (they may run while a test suite is using it).
ensure_venv_exists() {
    if [[ ! -x $VENV/bin/flask ]]; then
        ensure_venv runtime
    fi
}

# ensure_debian_packages PKG...: apt-get install the missing ones when root; otherwise warn. Non-fatal:
# whatever needs the package fails later with its own message, which is clearer than failing here.
ensure_debian_packages() {
    local missing=() pkg
    command -v dpkg >/dev/null || { warn "not a Debian system; make sure these are installed: $*"; return 0; }
    for pkg in "$@"; do
        dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$pkg")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ -n ${PROPSAAS_NO_APT:-} ]]; then
        warn "missing Debian package(s) ${missing[*]} (not installing: PROPSAAS_NO_APT is set)"
        return 0
    fi
    if ! is_root; then
        warn "missing Debian package(s) ${missing[*]}; install them with: sudo apt-get install ${missing[*]}"
        return 0
    fi
    log "installing Debian package(s) ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # apt-get update only when the install needs it (fresh images have no package lists): it is slow.
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
        apt-get update -q >/dev/null || warn 'apt-get update failed'
        apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
            || warn "apt-get install ${missing[*]} failed"
    fi
}

# WeasyPrint renders PDFs through Pango and needs a font with Chinese glyphs, or 中文 comes out as boxes.
ensure_pdf_system_packages() {
    ensure_debian_packages fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0
}


# The browser tests (tests/browser) drive Debian's chromium through Playwright for Python, launched by path:
# Playwright's own browser downloads (`playwright install`) are never used. Fonts come with ensure_pdf_system_packages.
ensure_browser() {
    ensure_debian_packages chromium
}
