# shellcheck shell=bash
# Sourced by scripts/setup.sh: run pip with a line per package and a heartbeat, never silent.
#
# `pip_install ARGS...` runs `$PY -m pip install ARGS...`, keeps pip's whole output in
# $PIP_LOG, and prints one line per package collected, downloaded or installed, plus
# "still working" every ${PROGRESS_EVERY:-10} s while pip prints nothing (a large wheel
# downloading or unpacking). On failure it prints the log's last 40 lines and returns pip's status.
# SETUP_VERBOSE=1 shows pip's own output unfiltered instead.

# The lines worth a newcomer's attention; everything else stays in the log.
_pip_progress_line() {
  local text="${1#"${1%%[![:space:]]*}"}" # without leading blanks
  case "$text" in
    Collecting* | Downloading* | Processing* | "Using cached"* | "Installing collected packages"* | Successfully* | \
      "Building wheel"* | "Building editable"* | Obtaining* | ERROR* | error:* | WARNING*)
      printf 'setup:   %s\n' "$text" >&2
      ;;
  esac
}

# Reads pip's output on stdin; prints progress lines and a heartbeat while nothing arrives.
pip_progress() {
  local every="${PROGRESS_EVERY:-10}" t0=$SECONDS last=$SECONDS line rc pending=""
  while :; do
    line="" rc=0
    IFS= read -r -t "$every" line || rc=$?
    line="$pending$line"
    if ((rc == 0)); then
      pending=""
      printf '%s\n' "$line" >>"${PIP_LOG:-/dev/null}"
      _pip_progress_line "${line##*$'\r'}"
      last=$SECONDS
      continue
    fi
    if ((rc > 128)); then # timed out: nothing (or only part of a line) from pip for $every seconds
      pending="$line"
      if ((SECONDS - last >= every)); then
        printf 'setup:   ... pip still working (%d s so far)\n' $((SECONDS - t0)) >&2
        last=$SECONDS
      fi
      continue
    fi
    # end of input; a last line without a newline still counts
    if [[ -n "$line" ]]; then
      printf '%s\n' "$line" >>"${PIP_LOG:-/dev/null}"
      _pip_progress_line "$line"
    fi
    return 0
  done
}

pip_install() {
  if [[ "${SETUP_VERBOSE:-0}" == 1 ]]; then
    "$PY" -m pip install "${PIP_FLAGS[@]}" "$@"
    return
  fi
  local status=0
  : >"${PIP_LOG:-/dev/null}"
  if "$PY" -m pip install "${PIP_FLAGS[@]}" "$@" 2>&1 | pip_progress; then
    return 0
  else
    status=${PIPESTATUS[0]}
  fi
  if ((status != 0)); then
    printf 'setup: pip failed (exit %d); the last lines of %s:\n' "$status" "${PIP_LOG:-its log}" >&2
    tail -n 40 "${PIP_LOG:-/dev/null}" >&2 || true
  fi
  return "$status"
}
