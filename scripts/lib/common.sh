# shellcheck shell=bash
# Helpers shared by the test-rig libraries (images.sh, registry.sh); sourcing
# this file twice is harmless.

te_log() { printf 'test-env: %s\n' "$*" >&2; }
te_die() {
	te_log "$*"
	exit 1
}
# te_installed PKG: true when the Debian package PKG is fully installed.
te_installed() {
	[[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}
# te_apt_install PKG...: install the Debian packages not installed yet.
# Needs root and apt-get; otherwise fails saying what to install.  Runs
# `apt-get update` at most once per shell.
te_apt_install() {
	local pkg missing=()
	for pkg in "$@"; do
		te_installed "$pkg" || missing+=("$pkg")
	done
	((${#missing[@]})) || return 0
	if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
		te_log "missing Debian package(s): ${missing[*]}; install them (apt-get install ${missing[*]}) and rerun"
		return 1
	fi
	if [[ "${TE_APT_UPDATED:-0}" != 1 ]]; then
		te_log "apt-get update"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
		TE_APT_UPDATED=1
	fi
	te_log "apt-get install ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null
}
