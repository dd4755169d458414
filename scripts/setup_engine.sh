#!/usr/bin/env bash
# Make this machine able to run the container engine tests (tests/test_image_engine.py):
# Debian's podman and runc (whose API service the docker SDK talks to), docker-registry
# (a registry on the loopback interface), and a Debian base image made locally with
# debootstrap, since no image registry is reachable. Run by scripts/test.sh as root; the
# base image is kept in podman's storage, so a rerun takes a second.
set -euo pipefail

BASE_IMAGE=${SCAFFOLD_TEST_BASE_IMAGE:-localhost/scaffold-test/bookworm-python:1}

missing=""
for tool in podman runc debootstrap docker-registry; do
    command -v "$tool" >/dev/null || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    echo "setup_engine: installing$missing with apt-get" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

if podman image exists "$BASE_IMAGE"; then
    echo "setup_engine: $BASE_IMAGE is ready" >&2
    exit 0
fi
# Debian bookworm, minimal, plus its python3: the tests' stand-in for both pinned bases.
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
echo "setup_engine: debootstrap bookworm into $root (a minute or two)" >&2
debootstrap --variant=minbase --include=python3 bookworm "$root" http://deb.debian.org/debian \
    >/dev/null
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import --quiet - "$BASE_IMAGE" >/dev/null
echo "setup_engine: $BASE_IMAGE is ready" >&2
