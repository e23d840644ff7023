#!/bin/sh
# Entrypoint of dockhand-test/redis:7, a stand-in for the official redis
# image built from Debian's redis-server (7.0).  As the official entrypoint:
# `docker run IMAGE --appendonly yes` means `redis-server --appendonly yes`
# (also when the first argument is a *.conf file), and redis-server runs as
# user redis with umask 0077, as PID 1, in /data.
#
# The official image compiles protected mode off; Debian's binary has it on,
# which refuses clients from outside the container when no password is set.
# So `--protected-mode no` is inserted right after redis-server (and after
# its config file, which must come first): arguments given later, such as
# `--protected-mode yes`, still win.  With no config file Redis binds every
# address on port 6379.
set -e

case "${1:-}" in
-* | *.conf) set -- redis-server "$@" ;;
esac

if [ "${1:-}" = redis-server ]; then
	shift
	case "${1:-}" in
	-v | --version | -h | --help | --test-memory | --check-system)
		# Handled by redis-server only as its first argument.
		set -- redis-server "$@"
		;;
	"" | -*) set -- redis-server --protected-mode no "$@" ;;
	*)
		conf=$1
		shift
		set -- redis-server "$conf" --protected-mode no "$@"
		;;
	esac
	um=$(umask)
	if [ "$um" = 0022 ]; then
		umask 0077
	fi
	if [ "$(id -u)" = 0 ]; then
		find . \! -user redis -exec chown redis '{}' +
		exec setpriv --reuid=redis --regid=redis --init-groups "$@"
	fi
fi

exec "$@"
