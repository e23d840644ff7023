#!/usr/bin/env bash
# Entrypoint of dockhand-test/postgres:16, a stand-in for the official
# postgres image built from Debian's postgresql-15.  It mimics the official
# docker-entrypoint.sh's observable behaviour:
#
#   POSTGRES_PASSWORD          superuser password; required on first start
#                              unless POSTGRES_HOST_AUTH_METHOD=trust
#   POSTGRES_USER              superuser (default postgres)
#   POSTGRES_DB                database created on first start (default:
#                              POSTGRES_USER)
#   POSTGRES_INITDB_ARGS       extra initdb arguments
#   POSTGRES_HOST_AUTH_METHOD  pg_hba method for host connections (default:
#                              password_encryption, i.e. scram-sha-256)
#   PGDATA                     data folder (default /var/lib/postgresql/data)
#   *_FILE                     POSTGRES_PASSWORD_FILE etc.: read from a file
#   /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz  run on first start
#
# On first start (no PG_VERSION in PGDATA) it runs initdb as postgres, starts
# a temporary server listening on the socket only (it prints "database
# system is ready to accept connections"), creates POSTGRES_DB, runs the init
# files, stops it, then execs the real server, which prints the line a second
# time.  With an existing database the line appears once.  postgres runs as
# PID 1, as user postgres.
set -Eeo pipefail

# file_env VAR [DEFAULT]: VAR from $VAR or the file named by $VAR_FILE.
file_env() {
	local var=$1 file_var=${1}_FILE def=${2:-} val
	if [[ -n "${!var:-}" && -n "${!file_var:-}" ]]; then
		printf >&2 'error: both %s and %s are set (but are exclusive)\n' "$var" "$file_var"
		exit 1
	fi
	val=$def
	if [[ -n "${!var:-}" ]]; then
		val=${!var}
	elif [[ -n "${!file_var:-}" ]]; then
		val=$(<"${!file_var}")
	fi
	export "$var"="$val"
	unset "$file_var"
}

# The official image's shortcuts: `docker run IMAGE -c foo=bar` means
# `postgres -c foo=bar`.
if [[ "${1:-}" == -* ]]; then
	set -- postgres "$@"
fi

if [[ "${1:-}" != postgres ]]; then
	exec "$@"
fi

file_env POSTGRES_PASSWORD
file_env POSTGRES_USER postgres
file_env POSTGRES_DB "$POSTGRES_USER"
file_env POSTGRES_INITDB_ARGS
: "${POSTGRES_HOST_AUTH_METHOD:=}"
export PGDATA=${PGDATA:-/var/lib/postgresql/data}

if [[ "$(id -u)" == 0 ]]; then
	# As root: make the folders postgres needs, then start over as postgres.
	mkdir -p "$PGDATA" /var/run/postgresql
	chmod 00700 "$PGDATA" || :
	chown postgres:postgres /var/run/postgresql
	chmod 3777 /var/run/postgresql
	find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
	exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
	if [[ -z "$POSTGRES_PASSWORD" && "$POSTGRES_HOST_AUTH_METHOD" != trust ]]; then
		cat >&2 <<-'MSG'
			Error: Database is uninitialized and superuser password is not specified.
			       You must specify POSTGRES_PASSWORD to a non-empty value for the
			       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

			       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
			       connections without a password. This is *not* recommended.
		MSG
		exit 1
	fi

	# initdb: the superuser and its password, UTF-8 in the C.UTF-8 locale
	# (the official image uses en_US.utf8, which minbase lacks).
	# shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is word-split on purpose, as upstream
	initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
		--encoding=UTF8 --locale=C.UTF-8 $POSTGRES_INITDB_ARGS

	# Host connections (everything not over the socket from inside the
	# container) need the password, hashed as password_encryption says.
	if [[ -z "$POSTGRES_HOST_AUTH_METHOD" ]]; then
		POSTGRES_HOST_AUTH_METHOD=$(postgres -C password_encryption "${@:2}")
	fi
	{
		printf '\n'
		if [[ "$POSTGRES_HOST_AUTH_METHOD" == trust ]]; then
			printf '# warning trust is enabled for all connections\n'
		fi
		printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD"
	} >>"$PGDATA/pg_hba.conf"

	# The temporary server: socket only, so no client can see a half-made
	# database.  pg_ctl -w returns once it accepts connections.
	PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" \
		-o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start

	psql_base=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
	if [[ "$POSTGRES_DB" != postgres ]]; then
		exists=$(PGDATABASE=postgres "${psql_base[@]}" -tA --set db="$POSTGRES_DB" <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
		if [[ -z "$exists" ]]; then
			PGDATABASE=postgres "${psql_base[@]}" --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
			printf '\n'
		fi
	fi

	printf '\n'
	shopt -s nullglob
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
		*.sh)
			if [[ -x "$f" ]]; then
				printf '%s: running %s\n' "$0" "$f"
				"$f"
			else
				printf '%s: sourcing %s\n' "$0" "$f"
				# shellcheck disable=SC1090
				. "$f"
			fi
			;;
		*.sql)
			printf '%s: running %s\n' "$0" "$f"
			"${psql_base[@]}" --dbname "$POSTGRES_DB" -f "$f"
			printf '\n'
			;;
		*.sql.gz)
			printf '%s: running %s\n' "$0" "$f"
			gunzip -c "$f" | "${psql_base[@]}" --dbname "$POSTGRES_DB"
			printf '\n'
			;;
		*) printf '%s: ignoring %s\n' "$0" "$f" ;;
		esac
	done
	shopt -u nullglob

	PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -m fast -w stop

	printf '\nPostgreSQL init process complete; ready for start up.\n\n'
else
	printf '\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n'
fi

exec "$@"
