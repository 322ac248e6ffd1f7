//! The `rollcall rekognition` and `rollcall faces` commands, run as a user
//! would: the README workflow end to end, and the error conventions.

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use faces_common::{lying_npy, LYING_SHAPES};
use serde_json::{json, Value};

use crate::util::faces as faces_common;

fn rollcall() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rollcall"))
}

fn rek(data: &Path, op: &str, body: Value) -> Output {
    rollcall()
        .args(["rekognition", op, "--data"])
        .arg(data)
        .args(["--input", "-"])
        .write_stdin(body.to_string())
        .output()
        .unwrap()
}

fn rek_ok(data: &Path, op: &str, body: Value) -> Value {
    let out = rek(data, op, body.clone());
    assert!(
        out.status.success(),
        "{op} {body}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn readme_workflow_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, dir) = (tmp.path().join("data"), tmp.path());
    let run = |args: &[&str]| {
        let out = rollcall().current_dir(dir).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    run(&[
        "faces",
        "random",
        "--rows",
        "500",
        "--dim",
        "64",
        "--seed",
        "7",
        "staff.npy",
    ]);
    std::fs::write(
        dir.join("names.txt"),
        (0..500).map(|i| format!("photo-{i}\n")).collect::<String>(),
    )
    .unwrap();
    rek_ok(&data, "create-collection", json!({"CollectionId": "staff"}));
    let imported = run(&[
        "faces",
        "import",
        "--data",
        data.to_str().unwrap(),
        "--collection",
        "staff",
        "staff.npy",
        "--external-ids",
        "names.txt",
        "--face-ids",
        "ids.txt",
    ]);
    assert_eq!(imported["IndexedFaces"], 500);
    let ids: Vec<String> = std::fs::read_to_string(dir.join("ids.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(ids.len(), 500);
    rek_ok(
        &data,
        "CreateUser",
        json!({"CollectionId": "staff", "UserId": "maria"}),
    );
    let assoc = rek_ok(
        &data,
        "associate-faces",
        json!({"CollectionId": "staff", "UserId": "maria", "FaceIds": [ids[3]]}),
    );
    assert_eq!(assoc["UserStatus"], "ACTIVE");
    // A new "photo" of face 3: a noisy copy of row 3.
    run(&[
        "faces",
        "random",
        "--like",
        "staff.npy",
        "--row",
        "3",
        "--noise",
        "0.02",
        "probe.npy",
    ]);
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD
        .encode(std::fs::read(dir.join("probe.npy")).unwrap());
    let found = rek_ok(
        &data,
        "search-users-by-image",
        json!({"CollectionId": "staff", "Image": {"Bytes": b64}}),
    );
    assert_eq!(found["UserMatches"][0]["User"]["UserId"], "maria");
    let faces = rek_ok(
        &data,
        "SearchFacesByImage",
        json!({"CollectionId": "staff", "Image": {"Bytes": b64}, "MaxFaces": 1}),
    );
    assert_eq!(faces["FaceMatches"][0]["Face"]["FaceId"], ids[3].as_str());
    assert_eq!(
        faces["FaceMatches"][0]["Face"]["ExternalImageId"],
        "photo-3"
    );
    let by_face = rek_ok(
        &data,
        "search-users",
        json!({"CollectionId": "staff", "FaceId": ids[3]}),
    );
    assert_eq!(by_face["UserMatches"][0]["User"]["UserId"], "maria");
    let described = rek_ok(
        &data,
        "describe-collection",
        json!({"CollectionId": "staff"}),
    );
    assert_eq!(
        (
            described["FaceCount"].clone(),
            described["UserCount"].clone()
        ),
        (json!(500), json!(1))
    );
    assert_eq!(described["FaceModelVersion"], "vector-64");
}

#[test]
fn errors_print_aws_json_and_exit_non_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let out = rek(
        tmp.path(),
        "DescribeCollection",
        json!({"CollectionId": "missing"}),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["__type"], "ResourceNotFoundException");
    assert!(err["Message"].as_str().unwrap().contains("'missing'"));
    let out = rek(tmp.path(), "describe-everything", json!({}));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["__type"], "InvalidParameterException");
    let out = rek(tmp.path(), "ListCollections", json!("not an object"));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["__type"], "SerializationException");
    // A JSON array is not read positionally as the request.
    rek_ok(
        tmp.path(),
        "create-collection",
        json!({"CollectionId": "cli"}),
    );
    for (op, body) in [
        ("describe-collection", json!(["cli"])),
        ("create-collection", json!(["positional"])),
        (
            "list-faces",
            json!({"CollectionId": "cli", "MaxResults": "5"}),
        ),
    ] {
        let out = rek(tmp.path(), op, body.clone());
        assert_eq!(out.status.code(), Some(1), "{op} {body}");
        let err: Value = serde_json::from_slice(&out.stderr).unwrap();
        assert_eq!(err["__type"], "SerializationException", "{op} {body}");
    }
    let listed = rek_ok(tmp.path(), "list-collections", json!({}));
    assert_eq!(listed["CollectionIds"], json!(["cli"]));
}

#[test]
fn import_rejects_files_that_are_not_float32_npy() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    rek_ok(&data, "create-collection", json!({"CollectionId": "c"}));
    std::fs::write(tmp.path().join("x.npy"), b"not numpy").unwrap();
    let out = rollcall()
        .args([
            "faces",
            "import",
            "--data",
            data.to_str().unwrap(),
            "--collection",
            "c",
        ])
        .arg(tmp.path().join("x.npy"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["__type"], "InvalidImageFormatException");
    assert!(err["Message"].as_str().unwrap().contains("float32"));
    // An import into a missing collection changes nothing.
    let out = rollcall()
        .args(["faces", "random", "--rows", "3", "--dim", "4"])
        .arg(tmp.path().join("ok.npy"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = rollcall()
        .args([
            "faces",
            "import",
            "--data",
            data.to_str().unwrap(),
            "--collection",
            "nope",
        ])
        .arg(tmp.path().join("ok.npy"))
        .output()
        .unwrap();
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["__type"], "ResourceNotFoundException");
}

#[test]
fn input_from_file_and_no_input_for_list_collections() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let req = tmp.path().join("req.json");
    std::fs::write(&req, r#"{"CollectionId": "from-file"}"#).unwrap();
    let out = rollcall()
        .args(["rekognition", "CreateCollection", "--data"])
        .arg(&data)
        .arg("--input")
        .arg(&req)
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = rollcall()
        .args(["rekognition", "list-collections", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["CollectionIds"], json!(["from-file"]));
}

/// The AWS JSON error a failed command printed; asserts exit code 1 and
/// nothing on stdout.
fn aws_error(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    serde_json::from_slice(&out.stderr).unwrap()
}

#[test]
fn a_lying_npy_header_is_invalid_image_format_not_an_abort() {
    use base64::Engine as _;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    rek_ok(&data, "create-collection", json!({"CollectionId": "c"}));
    for (shape, _) in LYING_SHAPES {
        let bytes = lying_npy(shape);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        for op in [
            "index-faces",
            "search-faces-by-image",
            "search-users-by-image",
        ] {
            let out = rek(
                &data,
                op,
                json!({"CollectionId": "c", "Image": {"Bytes": b64}}),
            );
            let err = aws_error(&out);
            assert_eq!(err["__type"], "InvalidImageFormatException", "{op} {shape}");
            let msg = err["Message"].as_str().unwrap();
            assert!(
                msg.contains(&format!("Image.Bytes: shape {shape} needs"))
                    && msg.contains("the image has 24"),
                "{op}: {msg}"
            );
        }
        let file = tmp.path().join("liar.npy");
        std::fs::write(&file, &bytes).unwrap();
        let out = rollcall()
            .args(["faces", "import", "--data"])
            .arg(&data)
            .args(["--collection", "c"])
            .arg(&file)
            .output()
            .unwrap();
        let err = aws_error(&out);
        assert_eq!(
            err["__type"], "InvalidImageFormatException",
            "import {shape}"
        );
        let msg = err["Message"].as_str().unwrap();
        assert!(
            msg.contains(&format!("shape {shape} needs")) && msg.contains("the file has 24"),
            "import: {msg}"
        );
        let out = rollcall()
            .args(["faces", "random", "--like"])
            .arg(&file)
            .arg(tmp.path().join("out.npy"))
            .output()
            .unwrap();
        assert_eq!(aws_error(&out)["__type"], "InvalidImageFormatException");
    }
    let described = rek_ok(&data, "describe-collection", json!({"CollectionId": "c"}));
    assert_eq!(described["FaceCount"], 0);
}

/// `faces import` streams a row-major file into the collection (one chunk
/// in memory at a time) and reads a column-major one whole: the same matrix
/// either way gives the same faces, in row order.
#[test]
fn import_streams_row_major_files_and_reads_column_major_ones() {
    use rollcall::faces::{npy_bytes, random_vectors, Engine};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (n, dim) = (300, 16);
    let m = random_vectors(n, dim, 3, None);
    let mut t = vec![0f32; n * dim];
    for r in 0..n {
        for c in 0..dim {
            t[c * n + r] = m[r * dim + c];
        }
    }
    let mut column_major = npy_bytes(n, dim, &t);
    let at = column_major
        .windows(22)
        .position(|w| w == b"'fortran_order': False")
        .unwrap();
    column_major[at..at + 22].copy_from_slice(b"'fortran_order': True ");
    std::fs::write(tmp.path().join("rows.npy"), npy_bytes(n, dim, &m)).unwrap();
    std::fs::write(tmp.path().join("cols.npy"), column_major).unwrap();
    let mut ids = Vec::new();
    for name in ["rows", "cols"] {
        rek_ok(&data, "create-collection", json!({"CollectionId": name}));
        let out = rollcall()
            .args(["faces", "import", "--data"])
            .arg(&data)
            .args(["--collection", name])
            .arg(tmp.path().join(format!("{name}.npy")))
            .arg("--face-ids")
            .arg(tmp.path().join(format!("{name}.txt")))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["IndexedFaces"], n, "{name}");
        let text = std::fs::read_to_string(tmp.path().join(format!("{name}.txt"))).unwrap();
        ids.push(text.lines().map(str::to_string).collect::<Vec<_>>());
    }
    let e = Engine::open(&data).unwrap();
    for (r, probe) in m.chunks(dim).enumerate().step_by(37) {
        for (name, ids) in ["rows", "cols"].iter().zip(&ids) {
            let best = e.search_vector(name, probe, 1, 0.0).unwrap();
            assert_eq!(best[0].face.face_id, ids[r], "{name}, row {r}");
        }
    }
}
