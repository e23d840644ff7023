# shellcheck shell=bash
# Images the dockhand test suite runs, built locally: no registry is reachable
# on the machines the tests run on, and the engine starts with no images.
#
# Source this file (it defines functions only):
#   . scripts/lib/images.sh
#   ensure_busybox_image            # -> dockhand-test/busybox:latest
#
# Every ensure_* function is idempotent: it builds only what is missing and
# returns 0 once the image exists, or prints a `test-env:` message and returns
# non-zero.  Add further images (a debootstrap Debian image, ...) as more
# ensure_* functions here.

# Helpers shared with registry.sh; each file defines them only if the other
# has not, so either can be sourced on its own.
if ! declare -F te_log >/dev/null; then
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
fi

DOCKHAND_BUSYBOX_IMAGE=dockhand-test/busybox:latest

# ensure_busybox_static: make /bin/busybox the statically linked busybox from
# Debian's busybox-static.  The image is FROM scratch, so a dynamically linked
# busybox (Debian's `busybox` package) would not run in it.
ensure_busybox_static() {
	if [[ -x /bin/busybox ]] && te_installed busybox-static; then
		return 0
	fi
	te_log "/bin/busybox is missing or not the static build; installing busybox-static"
	te_apt_install busybox-static || return 1
	[[ -x /bin/busybox ]] || {
		te_log "busybox-static is installed but /bin/busybox is missing"
		return 1
	}
}

_te_busybox_dockerfile() {
	cat <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox","--install","-s","/bin"]
ENV PATH=/bin
CMD ["sh"]
DOCKERFILE
}

# ensure_busybox_image [TAG]: build TAG (default dockhand-test/busybox:latest)
# from /bin/busybox unless `docker image inspect TAG` finds it; after a build,
# check the image once by running `sh -c 'echo ok'` in it.
ensure_busybox_image() {
	local tag=${1:-$DOCKHAND_BUSYBOX_IMAGE} ctx out started
	if docker image inspect "$tag" >/dev/null 2>&1; then
		return 0
	fi
	ensure_busybox_static || return 1

	te_log "building image $tag from /bin/busybox"
	started=$SECONDS
	ctx=$(mktemp -d "${TMPDIR:-/tmp}/dockhand-busybox-ctx.XXXXXX") || return 1
	# Explicit checks throughout: callers use `ensure_busybox_image || ...`,
	# where set -e does not apply inside the function.
	if ! cp /bin/busybox "$ctx/busybox" || ! _te_busybox_dockerfile >"$ctx/Dockerfile"; then
		rm -rf "$ctx"
		te_log "could not prepare the build context in $ctx"
		return 1
	fi
	# --force-rm: a failed build leaves no intermediate container behind.
	# The output (and the CLI's notice that the legacy builder is deprecated,
	# when buildx is absent) is shown only if the build fails.
	if ! out=$(docker build --quiet --force-rm --tag "$tag" "$ctx" 2>&1); then
		rm -rf "$ctx"
		te_log "docker build of $tag failed:"
		printf '%s\n' "$out" >&2
		return 1
	fi
	rm -rf "$ctx"

	# --pull=never: should the tag vanish meanwhile, fail instead of reaching
	# for Docker Hub.
	if ! out=$(docker run --rm --pull=never "$tag" sh -c 'echo ok' 2>&1) || [[ "$out" != ok ]]; then
		te_log "image $tag was built but does not run: docker run --rm $tag sh -c 'echo ok' gave: $out"
		return 1
	fi
	te_log "image $tag ready ($((SECONDS - started)) s)"
}
