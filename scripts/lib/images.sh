# shellcheck shell=bash
# Images the dockhand test suite runs, built locally: no registry is reachable
# on the machines the tests run on, and the engine starts with no images.
#
# Source this file (it defines functions only):
#   . scripts/lib/images.sh
#   ensure_busybox_image            # -> dockhand-test/busybox:latest
#
#   ensure_db_images                # -> dockhand-test/{postgres:16,redis:7,mariadb:11}
#   push_db_images 127.0.0.1:5000   #    ... as 127.0.0.1:5000/postgres:16, ...
#
# Every ensure_* function is idempotent: it builds only what is missing and
# returns 0 once the image exists, or prints a `test-env:` message and returns
# non-zero.  Add further images as more ensure_* functions here.

# Shared helpers (te_log, te_die, te_installed, te_apt_install).
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

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

# ---------------------------------------------------------------------------
# Database test images: stand-ins for the official postgres, redis and mariadb
# images, built from Debian packages (no registry is reachable here).
#
#   ensure_debian_db_image [TAG]     # -> dockhand-test/debian-db:bookworm
#   ensure_db_images                 # base + the three stand-ins below
#   push_db_images [REGISTRY]        # -> REGISTRY/{,library/}postgres:16, ...
#
# The stand-ins are tagged with the official images' version tags, which are
# the names the modules use by default; the Debian packages inside are older:
#   dockhand-test/postgres:16   PostgreSQL 15   (Debian postgresql-15)
#   dockhand-test/redis:7       Redis 7.0       (Debian redis-server)
#   dockhand-test/mariadb:11    MariaDB 10.11   (Debian mariadb-server)
# Their entrypoints (scripts/db-images/<name>/docker-entrypoint.sh) honour the
# official images' environment variables and print the same readiness lines,
# so code written for the official images runs unchanged against them.

DOCKHAND_DB_BASE_IMAGE=dockhand-test/debian-db:bookworm
DOCKHAND_DB_SUITE=bookworm
# The Debian mirror debootstrap and apt use (override with the variable).
DOCKHAND_DB_MIRROR=${DOCKHAND_DB_MIRROR:-http://deb.debian.org/debian}
DOCKHAND_DB_PACKAGES=(postgresql-15 redis-server mariadb-server)
# stand-in name -> local tag; the registry name is the tag without its
# dockhand-test/ prefix (postgres:16, ...).
declare -gA DOCKHAND_DB_IMAGES=(
	[postgres]=dockhand-test/postgres:16
	[redis]=dockhand-test/redis:7
	[mariadb]=dockhand-test/mariadb:11
)
# Bump when the rootfs recipe below changes in a way the hash does not see.
_TE_DB_ROOTFS_RECIPE=1
_TE_DB_PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# te_cache_dir: the folder for cached build inputs (created):
# $DOCKHAND_TEST_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/dockhand.
te_cache_dir() {
	local dir=${DOCKHAND_TEST_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/dockhand}
	mkdir -p "$dir" && printf '%s\n' "$dir"
}

# _te_db_rootfs_key: a short hash of everything the rootfs depends on.
_te_db_rootfs_key() {
	printf '%s\n' "$_TE_DB_ROOTFS_RECIPE" "$DOCKHAND_DB_SUITE" "$DOCKHAND_DB_MIRROR" "${DOCKHAND_DB_PACKAGES[@]}" |
		sha256sum | cut -c1-12
}

# _te_db_build_rootfs TARBALL: debootstrap a minbase Debian, install the
# database packages in it (services are not started: policy-rc.d), strip what
# the images do not need, and write it as TARBALL (via a temporary file, so an
# interrupted build never leaves a truncated cache).  The rootfs folder is
# removed in every case.
_te_db_build_rootfs() {
	local tarball=$1 root rc=0 started=$SECONDS
	command -v debootstrap >/dev/null 2>&1 || te_apt_install debootstrap || return 1
	if [[ $EUID -ne 0 ]]; then
		te_log "building the Debian rootfs needs root (debootstrap, chroot)"
		return 1
	fi
	root=$(mktemp -d "${TMPDIR:-/tmp}/dockhand-rootfs.XXXXXX") || return 1
	te_log "debootstrap --variant=minbase $DOCKHAND_DB_SUITE into $root ($DOCKHAND_DB_MIRROR)"
	if ! debootstrap --variant=minbase "$DOCKHAND_DB_SUITE" "$root" "$DOCKHAND_DB_MIRROR" >"$root.log" 2>&1; then
		te_log "debootstrap failed; tail of its log:"
		tail -n 20 "$root.log" >&2
		rc=1
	fi
	if ((rc == 0)); then
		te_log "installing ${DOCKHAND_DB_PACKAGES[*]} in the rootfs ($((SECONDS - started)) s so far)"
		cp /etc/resolv.conf "$root/etc/resolv.conf" &&
			printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" &&
			chmod 755 "$root/usr/sbin/policy-rc.d" || rc=1
	fi
	if ((rc == 0)) && ! chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 sh -ec '
			apt-get update -qq
			apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "$@"
			apt-get clean
		' sh "${DOCKHAND_DB_PACKAGES[@]}" >>"$root.log" 2>&1; then
		te_log "apt-get install in the rootfs failed; tail of the log:"
		tail -n 20 "$root.log" >&2
		rc=1
	fi
	if ((rc == 0)); then
		# Nothing of the build host, no state of the package scripts: the
		# entrypoints initialise their data on first start, as the official
		# images do (the Debian cluster and datadir made by postinst go).
		rm -rf "$root/etc/resolv.conf" "$root/usr/sbin/policy-rc.d" \
			"$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin \
			"$root/var/log/"*.log "$root/var/log/apt/"* \
			"$root/usr/share/doc/"* "$root/usr/share/man/"* "$root/usr/share/info/"* \
			"$root/etc/postgresql/15" "$root/var/lib/postgresql/15" \
			"$root/var/lib/mysql/"* "$root/var/lib/redis/"* || rc=1
	fi
	if ((rc == 0)); then
		te_log "writing the rootfs tarball $tarball"
		if tar -C "$root" --numeric-owner -cf "$tarball.tmp.$$" . && mv "$tarball.tmp.$$" "$tarball"; then
			te_log "rootfs tarball ready ($(du -h "$tarball" | cut -f1), $((SECONDS - started)) s)"
		else
			te_log "could not write $tarball"
			rm -f "$tarball.tmp.$$"
			rc=1
		fi
	fi
	# debootstrap mounts proc and sys in the target while it runs and may
	# leave them mounted when it fails: unmount whatever is still mounted
	# below the rootfs (deepest first), and never let rm cross into a mount.
	local mnt
	while read -r mnt; do
		umount -l "$mnt" 2>/dev/null || true
	done < <(awk -v r="$root/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r)
	rm -rf --one-file-system "$root" "$root.log"
	return "$rc"
}

# ensure_debian_db_image [TAG]: import TAG (default
# dockhand-test/debian-db:bookworm), a Debian bookworm minbase rootfs with
# postgresql-15, redis-server and mariadb-server installed, unless
# `docker image inspect TAG` finds it.  The rootfs tarball is cached as
# $(te_cache_dir)/debian-db-bookworm-<hash>.tar, so after `docker rmi` a rerun
# only re-imports it (seconds).  Needs root (debootstrap, chroot) and Debian's
# mirror only when the tarball is not cached.
ensure_debian_db_image() {
	local tag=${1:-$DOCKHAND_DB_BASE_IMAGE} cache tarball out started=$SECONDS
	if docker image inspect "$tag" >/dev/null 2>&1; then
		return 0
	fi
	cache=$(te_cache_dir) || return 1
	tarball=$cache/debian-db-$DOCKHAND_DB_SUITE-$(_te_db_rootfs_key).tar
	if [[ ! -s "$tarball" ]]; then
		_te_db_build_rootfs "$tarball" || return 1
	else
		te_log "using the cached rootfs $tarball"
	fi
	te_log "docker import $tarball as $tag"
	if ! out=$(docker import -c "ENV PATH=$_TE_DB_PATH" -c 'ENV LANG=C.UTF-8' \
		-m "dockhand test base: Debian $DOCKHAND_DB_SUITE + ${DOCKHAND_DB_PACKAGES[*]}" \
		"$tarball" "$tag" 2>&1); then
		te_log "docker import failed: $out"
		return 1
	fi
	te_log "image $tag ready ($((SECONDS - started)) s)"
}

# _te_db_context_hash NAME BASE: a hash of the build context
# scripts/db-images/NAME and the base image's ID; stored as the label
# dockhand.test.context so an edited entrypoint or a new base rebuilds.
_te_db_context_hash() {
	local dir=$1 base_id=$2
	{
		printf '%s\n' "$base_id"
		(cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
	} | sha256sum | cut -c1-16
}

# ensure_db_image NAME: build ${DOCKHAND_DB_IMAGES[NAME]} (postgres, redis or
# mariadb) from scripts/db-images/NAME FROM the base image, unless an image
# with that tag and the same context hash exists.
ensure_db_image() {
	local name=$1 tag dir base_id want have out started=$SECONDS
	tag=${DOCKHAND_DB_IMAGES[$name]:-}
	[[ -n "$tag" ]] || {
		te_log "ensure_db_image: unknown image '$name' (known: ${!DOCKHAND_DB_IMAGES[*]})"
		return 2
	}
	dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../db-images/$name" 2>/dev/null && pwd) || {
		te_log "ensure_db_image: no build context scripts/db-images/$name"
		return 1
	}
	ensure_debian_db_image "$DOCKHAND_DB_BASE_IMAGE" || return 1
	base_id=$(docker image inspect -f '{{.Id}}' "$DOCKHAND_DB_BASE_IMAGE") || return 1
	want=$(_te_db_context_hash "$dir" "$base_id") || return 1
	local old_id=""
	have=$(docker image inspect -f '{{index .Config.Labels "dockhand.test.context"}}' "$tag" 2>/dev/null || true)
	[[ "$have" == "$want" ]] && return 0
	old_id=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)

	te_log "building image $tag from scripts/db-images/$name"
	# The legacy builder: it uses the local base image as is, never asking a
	# registry about it.  Output only shown on failure.
	if ! out=$(DOCKER_BUILDKIT=0 docker build --quiet --force-rm \
		--build-arg "BASE=$DOCKHAND_DB_BASE_IMAGE" \
		--label "dockhand.test.context=$want" --tag "$tag" "$dir" 2>&1); then
		te_log "docker build of $tag failed:"
		printf '%s\n' "$out" >&2
		return 1
	fi
	# The superseded build would linger untagged and keep its (maybe older)
	# ~600 MB base layer alive; drop it unless a container still uses it.
	if [[ -n "$old_id" && "$old_id" != "$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null)" ]]; then
		docker rmi "$old_id" >/dev/null 2>&1 || true
	fi
	te_log "image $tag ready ($((SECONDS - started)) s)"
}

# ensure_db_images: the base image and every stand-in of DOCKHAND_DB_IMAGES,
# the stand-ins built in parallel: on an engine without a native overlay diff
# (fuse-overlayfs, vfs) every Dockerfile step's commit walks the whole
# ~600 MB rootfs (~2-3 s a step), and the three builds overlap well.
ensure_db_images() {
	local name pid rc=0 pids=()
	ensure_debian_db_image "$DOCKHAND_DB_BASE_IMAGE" || return 1
	for name in postgres redis mariadb; do
		ensure_db_image "$name" &
		pids+=("$!")
	done
	for pid in "${pids[@]}"; do
		wait "$pid" || rc=1
	done
	return "$rc"
}

# push_db_images [REGISTRY]: push the stand-ins (built if missing) to REGISTRY
# (default 127.0.0.1:${DOCKHAND_TEST_REGISTRY_PORT:-5000}) under the official
# names, both short and with Docker Hub's library/ namespace:
#   REGISTRY/postgres:16  REGISTRY/library/postgres:16  (and redis:7, mariadb:11)
# so that DOCKHAND_IMAGE_PREFIX=REGISTRY/ resolves the official names there.
# The REGISTRY/... tags are removed locally afterwards, so a test that asks
# for them pulls them from the registry.  Pushes of layers the registry has
# are no-ops (and the base layer is uploaded once, then mounted).
push_db_images() {
	local registry=${1:-127.0.0.1:${DOCKHAND_TEST_REGISTRY_PORT:-5000}} name tag remote ref out
	local started=$SECONDS refs=()
	ensure_db_images || return 1
	for name in postgres redis mariadb; do
		tag=${DOCKHAND_DB_IMAGES[$name]}
		remote=${tag#dockhand-test/}
		for ref in "$registry/$remote" "$registry/library/$remote"; do
			if ! docker tag "$tag" "$ref" || ! out=$(docker push "$ref" 2>&1); then
				te_log "docker push $ref failed${out:+: $out}"
				docker rmi "$ref" >/dev/null 2>&1 || true
				return 1
			fi
			refs+=("$ref")
			docker rmi "$ref" >/dev/null 2>&1 || true
		done
	done
	te_log "pushed ${refs[*]} ($((SECONDS - started)) s)"
}
