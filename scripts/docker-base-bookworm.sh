#!/bin/sh
# Builds a local Debian 12 (bookworm) base image from a Debian package mirror,
# for machines that reach a Debian mirror but not a container registry:
#
#   sudo scripts/docker-base-bookworm.sh [TAG]     # default football-tracker/debian:12-slim
#   docker build -f deploy/Dockerfile --build-arg DEBIAN=football-tracker/debian:12-slim ...
#
# debootstrap --variant=minbase, then trimmed like the registry's
# debian:12-slim: no documentation, manual pages or translations (now and, via
# dpkg path excludes, for packages installed later), no apt lists or caches,
# and no service starts during package installs. The image is imported with
# `docker import`. Idempotent: an existing TAG is kept unless FORCE=1.
#
# Environment: MIRROR (default http://deb.debian.org/debian), SECURITY_MIRROR
# (default http://deb.debian.org/debian-security), FORCE=1 to rebuild.
set -eu

TAG=${1:-football-tracker/debian:12-slim}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
SUITE=bookworm

die() {
    echo "docker-base-bookworm: $*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap creates device nodes and chroots)"
for tool in debootstrap docker tar; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "'$tool' not found (apt-get install debootstrap docker.io)"
done
docker info >/dev/null 2>&1 || die "cannot reach the Docker daemon (is dockerd running?)"

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$TAG" >/dev/null 2>&1; then
    echo "docker-base-bookworm: $TAG exists (FORCE=1 rebuilds it)"
    exit 0
fi

# Under /var/tmp, not /tmp: a tmpfs /tmp may be mounted nodev, which breaks
# the root file system's device nodes.
WORK=$(mktemp -d /var/tmp/ft-bookworm.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
ROOT=$WORK/root
LOG=$WORK/debootstrap.log

echo "docker-base-bookworm: debootstrap $SUITE from $MIRROR"
debootstrap --variant=minbase --arch=amd64 "$SUITE" "$ROOT" "$MIRROR" >"$LOG" 2>&1 || {
    tail -n 20 "$LOG" >&2
    die "debootstrap of $SUITE from $MIRROR failed (log tail above)"
}

# The same sources as the registry's image: release, updates and security.
rm -f "$ROOT/etc/apt/sources.list"
cat >"$ROOT/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES

# Bring the base up to date with the updates and security suites.
chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c 'apt-get update -qq && apt-get -y -qq upgrade && apt-get clean' >"$LOG" 2>&1 || {
    tail -n 20 "$LOG" >&2
    die "apt-get upgrade inside the new root failed (mirrors $MIRROR, $SECURITY_MIRROR; log tail above)"
}

# Later package installs (the Dockerfile's) skip documentation and
# translations too; copyright files stay, as in the slim image.
cat >"$ROOT/etc/dpkg/dpkg.cfg.d/docker-slim" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
DPKG
# apt: no cached .deb files or translations, no recommended packages.
cat >"$ROOT/etc/apt/apt.conf.d/docker-slim" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
APT::Install-Recommends "false";
APT::AutoRemove::SuggestsImportant "false";
APT
# A container has no init: packages must not try to start their services.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"

# Trim what is already installed the same way.
find "$ROOT/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$ROOT/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$ROOT/usr/share/man/"* "$ROOT/usr/share/info/"* "$ROOT/usr/share/groff/"* \
    "$ROOT/usr/share/lintian/"* "$ROOT/usr/share/locale/"*
rm -rf "$ROOT/var/lib/apt/lists/"* "$ROOT/var/cache/apt/"*.bin "$ROOT/var/cache/debconf/"*-old \
    "$ROOT/var/log/"*.log "$ROOT/var/log/apt/"* "$ROOT/tmp/"* "$ROOT/var/tmp/"*
# Each container gets its own machine id; Docker provides hostname,
# hosts and resolv.conf (debootstrap copied this machine's).
: >"$ROOT/etc/machine-id"
rm -f "$ROOT/etc/hostname" "$ROOT/etc/resolv.conf"

echo "docker-base-bookworm: importing as $TAG"
tar --numeric-owner --xattrs -C "$ROOT" -c . |
    docker import --change 'CMD ["bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$TAG" >/dev/null ||
    die "docker import of $TAG failed"
docker image ls "$TAG"
