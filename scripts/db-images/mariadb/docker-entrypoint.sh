#!/usr/bin/env bash
# Entrypoint of dockhand-test/mariadb:11, a stand-in for the official mariadb
# image built from Debian's mariadb-server (10.11).  It mimics the official
# docker-entrypoint.sh's observable behaviour on first start (no mysql/
# folder in the datadir), with MYSQL_* accepted for every MARIADB_* below and
# *_FILE variants read from files:
#
#   MARIADB_ROOT_PASSWORD              root's password (root@'%' and @localhost)
#   MARIADB_ALLOW_EMPTY_ROOT_PASSWORD  non-empty: root without a password
#   MARIADB_RANDOM_ROOT_PASSWORD       non-empty: a random one, printed as
#                                      "GENERATED ROOT PASSWORD: ..."
#   (one of these three is required on first start)
#   MARIADB_ROOT_HOST                  host part of the remote root (default %)
#   MARIADB_DATABASE                   database to create
#   MARIADB_USER / MARIADB_PASSWORD    user@'%' with all rights on it
#   MARIADB_INITDB_SKIP_TZINFO         non-empty: skip loading time zones
#   /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz  run on first start
#
# The datadir is /var/lib/mysql (a VOLUME) unless the server's arguments or
# config say otherwise (e.g. `mariadbd --datadir=/var/lib/mysql-snapshot`,
# which a `docker commit` captures).
#
# First start: mariadb-install-db, a temporary server without networking
# (it prints "ready for connections." with "port: 0"), the users and
# database, the init files, shutdown, then exec mariadbd, which prints
# "ready for connections." again with "port: 3306".  An initialised datadir
# prints the line once.  mariadbd runs as PID 1, as user mysql.
set -Eeo pipefail

SOCKET=/run/mysqld/mysqld.sock

note() { printf '%s [Note] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*"; }
error() {
	printf '%s [ERROR] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*" >&2
	exit 1
}

# file_env VAR [DEFAULT]: MARIADB_X from $MARIADB_X, $MYSQL_X, or the file
# named by their _FILE variants.
file_env() {
	local var=$1 def=${2:-} mysql_var=MYSQL_${1#MARIADB_} v val=""
	for v in "$var" "$mysql_var"; do
		if [[ -n "${!v:-}" && -n "$(eval printf %s "\"\${${v}_FILE:-}\"")" ]]; then
			error "both $v and ${v}_FILE are set (but are exclusive)"
		fi
	done
	local file_var=${var}_FILE mysql_file_var=${mysql_var}_FILE
	if [[ -n "${!var:-}" ]]; then
		val=${!var}
	elif [[ -n "${!mysql_var:-}" ]]; then
		val=${!mysql_var}
	elif [[ -n "${!file_var:-}" ]]; then
		val=$(<"${!file_var}")
	elif [[ -n "${!mysql_file_var:-}" ]]; then
		val=$(<"${!mysql_file_var}")
	else
		val=$def
	fi
	export "$var"="$val"
	unset "$file_var" "$mysql_file_var"
}

# sql_escape STRING: STRING for a single-quoted SQL literal.
sql_escape() {
	local s=${1//\\/\\\\}
	printf '%s' "${s//\'/\\\'}"
}

# `docker run IMAGE --foo` means `mariadbd --foo`.
if [[ "${1:-}" == -* ]]; then
	set -- mariadbd "$@"
fi
if [[ "${1:-}" != mariadbd && "${1:-}" != mysqld ]]; then
	exec "$@"
fi

# The datadir as the server will see it (config files and arguments such as
# --datadir=...), as the official entrypoint reads it; default /var/lib/mysql.
DATADIR=$("$@" --verbose --help 2>/dev/null | awk '$1 == "datadir" { print $2; exit }')
DATADIR=${DATADIR:-/var/lib/mysql/}
DATADIR=${DATADIR%/}

if [[ "$(id -u)" == 0 ]]; then
	mkdir -p "$DATADIR" /run/mysqld
	chown mysql:mysql /run/mysqld
	find "$DATADIR" \! -user mysql -exec chown mysql:mysql '{}' +
	exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [[ -d "$DATADIR/mysql" ]]; then
	note "MariaDB upgrade not required; database directory contains a database, skipping initialization"
	exec "$@"
fi

file_env MARIADB_ROOT_PASSWORD
file_env MARIADB_ALLOW_EMPTY_ROOT_PASSWORD
file_env MARIADB_RANDOM_ROOT_PASSWORD
file_env MARIADB_ROOT_HOST %
file_env MARIADB_DATABASE
file_env MARIADB_USER
file_env MARIADB_PASSWORD
file_env MARIADB_INITDB_SKIP_TZINFO

if [[ -z "$MARIADB_ROOT_PASSWORD" && -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" && -z "$MARIADB_RANDOM_ROOT_PASSWORD" ]]; then
	error "Database is uninitialized and password option is not specified
	You need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD"
fi
if [[ "$MARIADB_USER" == root ]]; then
	error "MARIADB_USER=root, MARIADB_USER and MARIADB_PASSWORD are for configuring a regular user and cannot be used for the root user
	Remove MARIADB_USER=root and use one of the following to control the root user password:
	- MARIADB_ROOT_PASSWORD
	- MARIADB_ALLOW_EMPTY_ROOT_PASSWORD
	- MARIADB_RANDOM_ROOT_PASSWORD"
fi
if [[ -n "$MARIADB_PASSWORD" && -z "$MARIADB_USER" ]]; then
	note "[Warn] MARIADB_PASSWORD is set but MARIADB_USER is not; no user is created"
fi

note "Initializing database files"
mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
	--skip-test-db --default-time-zone=SYSTEM \
	--enforce-storage-engine= --skip-log-bin --expire-logs-days=0 \
	--loose-innodb_buffer_pool_load_at_startup=0 --loose-innodb_buffer_pool_dump_at_shutdown=0 \
	"${@:2}"
note "Database files initialized"

note "Starting temporary server"
"$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" \
	--wsrep_on=OFF --expire-logs-days=0 --skip-slave-start \
	--loose-innodb_buffer_pool_load_at_startup=0 --skip-ssl &
temp_pid=$!
client=(mariadb --protocol=socket --socket="$SOCKET" -uroot -hlocalhost)
for ((i = 0; i < 300; i++)); do
	"${client[@]}" --database=mysql -e 'SELECT 1' >/dev/null 2>&1 && break
	kill -0 "$temp_pid" 2>/dev/null || error "Unable to start server."
	sleep 0.1
done
((i < 300)) || error "Unable to start server: no answer within 30 s."
note "Temporary server started."

if [[ -z "$MARIADB_INITDB_SKIP_TZINFO" && -d /usr/share/zoneinfo ]]; then
	# --skip-write-binlog is not needed: the binary log is off.
	mariadb-tzinfo-to-sql /usr/share/zoneinfo 2>/dev/null | "${client[@]}" mysql
fi

if [[ -n "$MARIADB_RANDOM_ROOT_PASSWORD" ]]; then
	MARIADB_ROOT_PASSWORD=$(tr -dc 'A-Za-z0-9_.,:;+=' </dev/urandom | head -c 32 || true)
	note "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
fi

root_pw=$(sql_escape "$MARIADB_ROOT_PASSWORD")
root_host=$(sql_escape "$MARIADB_ROOT_HOST")
{
	printf '%s\n' "SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');"
	# Only root@localhost (and the remote root below) stay.
	printf '%s\n' "DROP USER IF EXISTS root@'127.0.0.1', root@'::1', ''@'localhost';"
	printf '%s\n' "EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname, '\'');"
	printf '%s\n' "EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS \'\'@\'', @@hostname, '\'');"
	printf '%s\n' "SET PASSWORD FOR 'root'@'localhost' = PASSWORD('$root_pw');"
	if [[ "$MARIADB_ROOT_HOST" != localhost ]]; then
		printf '%s\n' "CREATE USER 'root'@'$root_host' IDENTIFIED BY '$root_pw';"
		printf '%s\n' "GRANT ALL ON *.* TO 'root'@'$root_host' WITH GRANT OPTION;"
		printf '%s\n' "GRANT PROXY ON ''@'%' TO 'root'@'$root_host' WITH GRANT OPTION;"
	fi
	if [[ -n "$MARIADB_DATABASE" ]]; then
		note "Creating database $MARIADB_DATABASE" >&2
		printf '%s\n' "CREATE DATABASE IF NOT EXISTS \`${MARIADB_DATABASE//\`/\`\`}\`;"
	fi
	if [[ -n "$MARIADB_USER" && -n "$MARIADB_PASSWORD" ]]; then
		note "Creating user $MARIADB_USER" >&2
		user=$(sql_escape "$MARIADB_USER")
		printf '%s\n' "CREATE USER '$user'@'%' IDENTIFIED BY '$(sql_escape "$MARIADB_PASSWORD")';"
		if [[ -n "$MARIADB_DATABASE" ]]; then
			note "Giving user $MARIADB_USER access to schema $MARIADB_DATABASE" >&2
			printf '%s\n' "GRANT ALL ON \`${MARIADB_DATABASE//\`/\`\`}\`.* TO '$user'@'%';"
		fi
	fi
	printf '%s\n' "FLUSH PRIVILEGES;"
} | "${client[@]}" --database=mysql --binary-mode

# From here root@localhost needs its password (if any).
[[ -z "$MARIADB_ROOT_PASSWORD" ]] || client+=(--password="$MARIADB_ROOT_PASSWORD")
db_client=("${client[@]}")
[[ -z "$MARIADB_DATABASE" ]] || db_client+=(--database="$MARIADB_DATABASE")

printf '\n'
shopt -s nullglob
for f in /docker-entrypoint-initdb.d/*; do
	case "$f" in
	*.sh)
		if [[ -x "$f" ]]; then
			note "$0: running $f"
			"$f"
		else
			note "$0: sourcing $f"
			# shellcheck disable=SC1090
			. "$f"
		fi
		;;
	*.sql)
		note "$0: running $f"
		"${db_client[@]}" <"$f"
		;;
	*.sql.gz)
		note "$0: running $f"
		gunzip -c "$f" | "${db_client[@]}"
		;;
	*) note "$0: ignoring $f" ;;
	esac
done
shopt -u nullglob

note "Stopping temporary server"
kill -TERM "$temp_pid"
wait "$temp_pid" || error "Unable to shut down server."
note "Temporary server stopped"
printf '\n'
note "MariaDB init process done. Ready for start up."
printf '\n'

exec "$@"
