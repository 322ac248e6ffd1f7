//! Faces from real photos through the engine's JSON API: the
//! face_recognition test photos (three of Obama, one of Biden) indexed from
//! JPEG bytes, matched through users, compared and detected. Needs the
//! models and photos (`scripts/fetch-models.sh`); skips without them.

use rollcall::faces::Engine;
use serde_json::{json, Value};

use crate::util::photos::{image_bytes, installed};

fn engine(models: &std::path::Path) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap().with_models_dir(models);
    (dir, engine)
}

fn call(e: &Engine, op: &str, body: Value) -> Value {
    e.call(op, &body.to_string())
        .unwrap_or_else(|err| panic!("{op}: {err}"))
}

/// The README's example: index two Obama photos, make them one user, and
/// find that user from a third photo above the default threshold, while
/// Biden finds nobody.
#[test]
fn same_person_is_found_and_another_is_not() {
    let Some((models, photos)) = installed() else {
        return;
    };
    let (_dir, e) = engine(&models);
    call(&e, "CreateCollection", json!({"CollectionId": "staff"}));
    let mut faces = Vec::new();
    for name in ["obama.jpg", "obama2.jpg"] {
        let r = call(
            &e,
            "IndexFaces",
            json!({"CollectionId": "staff", "ExternalImageId": name, "Image": {"Bytes": image_bytes(&photos, name)}}),
        );
        assert_eq!(r["FaceModelVersion"], "dlib-resnet-v1");
        let records = r["FaceRecords"].as_array().unwrap();
        assert_eq!(records.len(), 1, "{name}: {r}");
        let face = &records[0]["Face"];
        let bb = &face["BoundingBox"];
        for k in ["Width", "Height", "Left", "Top"] {
            let v = bb[k].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&v), "{name} {k} {v}");
        }
        assert!(face["Confidence"].as_f64().unwrap() > 90.0);
        let marks = records[0]["FaceDetail"]["Landmarks"].as_array().unwrap();
        let names: Vec<&str> = marks.iter().map(|m| m["Type"].as_str().unwrap()).collect();
        assert!(
            names.contains(&"eyeLeft") && names.contains(&"nose"),
            "{names:?}"
        );
        faces.push(face["FaceId"].as_str().unwrap().to_string());
    }
    call(
        &e,
        "CreateUser",
        json!({"CollectionId": "staff", "UserId": "obama"}),
    );
    let r = call(
        &e,
        "AssociateFaces",
        json!({"CollectionId": "staff", "UserId": "obama", "FaceIds": faces}),
    );
    assert_eq!(r["AssociatedFaces"].as_array().unwrap().len(), 2, "{r}");

    let r = call(
        &e,
        "SearchUsersByImage",
        json!({"CollectionId": "staff", "Image": {"Bytes": image_bytes(&photos, "obama3.jpg")}}),
    );
    let matches = r["UserMatches"].as_array().unwrap();
    assert_eq!(matches.len(), 1, "{r}");
    assert_eq!(matches[0]["User"]["UserId"], "obama");
    assert!(matches[0]["Similarity"].as_f64().unwrap() > 85.0, "{r}");
    assert!(r["SearchedFace"]["FaceDetail"]["BoundingBox"].is_object());

    let r = call(
        &e,
        "SearchUsersByImage",
        json!({"CollectionId": "staff", "Image": {"Bytes": image_bytes(&photos, "biden.jpg")}}),
    );
    assert_eq!(r["UserMatches"], json!([]), "{r}");
    let r = call(
        &e,
        "SearchFacesByImage",
        json!({"CollectionId": "staff", "Image": {"Bytes": image_bytes(&photos, "biden.jpg")}}),
    );
    assert_eq!(r["FaceMatches"], json!([]), "{r}");
    assert!(r["SearchedFaceBoundingBox"].is_object());

    // The faces and their boxes survive a reopen of the data directory.
    let listed = call(&e, "ListFaces", json!({"CollectionId": "staff"}));
    let reopened = Engine::open(_dir.path()).unwrap();
    let again = reopened
        .call("ListFaces", &json!({"CollectionId": "staff"}).to_string())
        .unwrap();
    assert_eq!(listed, again);
    assert_eq!(again["FaceModelVersion"], "dlib-resnet-v1");
}

#[test]
fn compare_and_detect_faces() {
    let Some((models, photos)) = installed() else {
        return;
    };
    let (_dir, e) = engine(&models);
    let obama = image_bytes(&photos, "obama.jpg");
    let r = call(
        &e,
        "CompareFaces",
        json!({"SourceImage": {"Bytes": obama}, "TargetImage": {"Bytes": image_bytes(&photos, "obama2.jpg")}}),
    );
    assert_eq!(r["FaceMatches"].as_array().unwrap().len(), 1, "{r}");
    assert!(r["FaceMatches"][0]["Similarity"].as_f64().unwrap() > 85.0);
    assert!(r["SourceImageFace"]["BoundingBox"].is_object());
    let r = call(
        &e,
        "CompareFaces",
        json!({"SourceImage": {"Bytes": obama}, "TargetImage": {"Bytes": image_bytes(&photos, "biden.jpg")}}),
    );
    assert_eq!(r["FaceMatches"], json!([]), "{r}");
    assert_eq!(r["UnmatchedFaces"].as_array().unwrap().len(), 1, "{r}");

    let r = call(&e, "DetectFaces", json!({"Image": {"Bytes": obama}}));
    let faces = r["FaceDetails"].as_array().unwrap();
    assert_eq!(faces.len(), 1, "{r}");
    assert!(faces[0]["BoundingBox"]["Width"].as_f64().unwrap() > 0.1);
}

/// A photo into a collection of plain vectors is refused, and a photo with
/// no face cannot be a probe.
#[test]
fn photos_and_vectors_do_not_mix() {
    let Some((models, photos)) = installed() else {
        return;
    };
    let (_dir, e) = engine(&models);
    e.create_collection_with_dim("vectors", 128).unwrap();
    let err = e
        .call(
            "IndexFaces",
            &json!({"CollectionId": "vectors", "Image": {"Bytes": image_bytes(&photos, "obama.jpg")}})
                .to_string(),
        )
        .unwrap_err();
    assert_eq!(
        err.error_type(),
        rollcall::ErrorType::InvalidParameterException
    );
    assert!(err.to_string().contains("cannot come from photos"), "{err}");

    // A blank PNG: a photo, with no face in it.
    let mut png = Vec::new();
    image::RgbImage::new(64, 64)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    use base64::Engine as _;
    let blank = base64::engine::general_purpose::STANDARD.encode(&png);
    call(&e, "CreateCollection", json!({"CollectionId": "c"}));
    let err = e
        .call(
            "SearchFacesByImage",
            &json!({"CollectionId": "c", "Image": {"Bytes": blank}}).to_string(),
        )
        .unwrap_err();
    assert_eq!(
        err.error_type(),
        rollcall::ErrorType::InvalidParameterException
    );
    let r = call(&e, "DetectFaces", json!({"Image": {"Bytes": blank}}));
    assert_eq!(r["FaceDetails"], json!([]));
}

/// Without the models, a photo is an `InvalidImageFormatException` that
/// names the command installing them, while `.npy` images work as before.
#[test]
fn without_models_a_photo_says_how_to_install_them() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(dir.path())
        .unwrap()
        .with_models_dir(dir.path().join("no-models-here"));
    let mut png = Vec::new();
    image::RgbImage::new(8, 8)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.encode(&png);
    let err = e
        .call(
            "DetectFaces",
            &json!({"Image": {"Bytes": bytes}}).to_string(),
        )
        .unwrap_err();
    assert_eq!(
        err.error_type(),
        rollcall::ErrorType::InvalidImageFormatException
    );
    assert!(err.to_string().contains("scripts/fetch-models.sh"), "{err}");
}
