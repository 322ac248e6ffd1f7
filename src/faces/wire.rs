//! The AWS JSON shapes of the Rekognition operations served here (member
//! names exactly as in the service model), the parser that turns a request
//! body into them with errors naming the JSON path, and the checks of every
//! limit and pattern the model states.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::Error;
use crate::json::JsonErrorKind;

/// Parses a request body; an unknown member is
/// `InvalidParameterException`, malformed JSON or a wrong type is
/// `SerializationException`, both naming the JSON path. (No member is ever
/// missing: every request member has a default, and the checks after
/// parsing say what an empty one breaks.)
pub(crate) fn parse<T: DeserializeOwned>(body: &str) -> Result<T, Error> {
    crate::json::from_str(body).map_err(|e| match e.kind {
        JsonErrorKind::Unknown => Error::InvalidParameter(e.to_string()),
        _ => Error::Serialization(e.to_string()),
    })
}

fn check_text(
    field: &str,
    value: &str,
    min: usize,
    max: usize,
    ok: fn(char) -> bool,
    what: &str,
) -> Result<(), Error> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(Error::invalid(format!(
            "{field}: length must be {min}..{max} characters, got {n}"
        )));
    }
    if let Some(c) = value.chars().find(|&c| !ok(c)) {
        return Err(Error::invalid(format!(
            "{field}: character {c:?} not allowed; must match {what}"
        )));
    }
    Ok(())
}

fn id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// `CollectionId`: 1..255 of `[a-zA-Z0-9_.\-]`.
pub(crate) fn check_collection_id(v: &str) -> Result<(), Error> {
    check_text("CollectionId", v, 1, 255, id_char, "[a-zA-Z0-9_.\\-]+")
}

/// `UserId`: 1..128 of `[a-zA-Z0-9_.\-:]`.
pub(crate) fn check_user_id(field: &str, v: &str) -> Result<(), Error> {
    check_text(
        field,
        v,
        1,
        128,
        |c| id_char(c) || c == ':',
        "[a-zA-Z0-9_.\\-:]+",
    )
}

/// `ExternalImageId`: 1..255 of `[a-zA-Z0-9_.\-:]`.
pub(crate) fn check_external_image_id(field: &str, v: &str) -> Result<(), Error> {
    check_text(
        field,
        v,
        1,
        255,
        |c| id_char(c) || c == ':',
        "[a-zA-Z0-9_.\\-:]+",
    )
}

/// `ClientRequestToken`: 1..64 of `[a-zA-Z0-9-_]`.
pub(crate) fn check_token(v: Option<&str>) -> Result<(), Error> {
    v.map_or(Ok(()), |v| {
        check_text(
            "ClientRequestToken",
            v,
            1,
            64,
            |c| c.is_ascii_alphanumeric() || c == '-' || c == '_',
            "^[a-zA-Z0-9-_]+$",
        )
    })
}

/// `NextToken`: at most 255 characters.
pub(crate) fn check_next_token(v: Option<&str>) -> Result<(), Error> {
    v.map_or(Ok(()), |v| {
        check_text("NextToken", v, 0, 255, |_| true, "any text")
    })
}

/// A `FaceId`: a lowercase UUID; gives its 128-bit value.
pub(crate) fn parse_face_id(field: &str, v: &str) -> Result<u128, Error> {
    let bytes = v.as_bytes();
    let shape_ok = bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        });
    let parsed = shape_ok.then(|| uuid::Uuid::parse_str(v).ok()).flatten();
    parsed.map(|u| u.as_u128()).ok_or_else(|| {
        Error::invalid(format!(
            "{field}: '{v}' is not a face id (lowercase UUID, [0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}})"
        ))
    })
}

/// A list of face ids of `min..=max` entries; gives their values, duplicates
/// removed (first occurrence kept).
pub(crate) fn parse_face_ids(
    field: &str,
    ids: &[String],
    min: usize,
    max: usize,
) -> Result<Vec<u128>, Error> {
    if ids.len() < min || ids.len() > max {
        return Err(Error::invalid(format!(
            "{field}: must hold {min}..{max} face ids, got {}",
            ids.len()
        )));
    }
    let mut out: Vec<u128> = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let v = parse_face_id(&format!("{field}[{i}]"), id)?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

/// An integer member within `min..=max`, or `default` when absent.
pub(crate) fn int_in(
    field: &str,
    v: Option<i64>,
    min: i64,
    max: i64,
    default: i64,
) -> Result<usize, Error> {
    let v = v.unwrap_or(default);
    if v < min || v > max {
        return Err(Error::invalid(format!(
            "{field}: must be {min}..{max}, got {v}"
        )));
    }
    usize::try_from(v).map_err(|_| Error::invalid(format!("{field}: out of range")))
}

/// A `Percent` member (0..100), or `default` when absent.
pub(crate) fn percent(field: &str, v: Option<f64>, default: f32) -> Result<f32, Error> {
    match v {
        None => Ok(default),
        Some(p) if (0.0..=100.0).contains(&p) => Ok(p as f32),
        Some(p) => Err(Error::invalid(format!("{field}: must be 0..100, got {p}"))),
    }
}

const QUALITY_FILTERS: [&str; 5] = ["NONE", "AUTO", "LOW", "MEDIUM", "HIGH"];
const ATTRIBUTES: [&str; 14] = [
    "DEFAULT",
    "ALL",
    "AGE_RANGE",
    "BEARD",
    "EMOTIONS",
    "EYE_DIRECTION",
    "EYEGLASSES",
    "EYES_OPEN",
    "GENDER",
    "MOUTH_OPEN",
    "MUSTACHE",
    "FACE_OCCLUDED",
    "SMILE",
    "SUNGLASSES",
];

/// `QualityFilter`: one of the model's enum values. Searches accept it and
/// search the largest face whatever its confidence.
pub(crate) fn check_quality_filter(v: Option<&str>) -> Result<(), Error> {
    check_enum("QualityFilter", v, &QUALITY_FILTERS)
}

/// The detector confidence a face needs under `QualityFilter` to be
/// indexed (`IndexFaces`) or compared (`CompareFaces`); faces below it are
/// `LOW_CONFIDENCE`. `NONE` and `LOW` keep every face the detector found;
/// `AUTO` (the default) and `MEDIUM` need [`QUALITY_MEDIUM`], `HIGH`
/// [`QUALITY_HIGH`]. A `.npy` row has no confidence to test: it always passes.
pub(crate) fn quality_bar(v: Option<&str>) -> Result<f32, Error> {
    check_quality_filter(v)?;
    Ok(match v.unwrap_or("AUTO") {
        "HIGH" => QUALITY_HIGH,
        "AUTO" | "MEDIUM" => QUALITY_MEDIUM,
        _ => 0.0,
    })
}

/// The confidence `QualityFilter` `AUTO` and `MEDIUM` ask of a face.
pub const QUALITY_MEDIUM: f32 = 50.0;
/// The confidence `QualityFilter` `HIGH` asks of a face.
pub const QUALITY_HIGH: f32 = 90.0;

/// `DetectFaces`' `Attributes`: each one of the model's enum values. Only
/// what `DEFAULT` returns (box, confidence, landmarks) is ever returned:
/// the other attributes need models this engine does not have.
pub(crate) fn check_detect_attributes(v: Option<&[String]>) -> Result<(), Error> {
    check_attributes_named("Attributes", v)
}

/// `DetectionAttributes`: each one of the model's enum values (accepted; as
/// for `DetectFaces`, only the `DEFAULT` details are returned).
pub(crate) fn check_attributes(v: Option<&[String]>) -> Result<(), Error> {
    check_attributes_named("DetectionAttributes", v)
}

fn check_attributes_named(field: &str, v: Option<&[String]>) -> Result<(), Error> {
    for (i, a) in v.unwrap_or_default().iter().enumerate() {
        check_enum(&format!("{field}[{i}]"), Some(a), &ATTRIBUTES)?;
    }
    Ok(())
}

fn check_enum(field: &str, v: Option<&str>, allowed: &[&str]) -> Result<(), Error> {
    match v {
        Some(v) if !allowed.contains(&v) => Err(Error::invalid(format!(
            "{field}: '{v}' is not one of {}",
            allowed.join(", ")
        ))),
        _ => Ok(()),
    }
}

fn tag_char(c: char) -> bool {
    c.is_alphabetic()
        || c.is_numeric()
        || matches!(
            c,
            ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
                ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
        )
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

/// `Tags`: at most 200; keys 1..128, not starting `aws:`; values 0..256;
/// both of letters, spaces, digits and `_.:/=+-@`.
pub(crate) fn check_tags(tags: Option<&BTreeMap<String, String>>) -> Result<(), Error> {
    let Some(tags) = tags else { return Ok(()) };
    if tags.len() > 200 {
        return Err(Error::invalid(format!(
            "Tags: at most 200 tags, got {}",
            tags.len()
        )));
    }
    let chars = "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*";
    for (k, v) in tags {
        check_text("Tags key", k, 1, 128, tag_char, chars)?;
        if k.starts_with("aws:") {
            return Err(Error::invalid(format!(
                "Tags key '{k}': must not start with 'aws:'"
            )));
        }
        check_text(&format!("Tags.{k}"), v, 0, 256, tag_char, chars)?;
    }
    Ok(())
}

/// An image: here, a NumPy `.npy` file of face vectors, base64 in `Bytes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Image {
    /// Base64 of a float32 `.npy` file, shape `(d,)` or `(n, d)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<String>,
    /// Not supported offline: always `InvalidImageFormatException`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_object: Option<serde_json::Value>,
}

macro_rules! request {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "PascalCase", deny_unknown_fields)]
        pub struct $name {
            $($(#[$fdoc])* #[serde(default)] pub $field: $ty,)*
        }
    };
}

macro_rules! response {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $(@rename $ren:literal)? $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "PascalCase")]
        pub struct $name {
            $($(#[$fdoc])* $(#[serde(rename = $ren)])? #[serde(default)] pub $field: $ty,)*
        }
    };
}

/// An `f32` score as the `f64` with the same shortest decimal form, so
/// that JSON shows `98.32363`, not `98.3236312866211`.
pub(crate) fn score(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

request!(
    /// `CreateCollection` request.
    CreateCollectionRequest {
        /// The new collection's id.
        collection_id: String,
        /// Tags stored with the collection.
        #[serde(skip_serializing_if = "Option::is_none")]
        tags: Option<BTreeMap<String, String>>,
    }
);
request!(
    /// `DeleteCollection`, `DescribeCollection` request.
    CollectionRequest {
        /// The collection.
        collection_id: String,
    }
);
request!(
    /// `ListCollections` request.
    ListCollectionsRequest {
        /// Token from the previous page.
        #[serde(skip_serializing_if = "Option::is_none")]
        next_token: Option<String>,
        /// Page size, 0..4096 (default 1000).
        #[serde(skip_serializing_if = "Option::is_none")]
        max_results: Option<i64>,
    }
);
request!(
    /// `IndexFaces` request.
    IndexFacesRequest {
        /// The collection.
        collection_id: String,
        /// The face vectors (`.npy`).
        image: Image,
        /// Kept with every face of this call.
        #[serde(skip_serializing_if = "Option::is_none")]
        external_image_id: Option<String>,
        /// Accepted and ignored.
        #[serde(skip_serializing_if = "Option::is_none")]
        detection_attributes: Option<Vec<String>>,
        /// Index at most this many rows (>= 1); the rest are `UnindexedFaces`.
        #[serde(skip_serializing_if = "Option::is_none")]
        max_faces: Option<i64>,
        /// Accepted and ignored.
        #[serde(skip_serializing_if = "Option::is_none")]
        quality_filter: Option<String>,
    }
);
request!(
    /// `DetectFaces` request.
    DetectFacesRequest {
        /// The photo.
        image: Image,
        /// `DEFAULT` or `ALL` (what needs other models is not returned).
        #[serde(skip_serializing_if = "Option::is_none")]
        attributes: Option<Vec<String>>,
    }
);
request!(
    /// `CompareFaces` request.
    CompareFacesRequest {
        /// The photo whose largest face is compared.
        source_image: Image,
        /// The photo whose faces it is compared with.
        target_image: Image,
        /// 0..100; default 80.
        #[serde(skip_serializing_if = "Option::is_none")]
        similarity_threshold: Option<f64>,
        /// `NONE`, `AUTO`, `LOW`, `MEDIUM`, `HIGH`.
        #[serde(skip_serializing_if = "Option::is_none")]
        quality_filter: Option<String>,
    }
);
request!(
    /// `ListFaces` request.
    ListFacesRequest {
        /// The collection.
        collection_id: String,
        /// Token from the previous page.
        #[serde(skip_serializing_if = "Option::is_none")]
        next_token: Option<String>,
        /// Page size, 0..4096 (default 1000).
        #[serde(skip_serializing_if = "Option::is_none")]
        max_results: Option<i64>,
        /// Only this user's faces.
        #[serde(skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
        /// Only these faces (1..4096).
        #[serde(skip_serializing_if = "Option::is_none")]
        face_ids: Option<Vec<String>>,
    }
);
request!(
    /// `DeleteFaces` request.
    DeleteFacesRequest {
        /// The collection.
        collection_id: String,
        /// 1..4096 face ids.
        face_ids: Vec<String>,
    }
);
request!(
    /// `SearchFaces` request.
    SearchFacesRequest {
        /// The collection.
        collection_id: String,
        /// The probe face.
        face_id: String,
        /// 1..4096, default 80.
        #[serde(skip_serializing_if = "Option::is_none")]
        max_faces: Option<i64>,
        /// 0..100, default 80.
        #[serde(skip_serializing_if = "Option::is_none")]
        face_match_threshold: Option<f64>,
    }
);
request!(
    /// `SearchFacesByImage` request.
    SearchFacesByImageRequest {
        /// The collection.
        collection_id: String,
        /// The probe vector (`.npy`; the first row is searched).
        image: Image,
        /// 1..4096, default 80.
        #[serde(skip_serializing_if = "Option::is_none")]
        max_faces: Option<i64>,
        /// 0..100, default 80.
        #[serde(skip_serializing_if = "Option::is_none")]
        face_match_threshold: Option<f64>,
        /// Accepted and ignored.
        #[serde(skip_serializing_if = "Option::is_none")]
        quality_filter: Option<String>,
    }
);
request!(
    /// `CreateUser` and `DeleteUser` request.
    UserRequest {
        /// The collection.
        collection_id: String,
        /// The user.
        user_id: String,
        /// Idempotency token.
        #[serde(skip_serializing_if = "Option::is_none")]
        client_request_token: Option<String>,
    }
);
request!(
    /// `ListUsers` request.
    ListUsersRequest {
        /// The collection.
        collection_id: String,
        /// 1..500, default 100.
        #[serde(skip_serializing_if = "Option::is_none")]
        max_results: Option<i64>,
        /// Token from the previous page.
        #[serde(skip_serializing_if = "Option::is_none")]
        next_token: Option<String>,
    }
);
request!(
    /// `AssociateFaces` request.
    AssociateFacesRequest {
        /// The collection.
        collection_id: String,
        /// The user.
        user_id: String,
        /// 1..100 face ids.
        face_ids: Vec<String>,
        /// 0..100, default 75.
        #[serde(skip_serializing_if = "Option::is_none")]
        user_match_threshold: Option<f64>,
        /// Idempotency token.
        #[serde(skip_serializing_if = "Option::is_none")]
        client_request_token: Option<String>,
    }
);
request!(
    /// `DisassociateFaces` request.
    DisassociateFacesRequest {
        /// The collection.
        collection_id: String,
        /// The user.
        user_id: String,
        /// Idempotency token.
        #[serde(skip_serializing_if = "Option::is_none")]
        client_request_token: Option<String>,
        /// 1..100 face ids.
        face_ids: Vec<String>,
    }
);
request!(
    /// `SearchUsers` request: exactly one of `UserId` and `FaceId`.
    SearchUsersRequest {
        /// The collection.
        collection_id: String,
        /// Probe: all faces of this user.
        #[serde(skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
        /// Probe: this face.
        #[serde(skip_serializing_if = "Option::is_none")]
        face_id: Option<String>,
        /// 0..100, default 80.
        #[serde(skip_serializing_if = "Option::is_none")]
        user_match_threshold: Option<f64>,
        /// 1..500, default 10.
        #[serde(skip_serializing_if = "Option::is_none")]
        max_users: Option<i64>,
    }
);
request!(
    /// `SearchUsersByImage` request.
    SearchUsersByImageRequest {
        /// The collection.
        collection_id: String,
        /// The probe vector (`.npy`; the first row is searched).
        image: Image,
        /// 0..100, default 80.
        #[serde(skip_serializing_if = "Option::is_none")]
        user_match_threshold: Option<f64>,
        /// 1..500, default 10.
        #[serde(skip_serializing_if = "Option::is_none")]
        max_users: Option<i64>,
        /// Accepted and ignored.
        #[serde(skip_serializing_if = "Option::is_none")]
        quality_filter: Option<String>,
    }
);

/// A user's state: `CREATED` without faces, `ACTIVE` with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    /// No face associated.
    #[default]
    Created,
    /// At least one face associated.
    Active,
}

/// Why a face was not associated (or disassociated, or deleted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FaceReason {
    /// No such face in the collection.
    FaceNotFound,
    /// The face belongs to another user.
    AssociatedToADifferentUser,
    /// The face is too unlike the user's faces.
    LowMatchConfidence,
}

/// Why a detected face (a row of the image) was not indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum UnindexedReason {
    /// The face comes after the first `MaxFaces` (largest first).
    ExceedsMaxFaces,
    /// The face's box is too small for a descriptor.
    SmallBoundingBox,
    /// The detector's confidence is below what `QualityFilter` asks.
    LowConfidence,
}

/// Why a detected face (a row of the image) was not searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum UnsearchedReason {
    /// Only the largest face (the first row of a `.npy`) is searched.
    FaceNotLargest,
}

response!(
    /// `CreateCollection` response.
    CreateCollectionResponse {
        /// 200.
        status_code: u32,
        /// `aws:rekognition:REGION:ACCOUNT:collection/ID`, as AWS returns it.
        collection_arn: String,
        /// `vector-D`, or `vector` while the dimension is open.
        face_model_version: String,
    }
);
response!(
    /// `DeleteCollection` response.
    DeleteCollectionResponse {
        /// 200.
        status_code: u32,
    }
);
response!(
    /// `DescribeCollection` response.
    DescribeCollectionResponse {
        /// Live faces.
        face_count: u64,
        /// `vector-D`.
        face_model_version: String,
        /// The collection's ARN.
        @rename "CollectionARN" collection_arn: String,
        /// Creation time, epoch seconds.
        creation_timestamp: u64,
        /// Users (with or without faces).
        user_count: u64,
    }
);
response!(
    /// `ListCollections` response.
    ListCollectionsResponse {
        /// Collection ids, sorted.
        collection_ids: Vec<String>,
        /// Present when more collections follow.
        #[serde(skip_serializing_if = "Option::is_none")]
        next_token: Option<String>,
        /// The model version of each listed collection.
        face_model_versions: Vec<String>,
    }
);
response!(
    /// A box in an image, as ratios of its width and height (AWS's
    /// `BoundingBox`: `Left` and `Top` of the top-left corner).
    BoundingBox {
        /// Width / image width.
        width: f64,
        /// Height / image height.
        height: f64,
        /// Left edge / image width.
        left: f64,
        /// Top edge / image height.
        top: f64,
    }
);
response!(
    /// A stored face.
    Face {
        /// Its id.
        face_id: String,
        /// The id shared by all faces of one `IndexFaces` call.
        image_id: String,
        /// The caller's label.
        #[serde(skip_serializing_if = "Option::is_none")]
        external_image_id: Option<String>,
        /// Where the face is in its photo; absent for a vector.
        #[serde(skip_serializing_if = "Option::is_none")]
        bounding_box: Option<BoundingBox>,
        /// The detector's confidence; 100 for a vector (a face for sure).
        confidence: f64,
        /// The user it belongs to.
        #[serde(skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
    }
);
response!(
    /// Detection details; for a vector only a confidence of 100.
    FaceDetail {
        /// Where the face is in its photo; absent for a vector.
        #[serde(skip_serializing_if = "Option::is_none")]
        bounding_box: Option<BoundingBox>,
        /// The points the landmark model gives; absent for a vector.
        #[serde(skip_serializing_if = "Option::is_none")]
        landmarks: Option<Vec<Landmark>>,
        /// The detector's confidence, 0..100; 100 for a vector.
        confidence: f64,
    }
);
response!(
    /// A point of a face, as ratios of the image's width and height.
    Landmark {
        /// `eyeLeft`, `eyeRight`, `nose`, `leftEyeLeft`, ...
        @rename "Type" kind: String,
        /// x / image width.
        @rename "X" x: f64,
        /// y / image height.
        @rename "Y" y: f64,
    }
);
response!(
    /// A face of `CompareFaces`.
    ComparedFace {
        /// Where the face is in its image.
        #[serde(skip_serializing_if = "Option::is_none")]
        bounding_box: Option<BoundingBox>,
        /// The detector's confidence, 0..100.
        confidence: f64,
        /// The points the landmark model gives.
        #[serde(skip_serializing_if = "Option::is_none")]
        landmarks: Option<Vec<Landmark>>,
    }
);
response!(
    /// The source face of `CompareFaces`: the largest in its image.
    ComparedSourceImageFace {
        /// Where the face is in its image.
        #[serde(skip_serializing_if = "Option::is_none")]
        bounding_box: Option<BoundingBox>,
        /// The detector's confidence, 0..100.
        confidence: f64,
    }
);
response!(
    /// A target face similar enough to the source face.
    CompareFacesMatch {
        /// 0..100, calibrated for the face model.
        similarity: f64,
        /// The target face.
        face: ComparedFace,
    }
);
response!(
    /// `CompareFaces` response.
    CompareFacesResponse {
        /// The largest face of the source image.
        source_image_face: ComparedSourceImageFace,
        /// Target faces at or above `SimilarityThreshold`, most similar first.
        face_matches: Vec<CompareFacesMatch>,
        /// The other target faces.
        unmatched_faces: Vec<ComparedFace>,
    }
);
response!(
    /// `DetectFaces` response.
    DetectFacesResponse {
        /// Every face found, largest first.
        face_details: Vec<FaceDetail>,
    }
);
response!(
    /// One indexed face.
    FaceRecord {
        /// The stored face.
        face: Face,
        /// Its details.
        face_detail: FaceDetail,
    }
);
response!(
    /// A row of the image that was not indexed.
    UnindexedFace {
        /// `EXCEEDS_MAX_FACES`.
        reasons: Vec<UnindexedReason>,
        /// Its details.
        face_detail: FaceDetail,
    }
);
response!(
    /// `IndexFaces` response.
    IndexFacesResponse {
        /// The faces stored, in row order.
        face_records: Vec<FaceRecord>,
        /// `vector-D`.
        face_model_version: String,
        /// Rows beyond `MaxFaces`.
        unindexed_faces: Vec<UnindexedFace>,
    }
);
response!(
    /// `ListFaces` response.
    ListFacesResponse {
        /// Faces in indexing order.
        faces: Vec<Face>,
        /// Present when more faces follow.
        #[serde(skip_serializing_if = "Option::is_none")]
        next_token: Option<String>,
        /// `vector-D`.
        face_model_version: String,
    }
);
response!(
    /// A face `DeleteFaces` did not delete.
    UnsuccessfulFaceDeletion {
        /// The face id asked for.
        face_id: String,
        /// Unused.
        #[serde(skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
        /// `FACE_NOT_FOUND`.
        reasons: Vec<FaceReason>,
    }
);
response!(
    /// `DeleteFaces` response.
    DeleteFacesResponse {
        /// Faces deleted.
        deleted_faces: Vec<String>,
        /// Faces not found.
        unsuccessful_face_deletions: Vec<UnsuccessfulFaceDeletion>,
    }
);
response!(
    /// A face found by a search.
    FaceMatch {
        /// 0..100.
        similarity: f64,
        /// The face.
        face: Face,
    }
);
response!(
    /// `SearchFaces` response.
    SearchFacesResponse {
        /// The probe.
        searched_face_id: String,
        /// Best first.
        face_matches: Vec<FaceMatch>,
        /// `vector-D`.
        face_model_version: String,
    }
);
response!(
    /// `SearchFacesByImage` response.
    SearchFacesByImageResponse {
        /// Where the probe face is in the photo; absent for a vector.
        #[serde(skip_serializing_if = "Option::is_none")]
        searched_face_bounding_box: Option<BoundingBox>,
        /// The probe face's confidence; 100 for a vector.
        searched_face_confidence: f64,
        /// Best first.
        face_matches: Vec<FaceMatch>,
        /// `vector-D`.
        face_model_version: String,
    }
);
response!(
    /// `CreateUser` / `DeleteUser` response (empty).
    EmptyResponse {}
);
response!(
    /// A user.
    User {
        /// Its id.
        user_id: String,
        /// `CREATED` or `ACTIVE`.
        user_status: UserStatus,
    }
);
response!(
    /// `ListUsers` response.
    ListUsersResponse {
        /// Users in creation order.
        users: Vec<User>,
        /// Present when more users follow.
        #[serde(skip_serializing_if = "Option::is_none")]
        next_token: Option<String>,
    }
);
response!(
    /// A face id in a result list.
    FaceIdEntry {
        /// The face.
        face_id: String,
    }
);
response!(
    /// A face `AssociateFaces` did not associate.
    UnsuccessfulFaceAssociation {
        /// The face id asked for.
        face_id: String,
        /// The owner for `ASSOCIATED_TO_A_DIFFERENT_USER`, else the requested user.
        user_id: String,
        /// Best similarity to the user's faces, for `LOW_MATCH_CONFIDENCE`.
        #[serde(skip_serializing_if = "Option::is_none")]
        confidence: Option<f64>,
        /// Why.
        reasons: Vec<FaceReason>,
    }
);
response!(
    /// `AssociateFaces` response.
    AssociateFacesResponse {
        /// Faces now (or already) the user's.
        associated_faces: Vec<FaceIdEntry>,
        /// Faces refused.
        unsuccessful_face_associations: Vec<UnsuccessfulFaceAssociation>,
        /// The user's state after the call.
        user_status: UserStatus,
    }
);
response!(
    /// A face `DisassociateFaces` did not remove.
    UnsuccessfulFaceDisassociation {
        /// The face id asked for.
        face_id: String,
        /// The owner for `ASSOCIATED_TO_A_DIFFERENT_USER`, else the requested user.
        user_id: String,
        /// Why.
        reasons: Vec<FaceReason>,
    }
);
response!(
    /// `DisassociateFaces` response.
    DisassociateFacesResponse {
        /// Faces removed from the user.
        disassociated_faces: Vec<FaceIdEntry>,
        /// Faces refused.
        unsuccessful_face_disassociations: Vec<UnsuccessfulFaceDisassociation>,
        /// The user's state after the call.
        user_status: UserStatus,
    }
);
response!(
    /// A user found by a search.
    UserMatch {
        /// 0..100: the best similarity of the user's faces.
        similarity: f64,
        /// The user.
        user: User,
    }
);
response!(
    /// The probe user of `SearchUsers`.
    SearchedUser {
        /// Its id.
        user_id: String,
    }
);
response!(
    /// `SearchUsers` response.
    SearchUsersResponse {
        /// Best first, ties by `UserId`.
        user_matches: Vec<UserMatch>,
        /// `vector-D`.
        face_model_version: String,
        /// The probe face, when searching by `FaceId`.
        #[serde(skip_serializing_if = "Option::is_none")]
        searched_face: Option<FaceIdEntry>,
        /// The probe user, when searching by `UserId`.
        #[serde(skip_serializing_if = "Option::is_none")]
        searched_user: Option<SearchedUser>,
    }
);
response!(
    /// The searched face of `SearchUsersByImage`.
    SearchedFaceDetails {
        /// Its details.
        face_detail: FaceDetail,
    }
);
response!(
    /// A row of the image that was not searched.
    UnsearchedFace {
        /// Its details.
        face_details: FaceDetail,
        /// `FACE_NOT_LARGEST`: only the first row is searched.
        reasons: Vec<UnsearchedReason>,
    }
);
response!(
    /// `SearchUsersByImage` response.
    SearchUsersByImageResponse {
        /// Best first, ties by `UserId`.
        user_matches: Vec<UserMatch>,
        /// `vector-D`.
        face_model_version: String,
        /// The searched row.
        searched_face: SearchedFaceDetails,
        /// The other rows.
        unsearched_faces: Vec<UnsearchedFace>,
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_path() {
        let e = parse::<UserRequest>(r#"{"CollectionId": "c", "UserId": 5}"#).unwrap_err();
        assert!(matches!(e, Error::Serialization(_)), "{e:?}");
        assert!(e.to_string().starts_with("UserId: "), "{e}");
        let e = parse::<UserRequest>(r#"{"CollectionId": "c", "UserId": "u", "Extra": 1}"#)
            .unwrap_err();
        assert!(matches!(e, Error::InvalidParameter(_)), "{e:?}");
        assert!(e.to_string().contains("Extra"), "{e}");
        let e = parse::<IndexFacesRequest>(r#"{"CollectionId": "c", "Image": {"Bytez": ""}}"#)
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Image.Bytez: unknown field `Bytez`"),
            "{e}"
        );
        // Every member has a default: an empty body is a request to check.
        assert_eq!(parse::<UserRequest>("{}").unwrap(), UserRequest::default());
    }

    #[test]
    fn responses_leave_out_absent_members() {
        let r = SearchUsersResponse {
            face_model_version: "vector-4".into(),
            searched_user: Some(SearchedUser {
                user_id: "u".into(),
            }),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"UserMatches":[],"FaceModelVersion":"vector-4","SearchedUser":{"UserId":"u"}}"#
        );
        let d = DescribeCollectionResponse {
            collection_arn: "a".into(),
            ..Default::default()
        };
        assert!(serde_json::to_string(&d).unwrap().contains("CollectionARN"));
    }

    #[test]
    fn checks_name_the_field() {
        assert!(check_collection_id("a.b-c_1").is_ok());
        assert!(check_collection_id("a b")
            .unwrap_err()
            .to_string()
            .starts_with("CollectionId"));
        assert!(check_user_id("UserId", &"x".repeat(129))
            .unwrap_err()
            .to_string()
            .contains("1..128"));
        assert!(parse_face_id("FaceId", "ABCDEF00-0000-4000-8000-000000000000").is_err());
        assert!(parse_face_id("FaceId", "abcdef00-0000-4000-8000-000000000000").is_ok());
        assert!(check_token(Some("a b")).is_err());
        assert!(check_tags(Some(&BTreeMap::from([(
            "aws:x".to_string(),
            String::new()
        )])))
        .is_err());
        assert!(check_tags(Some(&BTreeMap::from([(
            "Équipe 1".to_string(),
            "ok@x".to_string()
        )])))
        .is_ok());
    }
}
