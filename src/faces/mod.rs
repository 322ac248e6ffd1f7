//! Rekognition face matching, offline: takes AWS-shaped requests (typed or
//! JSON) over collections of face embedding vectors, gives AWS-shaped
//! responses; every acknowledged write is on disk.
//!
//! An [`Engine`] owns `DATA_DIR/rekognition/`, one directory per
//! collection. Faces are vectors: through this API a `&[f32]`, through the
//! JSON API a NumPy `.npy` file base64-encoded in `Image.Bytes`.
//!
//! ```
//! use rollcall::faces::Engine;
//! let dir = tempfile::tempdir().unwrap();
//! let engine = Engine::open(dir.path()).unwrap();
//! engine.create_collection_with_dim("staff", 3).unwrap();
//! let a = engine.index_face("staff", &[1.0, 0.0, 0.0], Some("alice-1")).unwrap();
//! let b = engine.index_face("staff", &[0.9, 0.1, 0.0], Some("alice-2")).unwrap();
//! engine.call("CreateUser", r#"{"CollectionId": "staff", "UserId": "alice"}"#).unwrap();
//! let body = format!(r#"{{"CollectionId": "staff", "UserId": "alice", "FaceIds": ["{a}"]}}"#);
//! engine.call("associate-faces", &body).unwrap();
//! let hits = engine.search_users_by_vector("staff", &[1.0, 0.05, 0.0], 10, 80.0).unwrap();
//! assert_eq!(hits[0].user.user_id, "alice");
//! let faces = engine.search_vector("staff", &[1.0, 0.0, 0.0], 1, 0.0).unwrap();
//! assert_eq!(faces[0].face.face_id, a);
//! # let _ = b;
//! ```
//!
//! # Where things are
//!
//! - `engine`: [`Engine`], one method per operation, each checking its
//!   request and then reading or changing one collection; `engine::state`
//!   keeps every collection loaded, locked and in step with its files.
//! - [`Operation`] (`operation`): the operations served and their names.
//! - `wire`: the AWS JSON shapes and every limit and pattern of the model.
//! - [`Error`] (`error`): why a call failed, one kind per AWS error code.
//! - `image`: `Image.Bytes` to face vectors; `npy`: NumPy files.
//! - `collection`: one collection in memory (planning and applying
//!   changes); `search`: the matrix scan; `codes`: the compact codes it
//!   scans in large collections; `vectors`: the full-precision rows, in
//!   memory or read back from the snapshot file; `rows`: the other
//!   per-face columns and the face-id index.
//! - `store`: the log and snapshots on disk (`store::log`,
//!   `store::snapshot`; the file locks are the crate's `storage`).
//! - `random`: reproducible random vectors for demos and benchmarks.
//! - `photo`: finding faces in real photos and turning them into
//!   vectors (dlib's models), in front of `image`.

mod codec;
mod codes;
mod collection;
mod engine;
mod error;
mod image;
mod model;
mod npy;
mod operation;
pub(crate) mod photo;
mod random;
mod rows;
mod search;
mod store;
mod vectors;
mod wire;

pub use codes::{FaceCodes, AUTO_CODES_MIN_ROWS};
pub use collection::{MAX_FACES_PER_USER, TOKEN_TTL_SECS};
pub use engine::Engine;
pub use error::{Error, StorageError};
pub use image::{MAX_FACES_PER_IMAGE, MAX_IMAGE_BYTES};
pub use npy::{
    decode_npy, npy_bytes, read_npy, read_npy_sized, NpyError, NpyMatrix, NpyRows, ACCEPTED,
};
pub use operation::{Operation, UnknownOperation};
pub use photo::dat::ModelError;
pub use photo::detect::{Detection, Detector};
pub use photo::resnet::{ChipError, FaceNet, CHIP_BYTES, CHIP_SIZE, DESCRIPTOR_LEN};
pub use random::random_vectors;
pub use wire::{
    AssociateFacesRequest, AssociateFacesResponse, BoundingBox, CollectionRequest,
    CompareFacesMatch, CompareFacesRequest, CompareFacesResponse, ComparedFace,
    ComparedSourceImageFace, CreateCollectionRequest, CreateCollectionResponse,
    DeleteCollectionResponse, DeleteFacesRequest, DeleteFacesResponse, DescribeCollectionResponse,
    DetectFacesRequest, DetectFacesResponse, DisassociateFacesRequest, DisassociateFacesResponse,
    EmptyResponse, Face, FaceDetail, FaceIdEntry, FaceMatch, FaceReason, FaceRecord, Image,
    IndexFacesRequest, IndexFacesResponse, Landmark, ListCollectionsRequest,
    ListCollectionsResponse, ListFacesRequest, ListFacesResponse, ListUsersRequest,
    ListUsersResponse, SearchFacesByImageRequest, SearchFacesByImageResponse, SearchFacesRequest,
    SearchFacesResponse, SearchUsersByImageRequest, SearchUsersByImageResponse, SearchUsersRequest,
    SearchUsersResponse, SearchedFaceDetails, SearchedUser, UnindexedFace, UnindexedReason,
    UnsearchedFace, UnsearchedReason, UnsuccessfulFaceAssociation, UnsuccessfulFaceDeletion,
    UnsuccessfulFaceDisassociation, User, UserMatch, UserRequest, UserStatus, QUALITY_HIGH,
    QUALITY_MEDIUM,
};

/// The decoders of untrusted stored bytes (log records, snapshots) and
/// their encoders, for the fuzz targets in `crate::fuzzing`.
pub(crate) mod decoders {
    pub(crate) use super::collection::{Collection, Record};
    pub(crate) use super::store::{
        decode_record, decode_snapshot, encode_record, encode_snapshot, frame, next_record,
    };
}

/// Default `FaceMatchThreshold` of `SearchFaces`.
pub const DEFAULT_FACE_MATCH_THRESHOLD: f32 = 80.0;
/// Default `UserMatchThreshold` of `SearchUsers`.
pub const DEFAULT_USER_SEARCH_THRESHOLD: f32 = 80.0;
/// Default `UserMatchThreshold` of `AssociateFaces`.
pub const DEFAULT_ASSOCIATE_THRESHOLD: f32 = 75.0;
