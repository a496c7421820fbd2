#!/usr/bin/env bash
# Creates everything Sportello needs on a fresh machine, and does nothing when nothing changed.
#
#   .venv-rasa/  Python 3.10: the Rasa server (rasa 3.6.21 needs 3.10)
#   .venv/       Python 3.11: action server, knowledge base, web page, `sportello` command
#                (torch 2.13.0 CPU from the wheel on local disk; never a CUDA build)
#   webchat/node_modules  the rasa-webchat widget from npm
#   chromium     only with --browser (the tests drive headless Chromium)
#
# Each environment is stamped with a hash of the files that define it, so a second run
# with the same files takes a second.
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
for arg in "$@"; do
  case "$arg" in
    --browser) want_browser=1 ;;
    *) echo "usage: $0 [--browser]" >&2; exit 2 ;;
  esac
done

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
quiet_pip() { grep -v -e "is ignored: it is neither a file nor a directory" -e "^DEPRECATION" -e "legacy 'setup.py install'" || true; }

find_python() {  # $1 = version like 3.10
  local candidate
  if command -v pyenv >/dev/null 2>&1; then
    for candidate in "$(pyenv root)"/versions/"$1".*/bin/python; do
      [ -x "$candidate" ] && { echo "$candidate"; return 0; }
    done
  fi
  command -v "python$1" 2>/dev/null && return 0
  echo "Python $1 not found (install it with pyenv: pyenv install $1)" >&2
  return 1
}

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

make_env() {  # $1 = venv dir, $2 = python, $3 = stamp, rest = install steps (functions)
  local dir=$1 py=$2 stamp=$3; shift 3
  if [ -f "$dir/.sportello-stamp" ] && [ "$(cat "$dir/.sportello-stamp")" = "$stamp" ]; then
    log "$dir is up to date"
    return 0
  fi
  log "creating $dir with $("$py" --version)"
  rm -rf "$dir"
  "$py" -m venv "$dir"
  local step
  for step in "$@"; do "$step" "$dir"; done
  "$dir/bin/python" -m pip check
  echo "$stamp" > "$dir/.sportello-stamp"
}

install_rasa() {
  "$1/bin/pip" install -q -r requirements/rasa.txt -c requirements/rasa.lock 2>&1 | quiet_pip
}

install_app() {
  # torch first, alone, so that pip takes the CPU wheel on local disk.
  "$1/bin/pip" install -q "torch==2.13.0" 2>&1 | quiet_pip
  "$1/bin/pip" install -q -r requirements/app.txt -c requirements/app.lock 2>&1 | quiet_pip
}

PY310=$(find_python 3.10)
PY311=$(find_python 3.11)

make_env .venv-rasa "$PY310" "$(stamp_of requirements/rasa.txt requirements/rasa.lock)" install_rasa
make_env .venv "$PY311" "$(stamp_of requirements/app.txt requirements/app.lock)" install_app

# The project itself, editable, so `sportello` runs the checkout's code.
project_stamp=$(stamp_of pyproject.toml)
if [ ! -f .venv/.sportello-project ] || [ "$(cat .venv/.sportello-project)" != "$project_stamp" ]; then
  log "installing the sportello package (editable)"
  .venv/bin/pip install -q --no-deps -e . 2>&1 | quiet_pip
  echo "$project_stamp" > .venv/.sportello-project
fi

# The chat widget: rasa-webchat from npm, pinned by webchat/package-lock.json.
if [ -f webchat/package.json ]; then
  lock_stamp=$(stamp_of webchat/package.json webchat/package-lock.json)
  if [ ! -f webchat/node_modules/.sportello-stamp ] || [ "$(cat webchat/node_modules/.sportello-stamp)" != "$lock_stamp" ]; then
    log "installing the chat widget (npm ci)"
    (cd webchat && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock_stamp" > webchat/node_modules/.sportello-stamp
  else
    log "chat widget is up to date"
  fi
fi

if [ "$want_browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  log "installing Debian chromium for the browser tests"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# The scale-out smoke test (tests/integration/test_scale_out.py) starts a throwaway
# PostgreSQL and redis-server on loopback, the mail tests a throwaway dovecot IMAP server
# (tests/mail_servers.py): Debian's packages. Inside a container apt's policy keeps the
# system services from starting; the tests run their own instances.
if [ "$want_browser" = 1 ]; then
  need=""
  command -v redis-server >/dev/null 2>&1 || need="$need redis-server"
  [ -x /usr/sbin/dovecot ] || command -v dovecot >/dev/null 2>&1 || need="$need dovecot-imapd"
  if ! command -v postgres >/dev/null 2>&1 && ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
    need="$need postgresql"
  fi
  # The reverse-proxy test (tests/integration/test_proxy.py) runs deploy/nginx/ with
  # Debian's nginx on a loopback port, its own instance.
  [ -x /usr/sbin/nginx ] || need="$need nginx-light"
  if [ -n "$need" ]; then
    log "installing Debian$need for the scale-out, mail and reverse-proxy tests"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
  fi
fi

install -d -m 700 var  # customers' conversations: readable by their owner only
log "ready"
