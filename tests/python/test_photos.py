"""Faces from photos through boto3 against `rollcall serve`: the README's
photo example, run exactly as written there (only the endpoint, the photos'
directory and the collection id are this test's), then the errors a bad
photo gets. Needs the face models and test photos (scripts/fetch-models.sh);
skips without them unless ROLLCALL_REQUIRE_MODELS=1."""

import base64
import os
import re
import struct
import zlib
from pathlib import Path

import botocore.exceptions
import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA_HOME = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
MODELS = Path(os.environ.get("ROLLCALL_MODELS") or DATA_HOME / "rollcall" / "models")
PHOTOS = DATA_HOME / "rollcall" / "test-photos"
NEEDED = [MODELS / "frontal_face_detector.dat", MODELS / "shape_predictor_5_face_landmarks.dat",
          MODELS / "dlib_face_recognition_resnet_model_v1.dat", PHOTOS / "obama3.jpg"]


@pytest.fixture
def installed():
    missing = [str(p) for p in NEEDED if not p.is_file()]
    if missing:
        if os.environ.get("ROLLCALL_REQUIRE_MODELS") == "1":
            pytest.fail(f"ROLLCALL_REQUIRE_MODELS=1 but missing: {missing} (run scripts/fetch-models.sh)")
        pytest.skip("models or test photos not installed (run scripts/fetch-models.sh)")


def readme_example():
    """The python block under the README's "Faces from photos" heading."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Faces from photos", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_photo_example_runs_as_written(server, installed):
    code = readme_example()
    assert "http://127.0.0.1:4599" in code and '"staff-photos"' in code
    code = code.replace("http://127.0.0.1:4599", server.url).replace('"staff-photos"', '"readme-photos"')
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})


def png(width, height, rows=None):
    """A PNG of grey pixels; `rows` None: a header claiming the size and no data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = b"" if rows is None else zlib.compress(b"".join(b"\0" + bytes(r) for r in rows))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def test_bad_photos_get_aws_errors(rekognition, installed):
    rekognition.create_collection(CollectionId="bad-photos")
    obama = (PHOTOS / "obama.jpg").read_bytes()
    cases = [
        (obama[: len(obama) // 3], "InvalidImageFormatException"),  # truncated JPEG
        (b"\xff\xd8\xff" + os.urandom(2000), "InvalidImageFormatException"),  # corrupt JPEG
        (png(100000, 100000), "ImageTooLargeException"),  # a PNG bomb's header
        (png(0, 10), "InvalidImageFormatException"),  # zero-sized
        (b"GIF89a" + b"\0" * 100, "InvalidImageFormatException"),
    ]
    for data, code in cases:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            rekognition.index_faces(CollectionId="bad-photos", Image={"Bytes": data})
        assert e.value.response["Error"]["Code"] == code, (data[:16], e.value.response)
    # A photo with no face: nothing indexed; as a probe, a bad parameter.
    blank = png(64, 64, [[128] * 64] * 64)
    r = rekognition.index_faces(CollectionId="bad-photos", Image={"Bytes": blank})
    assert r["FaceRecords"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        rekognition.search_faces_by_image(CollectionId="bad-photos", Image={"Bytes": blank})
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"


def test_detect_and_compare_faces(rekognition, installed):
    obama = (PHOTOS / "obama.jpg").read_bytes()
    faces = rekognition.detect_faces(Image={"Bytes": obama})["FaceDetails"]
    assert len(faces) == 1 and faces[0]["Confidence"] > 90
    kinds = {m["Type"] for m in faces[0]["Landmarks"]}
    assert {"eyeLeft", "eyeRight", "nose"} <= kinds
    same = rekognition.compare_faces(SourceImage={"Bytes": obama},
                                     TargetImage={"Bytes": (PHOTOS / "obama2.jpg").read_bytes()})
    assert len(same["FaceMatches"]) == 1 and same["FaceMatches"][0]["Similarity"] > 85
    other = rekognition.compare_faces(SourceImage={"Bytes": obama},
                                      TargetImage={"Bytes": (PHOTOS / "biden.jpg").read_bytes()})
    assert other["FaceMatches"] == [] and len(other["UnmatchedFaces"]) == 1
