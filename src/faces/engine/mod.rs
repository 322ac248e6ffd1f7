//! The engine: AWS-shaped requests in, responses out, over the
//! collections of a data directory. This file holds the operations (each
//! checks its request, then reads or changes one collection); `state` keeps
//! each collection loaded, locked and up to date with the files.

mod state;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use self::state::{commit, Handle};
use super::codes::FaceCodes;
use super::collection::{
    face_id_string, fingerprint, normalise, page_token, read_page_token, Api, Collection, Op,
    Record, TokenEntry,
};
use super::error::{storage_error, Error};
use super::image::{decode_image, FoundFace, ImageFaces};
use super::model::FaceModel;
use super::operation::{Operation, UnknownOperation};
use super::photo::Pipeline;
use super::search::{exact_cos, similarity};
use super::store::{self, Meta};
use super::wire::{
    self, check_collection_id, check_token, check_user_id, int_in, parse, parse_face_id,
    parse_face_ids, percent, score, AssociateFacesRequest, AssociateFacesResponse,
    CollectionRequest, CompareFacesMatch, CompareFacesRequest, CompareFacesResponse, ComparedFace,
    ComparedSourceImageFace, CreateCollectionRequest, CreateCollectionResponse,
    DeleteCollectionResponse, DeleteFacesRequest, DeleteFacesResponse, DescribeCollectionResponse,
    DetectFacesRequest, DetectFacesResponse, DisassociateFacesRequest, DisassociateFacesResponse,
    EmptyResponse, FaceIdEntry, FaceMatch, FaceRecord, IndexFacesRequest, IndexFacesResponse,
    ListCollectionsRequest, ListCollectionsResponse, ListFacesRequest, ListFacesResponse,
    ListUsersRequest, ListUsersResponse, SearchFacesByImageRequest, SearchFacesByImageResponse,
    SearchFacesRequest, SearchFacesResponse, SearchUsersByImageRequest, SearchUsersByImageResponse,
    SearchUsersRequest, SearchUsersResponse, SearchedFaceDetails, SearchedUser, UnindexedFace,
    UnindexedReason, UnsearchedFace, UnsearchedReason, UserMatch, UserRequest,
};
use super::{
    DEFAULT_ASSOCIATE_THRESHOLD, DEFAULT_FACE_MATCH_THRESHOLD, DEFAULT_USER_SEARCH_THRESHOLD,
};
use crate::storage::LockMode;

const ARN_PREFIX: &str = "aws:rekognition:us-east-1:000000000000:collection/";

/// The face-matching engine over a data directory.
///
/// Every method takes `&self`: share one engine between threads (an
/// `Arc<Engine>`). Searches and other reads of a collection run in
/// parallel; writes to one collection are serialised, and each is on disk
/// before it returns. Other processes may use the same data directory at
/// the same time (a `rollcall serve` and the CLI): their writes are seen by
/// the next call here, and a file lock per collection orders the writers.
pub struct Engine {
    root: PathBuf,
    open: Mutex<HashMap<String, Arc<Handle>>>,
    codes: FaceCodes,
    photos: Pipeline,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn dir_name(id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("c-{hex}")
}

fn token_entry<R: Serialize>(
    api: Api,
    token: Option<&str>,
    fingerprint: String,
    response: &R,
    at: u64,
) -> Option<TokenEntry> {
    token.map(|t| TokenEntry {
        api,
        token: t.to_string(),
        fingerprint,
        response: serde_json::to_string(response).unwrap_or_default(),
        at,
    })
}

/// The page size of `ListCollections` and `ListFaces`: `MaxResults`
/// 0..4096 as the model allows, default 1000.
///
/// `MaxResults: 0` is the default page size, not an empty page. An empty
/// page could only come with the same `NextToken` again (no progress, so
/// an SDK paginator loops forever) or with none (which says the list is
/// over when it is not, so a paginator silently sees nothing). A careful
/// caller who sends 0 means "no preference"; the default is what they get.
/// (`ListUsers`' model minimum is 1: there 0 is `InvalidParameterException`.)
fn page_size(max_results: Option<i64>) -> Result<usize, Error> {
    match int_in("MaxResults", max_results, 0, 4096, 1000)? {
        0 => Ok(1000),
        n => Ok(n),
    }
}

fn to_value<R: Serialize>(r: Result<R, Error>) -> Result<serde_json::Value, Error> {
    serde_json::to_value(r?).map_err(|e| Error::Internal(e.to_string()))
}

impl Engine {
    /// Opens (creating if needed) the Rekognition part of a data directory:
    /// `data_dir/rekognition/`. Collections load on first use.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Engine, Error> {
        let root = data_dir.as_ref().join("rekognition");
        crate::fsmode::create_dir_all(&root)
            .map_err(|e| storage_error("cannot create", &root, e))?;
        store::clean_root(&root).map_err(|e| storage_error("cannot clean", &root, e))?;
        Ok(Engine {
            root,
            open: Mutex::new(HashMap::new()),
            codes: FaceCodes::default(),
            photos: Pipeline::default(),
        })
    }

    /// The same engine, holding the rows of the collections it loads as
    /// `codes` says (default [`FaceCodes::Auto`]). Answers do not depend on
    /// it; speed and memory do.
    ///
    /// ```
    /// use rollcall::faces::{Engine, FaceCodes};
    /// let dir = tempfile::tempdir().unwrap();
    /// let e = Engine::open(dir.path()).unwrap().with_face_codes(FaceCodes::Compact);
    /// e.create_collection_with_dim("c", 2).unwrap();
    /// let x = e.index_face("c", &[1.0, 0.0], None).unwrap();
    /// assert_eq!(e.search_vector("c", &[0.9, 0.1], 1, 0.0).unwrap()[0].face.face_id, x);
    /// ```
    pub fn with_face_codes(mut self, codes: FaceCodes) -> Engine {
        self.codes = codes;
        self
    }

    /// The same engine, reading photos with the models in `dir` (the
    /// `--models DIR` flag) instead of `ROLLCALL_MODELS` or
    /// `$XDG_DATA_HOME/rollcall/models`. The models are loaded when the
    /// first photo comes, never before.
    pub fn with_models_dir(mut self, dir: impl Into<PathBuf>) -> Engine {
        self.photos = Pipeline::new(Some(dir.into()));
        self
    }

    /// Runs one operation from its AWS JSON request body; gives the AWS JSON
    /// response. `operation` is as AWS spells it (`SearchUsers`) or kebab-case
    /// (`search-users`).
    pub fn call(&self, operation: &str, body: &str) -> Result<serde_json::Value, Error> {
        let op: Operation = operation
            .parse()
            .map_err(|e: UnknownOperation| Error::InvalidParameter(e.to_string()))?;
        self.call_operation(op, body)
    }

    /// Runs `op` from its AWS JSON request body; gives the AWS JSON response.
    pub fn call_operation(&self, op: Operation, body: &str) -> Result<serde_json::Value, Error> {
        match op {
            Operation::CreateCollection => to_value(self.create_collection(&parse(body)?)),
            Operation::DeleteCollection => to_value(self.delete_collection(&parse(body)?)),
            Operation::DescribeCollection => to_value(self.describe_collection(&parse(body)?)),
            Operation::ListCollections => to_value(self.list_collections(&parse(body)?)),
            Operation::IndexFaces => to_value(self.index_faces(&parse(body)?)),
            Operation::ListFaces => to_value(self.list_faces(&parse(body)?)),
            Operation::DeleteFaces => to_value(self.delete_faces(&parse(body)?)),
            Operation::SearchFaces => to_value(self.search_faces(&parse(body)?)),
            Operation::SearchFacesByImage => to_value(self.search_faces_by_image(&parse(body)?)),
            Operation::CreateUser => to_value(self.create_user(&parse(body)?)),
            Operation::DeleteUser => to_value(self.delete_user(&parse(body)?)),
            Operation::ListUsers => to_value(self.list_users(&parse(body)?)),
            Operation::AssociateFaces => to_value(self.associate_faces(&parse(body)?)),
            Operation::DisassociateFaces => to_value(self.disassociate_faces(&parse(body)?)),
            Operation::SearchUsers => to_value(self.search_users(&parse(body)?)),
            Operation::SearchUsersByImage => to_value(self.search_users_by_image(&parse(body)?)),
            Operation::DetectFaces => to_value(self.detect_faces(&parse(body)?)),
            Operation::CompareFaces => to_value(self.compare_faces(&parse(body)?)),
        }
    }

    // ---- collections ----

    /// `CreateCollection`; the first face indexed fixes the dimension.
    pub fn create_collection(
        &self,
        req: &CreateCollectionRequest,
    ) -> Result<CreateCollectionResponse, Error> {
        wire::check_tags(req.tags.as_ref())?;
        self.create(&req.collection_id, 0, req.tags.clone().unwrap_or_default())
    }

    /// `CreateCollection` with the dimension fixed up front.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let e = rollcall::faces::Engine::open(dir.path()).unwrap();
    /// let r = e.create_collection_with_dim("c", 128).unwrap();
    /// assert_eq!(r.face_model_version, "vector-128");
    /// assert!(e.index_face("c", &[1.0; 4], None).is_err()); // 4 != 128
    /// ```
    pub fn create_collection_with_dim(
        &self,
        id: &str,
        dim: usize,
    ) -> Result<CreateCollectionResponse, Error> {
        if dim == 0 {
            return Err(Error::invalid("dimension must be at least 1"));
        }
        self.create(id, dim, Default::default())
    }

    fn create(
        &self,
        id: &str,
        dim: usize,
        tags: std::collections::BTreeMap<String, String>,
    ) -> Result<CreateCollectionResponse, Error> {
        check_collection_id(id)?;
        let dir = self.root.join(dir_name(id));
        if dir.exists() {
            return Err(Error::CollectionExists(id.to_string()));
        }
        let meta = Meta {
            collection_id: id.to_string(),
            creation_timestamp: now(),
            dimension: dim,
            tags,
        };
        store::create_dir(&self.root, &dir_name(id), &meta).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::CollectionExists(id.to_string())
            } else {
                storage_error("cannot create", &dir, e)
            }
        })?;
        Ok(CreateCollectionResponse {
            status_code: 200,
            collection_arn: format!("{ARN_PREFIX}{id}"),
            face_model_version: FaceModel::Vectors.version(dim),
        })
    }

    /// `DeleteCollection`: the collection and all its faces and users.
    pub fn delete_collection(
        &self,
        req: &CollectionRequest,
    ) -> Result<DeleteCollectionResponse, Error> {
        let id = &req.collection_id;
        let h = self.handle(id)?;
        let mut g = h.write();
        // No need to load it: it only has to exist, under the exclusive lock.
        let _lock = self.lock_existing(id, &h, &mut g, LockMode::Exclusive)?;
        *g = None;
        self.forget(id, &h);
        store::remove_dir(&self.root, &h.dir)
            .map_err(|e| storage_error("cannot delete", &h.dir, e))?;
        Ok(DeleteCollectionResponse { status_code: 200 })
    }

    /// `DescribeCollection`.
    pub fn describe_collection(
        &self,
        req: &CollectionRequest,
    ) -> Result<DescribeCollectionResponse, Error> {
        self.read(&req.collection_id, |c| {
            Ok(DescribeCollectionResponse {
                face_count: c.face_count() as u64,
                face_model_version: c.model_version(),
                collection_arn: format!("{ARN_PREFIX}{}", c.id()),
                creation_timestamp: c.created(),
                user_count: c.user_count() as u64,
            })
        })
    }

    /// `ListCollections`: ids sorted, paged (`MaxResults` 0..4096, default
    /// 1000; 0 is the default too).
    pub fn list_collections(
        &self,
        req: &ListCollectionsRequest,
    ) -> Result<ListCollectionsResponse, Error> {
        wire::check_next_token(req.next_token.as_deref())?;
        let max = page_size(req.max_results)?;
        let start = usize::try_from(read_page_token("", 'c', req.next_token.as_deref())?)
            .unwrap_or(usize::MAX);
        let mut found = Vec::new();
        let entries = std::fs::read_dir(&self.root)
            .map_err(|e| storage_error("cannot list", &self.root, e))?;
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with("c-") {
                match store::read_meta(&e.path()) {
                    Ok(meta) => found.push((meta, e.path())),
                    // Deleted by another thread or process since the listing.
                    Err(_) if !e.path().exists() => {}
                    Err(err) => return Err(err),
                }
            }
        }
        found.sort_by(|a, b| a.0.collection_id.cmp(&b.0.collection_id));
        let mut resp = ListCollectionsResponse::default();
        for (meta, dir) in found.iter().skip(start).take(max) {
            let id = &meta.collection_id;
            // The dimension without loading the whole collection where the
            // files tell it; else (faces only in the log) load it.
            let (dim, model) = match store::peek_dim(dir, meta) {
                Some(head) => head,
                None => match self.read(id, |c| Ok((c.dim(), c.model()))) {
                    Ok(head) => head,
                    Err(Error::NotFound(_)) => continue,
                    Err(e) => return Err(e),
                },
            };
            resp.collection_ids.push(id.clone());
            resp.face_model_versions.push(model.version(dim));
        }
        // Saturating: a (forged) token far past the end must not wrap
        // around to a token for an earlier page.
        let next = start.saturating_add(max);
        if next < found.len() {
            resp.next_token = Some(page_token("", 'c', next as u64));
        }
        Ok(resp)
    }

    // ---- faces ----

    /// `IndexFaces`: the faces of the photo in `Image.Bytes`, largest first
    /// (or the first [`MAX_FACES_PER_IMAGE`](super::MAX_FACES_PER_IMAGE) rows of a `.npy`); the first
    /// `MaxFaces` that pass the `QualityFilter` are indexed, the others are
    /// `UnindexedFaces` with the reason.
    pub fn index_faces(&self, req: &IndexFacesRequest) -> Result<IndexFacesResponse, Error> {
        check_collection_id(&req.collection_id)?;
        if let Some(x) = &req.external_image_id {
            wire::check_external_image_id("ExternalImageId", x)?;
        }
        wire::check_attributes(req.detection_attributes.as_deref())?;
        let quality = wire::quality_bar(req.quality_filter.as_deref())?;
        let max = int_in("MaxFaces", req.max_faces, 1, i64::MAX, i64::MAX)?;
        let faces = decode_image(&req.image, &self.photos)?;
        self.index_rows(
            &req.collection_id,
            faces,
            req.external_image_id.as_deref(),
            max,
            quality,
        )
    }

    /// Indexes one face vector; gives its `FaceId`.
    pub fn index_face(
        &self,
        collection: &str,
        vector: &[f32],
        external_image_id: Option<&str>,
    ) -> Result<String, Error> {
        if let Some(x) = external_image_id {
            wire::check_external_image_id("ExternalImageId", x)?;
        }
        let faces = ImageFaces {
            model: FaceModel::Vectors,
            dim: vector.len(),
            vectors: vector.to_vec(),
            faces: vec![FoundFace::vector()],
            too_small: Vec::new(),
        };
        let r = self.index_rows(collection, faces, external_image_id, 1, 0.0)?;
        Ok(r.face_records
            .into_iter()
            .next()
            .map(|f| f.face.face_id)
            .unwrap_or_default())
    }

    /// Indexes the faces of an image: in order, each face whose confidence
    /// reaches `quality` while fewer than `max` are kept; the others, and
    /// the faces too small to describe, are `UnindexedFaces`.
    fn index_rows(
        &self,
        collection: &str,
        faces: ImageFaces,
        ext: Option<&str>,
        max: usize,
        quality: f32,
    ) -> Result<IndexFacesResponse, Error> {
        if faces.dim == 0 {
            return Err(Error::invalid("face vector is empty"));
        }
        let mut resp = IndexFacesResponse::default();
        let unindexed = |face: &FoundFace, reason| UnindexedFace {
            reasons: vec![reason],
            face_detail: face.detail(),
        };
        let (mut vectors, mut kept) = (Vec::new(), Vec::new());
        for (i, face) in faces.faces.iter().enumerate() {
            if face.at.is_some_and(|a| a.confidence < quality) {
                resp.unindexed_faces
                    .push(unindexed(face, UnindexedReason::LowConfidence));
            } else if kept.len() >= max {
                resp.unindexed_faces
                    .push(unindexed(face, UnindexedReason::ExceedsMaxFaces));
            } else {
                vectors.extend_from_slice(faces.vector(i));
                kept.push(face);
            }
        }
        for face in &faces.too_small {
            resp.unindexed_faces
                .push(unindexed(face, UnindexedReason::SmallBoundingBox));
        }
        normalise(&mut vectors, faces.dim)?;
        let ids: Vec<u128> = kept
            .iter()
            .map(|_| uuid::Uuid::new_v4().as_u128())
            .collect();
        let image = uuid::Uuid::new_v4().as_u128();
        let op = Op::Index {
            image,
            exts: vec![ext.map(str::to_string); kept.len()],
            dim: faces.dim,
            ids: ids.clone(),
            vectors,
            model: faces.model,
            found: kept.iter().map(|f| f.at).collect(),
        };
        self.write(collection, |l| {
            l.coll.check_dim(faces.dim, faces.model)?;
            if !ids.is_empty() {
                commit(l, op, None)?;
            }
            resp.face_model_version = faces.model_version_in(&l.coll);
            for (id, face) in ids.into_iter().zip(&kept) {
                let row = l.coll.face_row("FaceId", id)?;
                resp.face_records.push(FaceRecord {
                    face: l.coll.face(row),
                    face_detail: face.detail(),
                });
            }
            Ok(resp)
        })
    }

    /// Bulk import: `vectors` holds `vectors.len() / dim` rows; each becomes
    /// a face with the matching external id (if given). Written as one
    /// snapshot (atomic: all faces or none). Gives the new `FaceId`s.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let e = rollcall::faces::Engine::open(dir.path()).unwrap();
    /// e.call("CreateCollection", r#"{"CollectionId": "c"}"#).unwrap();
    /// let ids = e.import_faces("c", vec![1.0, 0.0, 0.0, 1.0], 2, None).unwrap();
    /// assert_eq!(ids.len(), 2);
    /// ```
    pub fn import_faces(
        &self,
        collection: &str,
        mut vectors: Vec<f32>,
        dim: usize,
        external_ids: Option<Vec<String>>,
    ) -> Result<Vec<String>, Error> {
        if dim == 0 || !vectors.len().is_multiple_of(dim) {
            return Err(Error::invalid(format!(
                "{} values do not make rows of length {dim}",
                vectors.len()
            )));
        }
        let rows = vectors.len() / dim;
        let exts = match external_ids {
            None => vec![None; rows],
            Some(x) => {
                check_import_ids(&x, rows)?;
                x.into_iter().map(Some).collect()
            }
        };
        normalise_import(&mut vectors, dim, 0)?;
        let ids: Vec<u128> = (0..rows).map(|_| uuid::Uuid::new_v4().as_u128()).collect();
        let names = ids.iter().map(|&id| face_id_string(id)).collect();
        let image = uuid::Uuid::new_v4().as_u128();
        self.write(collection, |l| {
            l.coll.check_dim(dim, FaceModel::Vectors)?;
            let rec = Record {
                seq: l.coll.last_record() + 1,
                op: Op::Index {
                    image,
                    found: vec![None; exts.len()],
                    exts,
                    dim,
                    ids,
                    vectors,
                    model: FaceModel::Vectors,
                },
                token: None,
            };
            l.coll.apply(rec);
            if let Err(e) = l.store.snapshot(&mut l.coll) {
                // The import is not on disk: forget it in memory too.
                l.store.invalidate();
                return Err(e);
            }
            Ok(names)
        })
    }

    /// Bulk import of `rows` faces of `dim` components streamed in chunks:
    /// `next` gives the next chunk (row-major, a whole number of rows),
    /// `Ok(None)` when there are no more, or an error that stops the
    /// import; each face gets the matching external id, if given. The
    /// faces are written straight into the collection's new snapshot as
    /// they come, so that memory holds one chunk of them at a time (an
    /// AWS-sized import of 20M x 512 is 41 GB of `f32`); the collection is
    /// loaded again from that snapshot on its next use. Atomic like
    /// [`Engine::import_faces`]: a chunk with a bad vector, a chunk of
    /// another width or a stream of another number of rows is an
    /// `InvalidParameterException`, an error of `next` is returned as it
    /// is, and either adds nothing. Gives the new `FaceId`s.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let e = rollcall::faces::Engine::open(dir.path()).unwrap();
    /// e.call("CreateCollection", r#"{"CollectionId": "c"}"#).unwrap();
    /// let mut chunks = vec![vec![1.0, 0.0], vec![0.0, 2.0, 3.0, 4.0]].into_iter();
    /// let ids = e
    ///     .import_faces_streamed("c", 2, 3, None, || Ok(chunks.next()))
    ///     .unwrap();
    /// assert_eq!(ids.len(), 3);
    /// let best = e.search_vector("c", &[0.0, 1.0], 1, 0.0).unwrap();
    /// assert_eq!(best[0].face.face_id, ids[1]);
    /// ```
    pub fn import_faces_streamed(
        &self,
        collection: &str,
        dim: usize,
        rows: usize,
        external_ids: Option<Vec<String>>,
        mut next: impl FnMut() -> Result<Option<Vec<f32>>, Error>,
    ) -> Result<Vec<String>, Error> {
        if dim == 0 {
            return Err(Error::invalid("faces of 0 components"));
        }
        if let Some(x) = &external_ids {
            check_import_ids(x, rows)?;
        }
        let ids: Vec<u128> = (0..rows).map(|_| uuid::Uuid::new_v4().as_u128()).collect();
        let image = uuid::Uuid::new_v4().as_u128();
        // The first bad chunk's error, which the store's I/O error hides.
        let mut bad: Option<Error> = None;
        let mut given = 0usize;
        let mut next_rows = |buf: &mut Vec<f32>| -> std::io::Result<()> {
            buf.clear();
            let checked = match next() {
                Err(e) => Err(e),
                Ok(None) if given == rows => return Ok(()),
                Ok(None) => Err(Error::invalid(format!(
                    "the import gave {given} faces, not the {rows} it announced"
                ))),
                Ok(Some(chunk)) if !chunk.len().is_multiple_of(dim) => {
                    Err(Error::invalid(format!(
                        "a chunk of {} values does not make rows of length {dim}",
                        chunk.len()
                    )))
                }
                Ok(Some(chunk)) if given + chunk.len() / dim > rows => Err(Error::invalid(
                    format!("the import gave more than the {rows} faces it announced"),
                )),
                Ok(Some(mut chunk)) => normalise_import(&mut chunk, dim, given).map(|()| chunk),
            };
            match checked {
                Ok(chunk) => {
                    given += chunk.len() / dim;
                    *buf = chunk;
                    Ok(())
                }
                Err(e) => {
                    bad = Some(e);
                    Err(std::io::Error::other("the import stopped at a bad chunk"))
                }
            }
        };
        let written = self.write(collection, |l| {
            l.coll.check_dim(dim, FaceModel::Vectors)?;
            let mut more = store::Streamed {
                ids: &ids,
                exts: external_ids.as_deref(),
                image,
                dim,
                next: &mut next_rows,
            };
            l.store.snapshot_streamed(&mut l.coll, &mut more)
        });
        match (bad, written) {
            (Some(e), _) => Err(e),
            (None, written) => written.map(|()| ids.into_iter().map(face_id_string).collect()),
        }
    }

    /// Writes a snapshot of the collection now and empties its log.
    pub fn checkpoint(&self, collection: &str) -> Result<(), Error> {
        self.write(collection, |l| {
            l.coll.expire_tokens(now());
            l.store.snapshot(&mut l.coll)
        })
    }

    /// `ListFaces`: faces in indexing order, paged (`MaxResults` 0..4096,
    /// default 1000; 0 is the default too), optionally only a user's or
    /// only given ids.
    pub fn list_faces(&self, req: &ListFacesRequest) -> Result<ListFacesResponse, Error> {
        wire::check_next_token(req.next_token.as_deref())?;
        let max = page_size(req.max_results)?;
        if let Some(u) = &req.user_id {
            check_user_id("UserId", u)?;
        }
        let only = req
            .face_ids
            .as_deref()
            .map(|ids| parse_face_ids("FaceIds", ids, 1, 4096))
            .transpose()?;
        self.read(&req.collection_id, |c| {
            let start = read_page_token(c.id(), 'f', req.next_token.as_deref())?;
            let user = req.user_id.as_deref().map(|u| c.slot_of(u)).transpose()?;
            let (faces, next_token) = c.list_faces(start, max, user, only.as_deref());
            Ok(ListFacesResponse {
                faces,
                next_token,
                face_model_version: c.model_version(),
            })
        })
    }

    /// `DeleteFaces`: 1..4096 ids; deleted faces leave their users too.
    pub fn delete_faces(&self, req: &DeleteFacesRequest) -> Result<DeleteFacesResponse, Error> {
        let ids = parse_face_ids("FaceIds", &req.face_ids, 1, 4096)?;
        self.write(&req.collection_id, |l| {
            let (op, resp) = l.coll.plan_delete_faces(&ids);
            commit(l, op, None)?;
            Ok(resp)
        })
    }

    // ---- face search ----

    fn search_args(max: Option<i64>, threshold: Option<f64>) -> Result<(usize, f32), Error> {
        Ok((
            int_in("MaxFaces", max, 1, 4096, 80)?,
            percent(
                "FaceMatchThreshold",
                threshold,
                DEFAULT_FACE_MATCH_THRESHOLD,
            )?,
        ))
    }

    /// `SearchFaces`: the faces most like a stored face (itself excluded).
    pub fn search_faces(&self, req: &SearchFacesRequest) -> Result<SearchFacesResponse, Error> {
        let id = parse_face_id("FaceId", &req.face_id)?;
        let (k, threshold) = Self::search_args(req.max_faces, req.face_match_threshold)?;
        self.read(&req.collection_id, |c| {
            let row = c.face_row("FaceId", id)?;
            let probe = c.probe_of_face(row)?;
            Ok(SearchFacesResponse {
                searched_face_id: face_id_string(id),
                face_matches: c
                    .search_faces(&probe, k, threshold, Some(row))?
                    .into_iter()
                    .next()
                    .unwrap_or_default(),
                face_model_version: c.model_version(),
            })
        })
    }

    /// `SearchFacesByImage`: the largest face of the photo (the first row
    /// of a `.npy`) is the probe.
    pub fn search_faces_by_image(
        &self,
        req: &SearchFacesByImageRequest,
    ) -> Result<SearchFacesByImageResponse, Error> {
        check_collection_id(&req.collection_id)?;
        let (k, threshold) = Self::search_args(req.max_faces, req.face_match_threshold)?;
        wire::check_quality_filter(req.quality_filter.as_deref())?;
        let faces = decode_image(&req.image, &self.photos)?;
        let (probe, face) = faces.probe()?;
        self.read(&req.collection_id, |c| {
            c.check_dim(faces.dim, faces.model)?;
            Ok(SearchFacesByImageResponse {
                searched_face_bounding_box: face.bounding_box(),
                searched_face_confidence: face.confidence(),
                face_matches: c
                    .search_faces(&Self::probe(c, probe)?, k, threshold, None)?
                    .into_iter()
                    .next()
                    .unwrap_or_default(),
                face_model_version: c.model_version(),
            })
        })
    }

    /// The `k` faces most similar to one probe vector (similarity >= `threshold`).
    pub fn search_vector(
        &self,
        collection: &str,
        probe: &[f32],
        k: usize,
        threshold: f32,
    ) -> Result<Vec<FaceMatch>, Error> {
        self.read(collection, |c| {
            Ok(c.search_faces(&Self::probe(c, probe)?, k, threshold, None)?
                .into_iter()
                .next()
                .unwrap_or_default())
        })
    }

    /// Several probes at once (`probes` row-major, one probe per row): one
    /// result list per probe, computed with blocked matrix multiplication.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let e = rollcall::faces::Engine::open(dir.path()).unwrap();
    /// e.create_collection_with_dim("c", 2).unwrap();
    /// let x = e.index_face("c", &[1.0, 0.0], None).unwrap();
    /// let y = e.index_face("c", &[0.0, 1.0], None).unwrap();
    /// let r = e.search_batch("c", &[1.0, 0.1, 0.1, 1.0], 1, 50.0).unwrap();
    /// assert_eq!((r[0][0].face.face_id.clone(), r[1][0].face.face_id.clone()), (x, y));
    /// ```
    pub fn search_batch(
        &self,
        collection: &str,
        probes: &[f32],
        k: usize,
        threshold: f32,
    ) -> Result<Vec<Vec<FaceMatch>>, Error> {
        self.read(collection, |c| {
            c.search_faces(&Self::probes(c, probes)?, k, threshold, None)
        })
    }

    /// One probe (a search image's face, a single vector): its length must
    /// be the collection's dimension exactly, never a multiple of it.
    fn probe(c: &Collection, probe: &[f32]) -> Result<Vec<f32>, Error> {
        if c.dim() != 0 && probe.len() != c.dim() {
            return Err(Error::invalid(format!(
                "face vector length {} does not match the collection's dimension {}",
                probe.len(),
                c.dim()
            )));
        }
        Self::probes(c, probe)
    }

    fn probes(c: &Collection, probes: &[f32]) -> Result<Vec<f32>, Error> {
        if c.dim() == 0 {
            return Ok(Vec::new());
        }
        if !probes.len().is_multiple_of(c.dim()) || probes.is_empty() {
            return Err(Error::invalid(format!(
                "probe length {} is not a multiple of the collection's dimension {}",
                probes.len(),
                c.dim()
            )));
        }
        let mut p = probes.to_vec();
        normalise(&mut p, c.dim())?;
        Ok(p)
    }

    // ---- users ----

    fn user_args(req: &UserRequest) -> Result<(), Error> {
        check_collection_id(&req.collection_id)?;
        check_user_id("UserId", &req.user_id)?;
        check_token(req.client_request_token.as_deref())
    }

    fn idempotent<R, P>(
        &self,
        collection: &str,
        api: Api,
        token: Option<&str>,
        params: &P,
        plan: impl FnOnce(&Collection) -> Result<(Op, R), Error>,
    ) -> Result<R, Error>
    where
        R: Serialize + DeserializeOwned,
        P: Serialize,
    {
        let at = now();
        let fp = fingerprint(params);
        self.write(collection, |l| {
            if let Some(r) = l.coll.replay(api, token, &fp, at)? {
                return Ok(r);
            }
            let (op, resp) = plan(&l.coll)?;
            commit(l, op, token_entry(api, token, fp, &resp, at))?;
            Ok(resp)
        })
    }

    /// `CreateUser`: the user starts `CREATED`.
    pub fn create_user(&self, req: &UserRequest) -> Result<EmptyResponse, Error> {
        Self::user_args(req)?;
        self.idempotent(
            &req.collection_id,
            Api::CreateUser,
            req.client_request_token.as_deref(),
            &req.user_id,
            |c| Ok((c.plan_create_user(&req.user_id)?, EmptyResponse {})),
        )
    }

    /// `DeleteUser`: its faces stay in the collection, unowned.
    pub fn delete_user(&self, req: &UserRequest) -> Result<EmptyResponse, Error> {
        Self::user_args(req)?;
        self.idempotent(
            &req.collection_id,
            Api::DeleteUser,
            req.client_request_token.as_deref(),
            &req.user_id,
            |c| Ok((c.plan_delete_user(&req.user_id)?, EmptyResponse {})),
        )
    }

    /// `ListUsers`: users in creation order, paged (`MaxResults` 1..500, default 100).
    pub fn list_users(&self, req: &ListUsersRequest) -> Result<ListUsersResponse, Error> {
        wire::check_next_token(req.next_token.as_deref())?;
        let max = int_in("MaxResults", req.max_results, 1, 500, 100)?;
        self.read(&req.collection_id, |c| {
            let start = read_page_token(c.id(), 'u', req.next_token.as_deref())?;
            let (users, next_token) = c.list_users(start, max);
            Ok(ListUsersResponse { users, next_token })
        })
    }

    /// `AssociateFaces`: 1..100 faces to a user (default threshold 75).
    pub fn associate_faces(
        &self,
        req: &AssociateFacesRequest,
    ) -> Result<AssociateFacesResponse, Error> {
        check_collection_id(&req.collection_id)?;
        check_user_id("UserId", &req.user_id)?;
        check_token(req.client_request_token.as_deref())?;
        let ids = parse_face_ids("FaceIds", &req.face_ids, 1, 100)?;
        let threshold = percent(
            "UserMatchThreshold",
            req.user_match_threshold,
            DEFAULT_ASSOCIATE_THRESHOLD,
        )?;
        let params = (&req.user_id, &ids, threshold);
        self.idempotent(
            &req.collection_id,
            Api::AssociateFaces,
            req.client_request_token.as_deref(),
            &params,
            |c| c.plan_associate(&req.user_id, &ids, threshold),
        )
    }

    /// `DisassociateFaces`: 1..100 faces taken from a user.
    pub fn disassociate_faces(
        &self,
        req: &DisassociateFacesRequest,
    ) -> Result<DisassociateFacesResponse, Error> {
        check_collection_id(&req.collection_id)?;
        check_user_id("UserId", &req.user_id)?;
        check_token(req.client_request_token.as_deref())?;
        let ids = parse_face_ids("FaceIds", &req.face_ids, 1, 100)?;
        let params = (&req.user_id, &ids);
        self.idempotent(
            &req.collection_id,
            Api::DisassociateFaces,
            req.client_request_token.as_deref(),
            &params,
            |c| c.plan_disassociate(&req.user_id, &ids),
        )
    }

    // ---- user search ----

    fn user_search_args(max: Option<i64>, threshold: Option<f64>) -> Result<(usize, f32), Error> {
        Ok((
            int_in("MaxUsers", max, 1, 500, 10)?,
            percent(
                "UserMatchThreshold",
                threshold,
                DEFAULT_USER_SEARCH_THRESHOLD,
            )?,
        ))
    }

    /// `SearchUsers` by `FaceId` or by `UserId` (exactly one).
    pub fn search_users(&self, req: &SearchUsersRequest) -> Result<SearchUsersResponse, Error> {
        check_collection_id(&req.collection_id)?;
        let (k, threshold) = Self::user_search_args(req.max_users, req.user_match_threshold)?;
        self.read(&req.collection_id, |c| {
            let mut resp = SearchUsersResponse {
                face_model_version: c.model_version(),
                ..Default::default()
            };
            let (probes, exclude) = match (&req.face_id, &req.user_id) {
                (Some(face), None) => {
                    let id = parse_face_id("FaceId", face)?;
                    resp.searched_face = Some(FaceIdEntry {
                        face_id: face_id_string(id),
                    });
                    (c.probe_of_face(c.face_row("FaceId", id)?)?, None)
                }
                (None, Some(user)) => {
                    check_user_id("UserId", user)?;
                    resp.searched_user = Some(SearchedUser {
                        user_id: user.clone(),
                    });
                    let (p, slot) = c.probes_of_user(user)?;
                    (p, Some(slot))
                }
                _ => {
                    return Err(Error::invalid(
                        "SearchUsers: give exactly one of FaceId and UserId",
                    ))
                }
            };
            resp.user_matches = c.search_users(&probes, k, threshold, exclude)?;
            Ok(resp)
        })
    }

    /// `SearchUsersByImage`: the first row of the `.npy` is the probe.
    pub fn search_users_by_image(
        &self,
        req: &SearchUsersByImageRequest,
    ) -> Result<SearchUsersByImageResponse, Error> {
        check_collection_id(&req.collection_id)?;
        let (k, threshold) = Self::user_search_args(req.max_users, req.user_match_threshold)?;
        wire::check_quality_filter(req.quality_filter.as_deref())?;
        let faces = decode_image(&req.image, &self.photos)?;
        let (probe, face) = faces.probe()?;
        let (user_matches, face_model_version) = self.read(&req.collection_id, |c| {
            c.check_dim(faces.dim, faces.model)?;
            let probe = Self::probe(c, probe)?;
            Ok((
                c.search_users(&probe, k, threshold, None)?,
                faces.model_version_in(c),
            ))
        })?;
        Ok(SearchUsersByImageResponse {
            user_matches,
            face_model_version,
            searched_face: SearchedFaceDetails {
                face_detail: face.detail(),
            },
            unsearched_faces: faces.faces[1..]
                .iter()
                .chain(&faces.too_small)
                .map(|f| UnsearchedFace {
                    face_details: f.detail(),
                    reasons: vec![UnsearchedReason::FaceNotLargest],
                })
                .collect(),
        })
    }

    // ---- photos without a collection ----

    /// `DetectFaces`: every face of the photo, largest first, with its box,
    /// confidence and landmarks (the attributes that need other models,
    /// age, emotions and the like, are never returned).
    pub fn detect_faces(&self, req: &DetectFacesRequest) -> Result<DetectFacesResponse, Error> {
        wire::check_detect_attributes(req.attributes.as_deref())?;
        let faces = decode_image(&req.image, &self.photos)?;
        let mut all: Vec<&FoundFace> = faces.faces.iter().chain(&faces.too_small).collect();
        // Largest first, over described and too-small faces alike.
        all.sort_by(|a, b| area(b).total_cmp(&area(a)));
        Ok(DetectFacesResponse {
            face_details: all.into_iter().map(FoundFace::detail).collect(),
        })
    }

    /// `CompareFaces`: the largest face of `SourceImage` against every face
    /// of `TargetImage`; matches at or above `SimilarityThreshold` (default
    /// 80), most similar first, on the calibrated scale of the faces' model.
    pub fn compare_faces(&self, req: &CompareFacesRequest) -> Result<CompareFacesResponse, Error> {
        let threshold = percent(
            "SimilarityThreshold",
            req.similarity_threshold,
            DEFAULT_FACE_MATCH_THRESHOLD,
        )?;
        let quality = wire::quality_bar(req.quality_filter.as_deref())?;
        let source = decode_image(&req.source_image, &self.photos)?;
        let target = decode_image(&req.target_image, &self.photos)?;
        let (probe, source_face) = source.probe()?;
        if source.dim != target.dim {
            return Err(Error::invalid(format!(
                "SourceImage holds vectors of {} values, TargetImage of {}",
                source.dim, target.dim
            )));
        }
        // A photo on either side makes both descriptors of its model.
        let model = if source.model == FaceModel::Vectors {
            target.model
        } else {
            source.model
        };
        let mut probe = probe.to_vec();
        normalise(&mut probe, source.dim)?;
        let mut resp = CompareFacesResponse {
            source_image_face: ComparedSourceImageFace {
                bounding_box: source_face.bounding_box(),
                confidence: source_face.confidence(),
            },
            ..Default::default()
        };
        let mut matches = Vec::new();
        for (i, face) in target.faces.iter().enumerate() {
            if face.at.is_some_and(|a| a.confidence < quality) {
                resp.unmatched_faces.push(compared(face));
                continue;
            }
            let mut v = target.vector(i).to_vec();
            normalise(&mut v, target.dim)?;
            let sim = model.calibrate(similarity(exact_cos(&probe, &v)));
            if sim >= threshold {
                matches.push((sim, compared(face)));
            } else {
                resp.unmatched_faces.push(compared(face));
            }
        }
        resp.unmatched_faces
            .extend(target.too_small.iter().map(compared));
        // Most similar first; equal similarities keep the target's order.
        matches.sort_by(|a, b| b.0.total_cmp(&a.0));
        resp.face_matches = matches
            .into_iter()
            .map(|(sim, face)| CompareFacesMatch {
                similarity: score(sim),
                face,
            })
            .collect();
        Ok(resp)
    }

    /// The `k` users most similar to a probe vector (a user scores its best face).
    pub fn search_users_by_vector(
        &self,
        collection: &str,
        probe: &[f32],
        k: usize,
        threshold: f32,
    ) -> Result<Vec<UserMatch>, Error> {
        self.read(collection, |c| {
            c.search_users(&Self::probe(c, probe)?, k, threshold, None)
        })
    }
}

/// The area of a face's box, as a fraction of its image (0 for a `.npy` row).
fn area(face: &&FoundFace) -> f32 {
    face.at.map_or(0.0, |a| a.width * a.height)
}

/// A face of `CompareFaces`'s answer.
fn compared(face: &FoundFace) -> ComparedFace {
    let detail = face.detail();
    ComparedFace {
        bounding_box: detail.bounding_box,
        confidence: detail.confidence,
        landmarks: detail.landmarks,
    }
}

/// Checks the external image ids of a bulk import of `rows` faces: one a
/// face, each as `IndexFaces` takes it.
fn check_import_ids(ids: &[String], rows: usize) -> Result<(), Error> {
    if ids.len() != rows {
        return Err(Error::invalid(format!(
            "{} external ids for {rows} vectors",
            ids.len()
        )));
    }
    for (i, e) in ids.iter().enumerate() {
        wire::check_external_image_id(&format!("external id {}", i + 1), e)?;
    }
    Ok(())
}

/// Checks and normalises the rows of a bulk import on all cores, 4096 rows
/// a task; `first` is the import's row number of the first, so that an
/// error says where the bad vector is.
fn normalise_import(vectors: &mut [f32], dim: usize, first: usize) -> Result<(), Error> {
    const TASK: usize = 4096;
    vectors
        .par_chunks_mut(dim * TASK)
        .enumerate()
        .try_for_each(|(i, part)| {
            normalise(part, dim).map_err(|e| match e {
                Error::InvalidParameter(m) => Error::invalid(format!(
                    "{m} (counting from face vector {} of the import)",
                    first + i * TASK
                )),
                e => e,
            })
        })
}
