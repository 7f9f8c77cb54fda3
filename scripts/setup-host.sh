#!/usr/bin/env bash
# Installs the Debian packages pouchsh runs on, only those that are missing; quiet when all are there.
# `setup-host.sh bench` adds what the benchmarks use beyond that (perf, for `bench bulkprofile`; podman, the second reference of `bench lifecycle_cni`).
set -euo pipefail
packages=(containerd runc containernetworking-plugins busybox-static iptables docker-registry tmux docker-compose skopeo tini lxcfs criu)
[ "${1:-}" = bench ] && packages+=(linux-perf podman)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "pouchsh needs these Debian packages: ${missing[*]}; run 'sudo apt-get install ${missing[*]}'" >&2
    exit 1
fi
echo "installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's package may start a system containerd under an init system; pouchsh uses whichever answers.
