# shellcheck shell=bash
# A local Docker registry (Debian's docker-registry, Distribution 2.8) on
# 127.0.0.1, for the pull/push/auth paths: no public registry is reachable.
#
# Source this file (it defines functions only):
#   . scripts/lib/registry.sh
#   trap stop_registry EXIT
#   start_registry 5000 "$dir"                        # no auth
#   start_registry_auth 5001 "$dir2" user secret      # htpasswd (bcrypt) auth
#   ...                                               # push/pull 127.0.0.1:PORT/...
#   stop_registry                                     # stops all started here
#
# Each registry runs in the background of the calling shell (call these
# functions directly, not in a subshell or pipeline, or the PID is lost); its
# config, log and htpasswd file live in a temporary folder removed by
# stop_registry.
# 127.0.0.1 counts as an insecure registry for the engine by default, so
# plain HTTP works without daemon configuration.

# Shared helpers (te_log, te_die, te_installed, te_apt_install).
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# PORT -> PID and PORT -> temporary folder of the registries started here.
# Declared without a value so that sourcing this file again keeps them.
declare -gA TE_REGISTRY_PIDS TE_REGISTRY_TMP

# Seconds start_registry waits for /v2/ to answer.
: "${TE_REGISTRY_TIMEOUT:=30}"

# YAML single-quoted scalar: only ' needs escaping (as '').
_te_yaml_quote() { printf "'%s'" "${1//\'/\'\'}"; }

# _te_registry_start PORT DIR [USER PASS]: the work behind start_registry and
# start_registry_auth.
_te_registry_start() {
	local port=$1 dir=$2 user=${3:-} pass=${4:-}
	local tmp config log pid deadline curl_auth=() started=$SECONDS

	if [[ ! "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
		te_log "start_registry: bad port '$port'"
		return 1
	fi
	[[ -n "$dir" ]] || {
		te_log "start_registry: no storage folder given"
		return 1
	}
	if [[ -n "${TE_REGISTRY_PIDS[$port]:-}" ]]; then
		te_log "start_registry: a registry started here already serves 127.0.0.1:$port (PID ${TE_REGISTRY_PIDS[$port]})"
		return 1
	fi
	command -v docker-registry >/dev/null 2>&1 || te_apt_install docker-registry || return 1
	command -v curl >/dev/null 2>&1 || te_apt_install curl || return 1
	if [[ -n "$user" ]]; then
		command -v htpasswd >/dev/null 2>&1 || te_apt_install apache2-utils || return 1
	fi

	# Something else on the port (e.g. the packaged docker-registry service,
	# which listens on :5000) would answer our readiness probe: refuse.
	# curl exits 7 when the connection is refused.
	local rc=0
	curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/" || rc=$?
	if ((rc != 7)); then
		te_log "start_registry: 127.0.0.1:$port is already in use by another process; pick another port"
		return 1
	fi

	mkdir -p "$dir" || return 1
	dir=$(realpath "$dir") || return 1
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/dockhand-registry-$port.XXXXXX") || return 1
	config=$tmp/config.yml
	log=$tmp/registry.log
	{
		printf 'version: 0.1\n'
		printf 'storage:\n  filesystem:\n    rootdirectory: %s\n' "$(_te_yaml_quote "$dir")"
		printf 'http:\n  addr: 127.0.0.1:%s\n' "$port"
		if [[ -n "$user" ]]; then
			printf 'auth:\n  htpasswd:\n    realm: dockhand\n    path: %s\n' "$(_te_yaml_quote "$tmp/htpasswd")"
		fi
	} >"$config" || {
		rm -rf "$tmp"
		return 1
	}
	if [[ -n "$user" ]]; then
		if ! htpasswd -Bbn "$user" "$pass" >"$tmp/htpasswd" 2>"$log"; then
			te_log "start_registry: htpasswd failed: $(cat "$log")"
			rm -rf "$tmp"
			return 1
		fi
		curl_auth=(-u "$user:$pass")
	fi

	docker-registry serve "$config" </dev/null >"$log" 2>&1 &
	pid=$!
	TE_REGISTRY_PIDS[$port]=$pid
	TE_REGISTRY_TMP[$port]=$tmp

	deadline=$((SECONDS + TE_REGISTRY_TIMEOUT))
	until curl -sf -o /dev/null --max-time 2 "${curl_auth[@]}" "http://127.0.0.1:$port/v2/"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			te_log "start_registry: docker-registry exited before answering; its log:"
			tail -n 20 "$log" >&2 || true
			stop_registry "$port"
			return 1
		fi
		if ((SECONDS >= deadline)); then
			te_log "start_registry: 127.0.0.1:$port/v2/ did not answer within ${TE_REGISTRY_TIMEOUT} s; its log:"
			tail -n 20 "$log" >&2 || true
			stop_registry "$port"
			return 1
		fi
		sleep 0.1
	done
	te_log "registry on 127.0.0.1:$port ready (PID $pid, storage $dir${user:+, htpasswd user $user}, $((SECONDS - started)) s)"
}

# start_registry PORT DIR: serve a registry without auth on 127.0.0.1:PORT,
# storing blobs under DIR (created if missing, kept by stop_registry); return
# once http://127.0.0.1:PORT/v2/ answers.  The PID is kept in
# TE_REGISTRY_PIDS[PORT].
start_registry() {
	(($# == 2)) || {
		te_log "usage: start_registry PORT DIR"
		return 2
	}
	_te_registry_start "$1" "$2"
}

# start_registry_auth PORT DIR USER PASS: as start_registry, but every request
# needs basic auth as USER/PASS (htpasswd file made with `htpasswd -Bbn`).
start_registry_auth() {
	(($# == 4)) || {
		te_log "usage: start_registry_auth PORT DIR USER PASS"
		return 2
	}
	[[ -n "$3" && "$3" != *:* ]] || {
		te_log "start_registry_auth: user must be non-empty and contain no ':'"
		return 2
	}
	_te_registry_start "$1" "$2" "$3" "$4"
}

# stop_registry [PORT]: stop the registry started here on PORT, or with no
# argument all of them: SIGTERM, then SIGKILL after 5 s.  Removes their
# temporary folders (config, log, htpasswd), not their storage.  Safe to call
# when none runs, so it can sit in an EXIT trap.
stop_registry() {
	local ports=("$@") port pid i
	((${#ports[@]})) || ports=("${!TE_REGISTRY_PIDS[@]}")
	for port in "${ports[@]}"; do
		pid=${TE_REGISTRY_PIDS[$port]:-}
		[[ -n "$pid" ]] || continue
		if kill -TERM "$pid" 2>/dev/null; then
			for ((i = 0; i < 50; i++)); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
		rm -rf "${TE_REGISTRY_TMP[$port]:-}"
		unset "TE_REGISTRY_PIDS[$port]" "TE_REGISTRY_TMP[$port]"
		te_log "registry on 127.0.0.1:$port stopped"
	done
}
