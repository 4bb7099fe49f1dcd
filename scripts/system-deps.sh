#!/usr/bin/env bash
# Installs the Debian packages listed in system-packages.txt that are missing.
# As root it uses apt-get; otherwise it prints the exact command to run and stops.
# When everything is present it prints nothing and takes well under a second.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t wanted < <(sed -e 's/#.*//' "$here/system-packages.txt" | awk 'NF {print $1}')

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "system-deps: this is not a Debian system; install the equivalents of:" >&2
    printf '  %s\n' "${wanted[@]}" >&2
    exit 1
fi

installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${wanted[@]}" 2>/dev/null \
            | awk '$2 ~ /^ii/ {print $1}' || true)
missing=()
for pkg in "${wanted[@]}"; do
    grep -qxF "$pkg" <<<"$installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
if [ "$(id -u)" -ne 0 ]; then
    echo "system-deps: these Debian packages are missing: ${missing[*]}" >&2
    echo "Run this, then try again:" >&2
    echo "  sudo apt-get update && sudo ${cmd[*]}" >&2
    exit 1
fi
echo "system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
"${cmd[@]}" >/dev/null
echo "system-deps: done" >&2
