//! One collection in memory: takes validated requests and gives either a
//! read-only answer or a planned change ([`Op`]) with its response; applies
//! changes (fresh or replayed from the log) deterministically.
//!
//! Vectors live in one contiguous row-major matrix (`vectors`, `dim`
//! columns) with one owner per row (a user slot, [`NO_USER`] or the
//! tombstone [`DELETED`]); [`Collection::compact`] reclaims tombstones and
//! deleted user slots once they make up a quarter of the rows.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::codec::CodecError;
use super::codes::{Codes, FaceCodes};
use super::error::Error;
use super::model::FaceModel;
use super::rows::{FaceColumns, FaceIndex, FaceMeta};
use super::search::{
    best_per_user, exact_cos, similarity, top_faces, top_users, FullRows, Matrix, RowInfo,
    BATCH_MIN_PROBES, DELETED, NO_USER,
};
use super::vectors::Vectors;
use super::wire::{
    score, AssociateFacesResponse, BoundingBox, DeleteFacesResponse, DisassociateFacesResponse,
    Face, FaceIdEntry, FaceMatch, FaceReason, UnsuccessfulFaceAssociation,
    UnsuccessfulFaceDeletion, UnsuccessfulFaceDisassociation, User, UserMatch, UserStatus,
};

/// Most faces one user may hold.
pub const MAX_FACES_PER_USER: usize = 100;
/// How long a `ClientRequestToken` is remembered, in seconds.
pub const TOKEN_TTL_SECS: u64 = 24 * 3600;

/// Where a face was found in its photo: the box as AWS gives it (ratios
/// of the image's width and height) and the detector's confidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FoundAt {
    pub(crate) left: f32,
    pub(crate) top: f32,
    pub(crate) width: f32,
    pub(crate) height: f32,
    /// 0..100.
    pub(crate) confidence: f32,
}

impl FoundAt {
    /// The box in AWS's shape.
    pub(crate) fn bounding_box(&self) -> BoundingBox {
        BoundingBox {
            width: score(self.width),
            height: score(self.height),
            left: score(self.left),
            top: score(self.top),
        }
    }
}

/// A user slot; deleted slots stay until compaction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UserSlot {
    pub(crate) id: String,
    pub(crate) seq: u64,
    pub(crate) faces: Vec<u32>,
    pub(crate) deleted: bool,
}

/// A change to a collection, as logged: ids only, never row numbers, so
/// that replay does not depend on compaction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// New faces (vectors already normalised, `ids.len() * dim` values) of
    /// `model`, with where each was found when it came from a photo.
    Index {
        image: u128,
        exts: Vec<Option<String>>,
        dim: usize,
        ids: Vec<u128>,
        vectors: Vec<f32>,
        model: FaceModel,
        found: Vec<Option<FoundAt>>,
    },
    DeleteFaces(Vec<u128>),
    CreateUser(String),
    DeleteUser(String),
    Associate(String, Vec<u128>),
    Disassociate(String, Vec<u128>),
    /// Nothing changes; the record only remembers a token.
    Nothing,
}

/// The idempotent APIs, as keys of the token table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Api {
    CreateUser = 1,
    DeleteUser = 2,
    AssociateFaces = 3,
    DisassociateFaces = 4,
}

impl Api {
    pub(crate) fn from_u8(v: u8) -> Option<Api> {
        [
            Api::CreateUser,
            Api::DeleteUser,
            Api::AssociateFaces,
            Api::DisassociateFaces,
        ]
        .into_iter()
        .find(|a| *a as u8 == v)
    }
}

/// A remembered `ClientRequestToken` and the first response it got.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TokenEntry {
    pub(crate) api: Api,
    pub(crate) token: String,
    pub(crate) fingerprint: String,
    pub(crate) response: String,
    pub(crate) at: u64,
}

/// One logged change.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub(crate) seq: u64,
    pub(crate) op: Op,
    pub(crate) token: Option<TokenEntry>,
}

/// A collection's whole state. Its rows are parallel arrays (`vectors`,
/// `owner`, `faces`, `ids`) with indexes over them, kept in step by this
/// file alone: changes come through [`Collection::apply`], and a snapshot
/// comes back through [`Collection::from_snapshot`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Collection {
    id: String,
    created: u64,
    /// Embedding dimension; 0 until fixed.
    dim: usize,
    /// The face model, fixed with the dimension by the first face.
    model: FaceModel,
    /// The rows at full precision (in memory, or in the snapshot file for
    /// a collection with codes: see [`Vectors`]).
    vectors: Vectors,
    owner: Vec<u32>,
    /// Image, sequence number, external id and box of each row.
    faces: FaceColumns,
    /// Face id per row (beside `faces` so the scan reads it as a flat array).
    ids: Vec<u128>,
    /// The live rows by face id (tombstoned rows are not in it).
    face_index: FaceIndex,
    users: Vec<UserSlot>,
    user_index: HashMap<String, u32>,
    next_seq: u64,
    tokens: HashMap<(Api, String), TokenEntry>,
    /// Sequence number of the last applied record.
    last_record: u64,
    /// Compact codes of the rows, scanned instead of `vectors` when
    /// present; always present when `vectors` keeps rows in a file.
    codes: Option<Codes>,
    /// Whether the collection keeps compact codes.
    codes_mode: FaceCodes,
}

/// What a snapshot holds of a collection besides its matrix, as decoded
/// and not yet checked: [`Collection::from_snapshot`] checks it.
#[derive(Debug, Default)]
pub(crate) struct SnapshotParts {
    pub(crate) id: String,
    pub(crate) created: u64,
    pub(crate) dim: usize,
    pub(crate) model: FaceModel,
    pub(crate) next_seq: u64,
    pub(crate) last_record: u64,
    /// Per row: face id, metadata, owner.
    pub(crate) ids: Vec<u128>,
    pub(crate) faces: FaceColumns,
    pub(crate) owner: Vec<u32>,
    /// Per user slot: id, sequence number, face rows.
    pub(crate) users: Vec<(String, u64, Vec<u32>)>,
    pub(crate) tokens: Vec<TokenEntry>,
}

pub(crate) fn face_id_string(id: u128) -> String {
    uuid::Uuid::from_u128(id).hyphenated().to_string()
}

/// Checks and L2-normalises `rows` vectors of `dim` values in place.
pub(crate) fn normalise(vectors: &mut [f32], dim: usize) -> Result<(), Error> {
    for (i, v) in vectors.chunks_exact_mut(dim.max(1)).enumerate() {
        if let Some(bad) = v.iter().find(|x| !x.is_finite()) {
            return Err(Error::invalid(format!(
                "face vector {i}: holds {bad}; every value must be finite"
            )));
        }
        let norm = v
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>()
            .sqrt();
        if norm == 0.0 || !norm.is_finite() {
            return Err(Error::invalid(format!(
                "face vector {i}: has zero length; it cannot be normalised"
            )));
        }
        for x in v.iter_mut() {
            *x = (f64::from(*x) / norm) as f32;
        }
    }
    Ok(())
}

impl Collection {
    /// An empty collection.
    pub(crate) fn new(id: String, created: u64, dim: usize) -> Self {
        Collection {
            id,
            created,
            dim,
            ..Default::default()
        }
    }

    /// The collection a snapshot describes, its matrix still empty (see
    /// [`Collection::set_matrix`]): rows, users and tokens must be
    /// consistent (unique ids, owners and users' face lists agreeing).
    pub(crate) fn from_snapshot(p: SnapshotParts) -> Result<Collection, CodecError> {
        let mut c = Collection::new(p.id, p.created, p.dim);
        c.model = p.model;
        c.next_seq = p.next_seq;
        c.last_record = p.last_record;
        let n = p.ids.len();
        if p.faces.len() != n || p.owner.len() != n {
            return Err(CodecError("rows disagree"));
        }
        u32::try_from(n).map_err(|_| CodecError("too many faces"))?;
        c.face_index.reserve(n, &p.ids);
        for row in 0..n as u32 {
            if c.face_index.insert(&p.ids, row).is_err() {
                return Err(CodecError("face id twice"));
            }
        }
        (c.ids, c.faces, c.owner) = (p.ids, p.faces, p.owner);
        // Each owned row is in its owner's list, once.
        let mut listed = vec![false; n];
        let mut listed_count = 0usize;
        for (slot, (id, seq, faces)) in p.users.into_iter().enumerate() {
            let slot = u32::try_from(slot).map_err(|_| CodecError("too many users"))?;
            for &f in &faces {
                match listed.get_mut(f as usize) {
                    None => return Err(CodecError("face row out of range")),
                    Some(seen) if *seen || c.owner[f as usize] != slot => {
                        return Err(CodecError("user's faces disagree with their owners"))
                    }
                    Some(seen) => *seen = true,
                }
            }
            listed_count += faces.len();
            if c.user_index.insert(id.clone(), slot).is_some() {
                return Err(CodecError("user id twice"));
            }
            c.users.push(UserSlot {
                id,
                seq,
                faces,
                deleted: false,
            });
        }
        if c.owner
            .iter()
            .any(|&o| o < DELETED && o as usize >= c.users.len())
        {
            return Err(CodecError("owner out of range"));
        }
        if c.owner.iter().filter(|&&o| o < DELETED).count() != listed_count {
            return Err(CodecError("user's faces disagree with their owners"));
        }
        for t in p.tokens {
            if c.tokens.insert((t.api, t.token.clone()), t).is_some() {
                return Err(CodecError("token twice"));
            }
        }
        Ok(c)
    }

    /// Gives a collection from [`Collection::from_snapshot`] its matrix:
    /// one row of `dim` values per face, in memory.
    pub(crate) fn set_matrix(&mut self, vectors: Vec<f32>) -> Result<(), CodecError> {
        if self.faces.len().checked_mul(self.dim) != Some(vectors.len()) {
            return Err(CodecError("matrix size does not match faces"));
        }
        self.vectors = Vectors::in_memory(self.dim, vectors);
        Ok(())
    }

    /// Gives a collection from [`Collection::from_snapshot`] its matrix as
    /// compact codes, its full-precision rows left in a file (`vectors`):
    /// one row of each per face.
    pub(crate) fn set_coded_matrix(
        &mut self,
        codes: Codes,
        vectors: Vectors,
    ) -> Result<(), CodecError> {
        if codes.len() != self.faces.len() || vectors.values() != self.faces.len() * self.dim {
            return Err(CodecError("matrix size does not match faces"));
        }
        self.vectors = vectors;
        self.codes = Some(codes);
        Ok(())
    }

    /// Whether the collection scans compact codes for single probes, and
    /// so reads its full-precision rows from its snapshot file.
    pub(crate) fn has_codes(&self) -> bool {
        self.codes.is_some()
    }

    /// After a snapshot of this collection was written to `file`, its rows
    /// from byte `start` on: a collection with codes reads its rows from
    /// there from now on and frees their memory (one without keeps them in
    /// memory, for its scans).
    pub(crate) fn rows_written_to(&mut self, file: std::fs::File, start: u64) {
        if self.codes.is_some() {
            self.vectors.move_to_file(file, start);
        }
    }

    /// The collection's id.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Creation time, epoch seconds.
    pub(crate) fn created(&self) -> u64 {
        self.created
    }

    /// The embedding dimension; 0 until the first face fixes it.
    pub(crate) fn dim(&self) -> usize {
        self.dim
    }

    /// The next sequence number of a face or user.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The sequence number of the last record applied.
    pub(crate) fn last_record(&self) -> u64 {
        self.last_record
    }

    /// The rows at full precision (dead rows included).
    pub(crate) fn vectors(&self) -> &Vectors {
        &self.vectors
    }

    /// Every row (dead ones included): face id, metadata, owner.
    pub(crate) fn rows(&self) -> impl ExactSizeIterator<Item = (u128, FaceMeta<'_>, u32)> {
        self.ids
            .iter()
            .zip(&self.owner)
            .enumerate()
            .map(|(row, (&id, &o))| {
                let meta = self.faces.get(row).unwrap_or(FaceMeta {
                    image: 0,
                    seq: 0,
                    ext: None,
                    found: None,
                });
                (id, meta, o)
            })
    }

    /// Every user slot, in slot order.
    pub(crate) fn user_slots(&self) -> &[UserSlot] {
        &self.users
    }

    /// The remembered tokens in (api, token) order, so that one state
    /// always encodes to the same bytes.
    pub(crate) fn sorted_tokens(&self) -> Vec<&TokenEntry> {
        let mut tokens: Vec<_> = self.tokens.values().collect();
        tokens.sort_by(|a, b| (a.api as u8, &a.token).cmp(&(b.api as u8, &b.token)));
        tokens
    }

    /// Chooses how the rows are held for scanning (see [`FaceCodes`]) and
    /// builds the compact codes if it wants them. Codes once built stay
    /// while the collection is loaded (a collection that shrinks below
    /// [`FaceCodes::Auto`]'s size keeps them until it is loaded again).
    pub(crate) fn set_codes(&mut self, mode: FaceCodes) {
        self.codes_mode = mode;
        self.fit_codes();
    }

    /// Builds the codes when the mode wants them and they are missing.
    /// Without codes every row is in memory (only a collection with codes
    /// keeps rows in a file).
    fn fit_codes(&mut self) {
        if self.codes.is_some() || self.dim == 0 || !self.codes_mode.wants(self.faces.len()) {
            return;
        }
        if let Some(all) = self.vectors.all_in_memory() {
            let mut codes = Codes::new(self.dim);
            codes.extend(all);
            self.codes = Some(codes);
        }
    }

    pub(crate) fn model_version(&self) -> String {
        self.model.version(self.dim)
    }

    /// The face model, fixed by the first face.
    pub(crate) fn model(&self) -> FaceModel {
        self.model
    }

    pub(crate) fn face_count(&self) -> usize {
        self.face_index.len()
    }

    pub(crate) fn user_count(&self) -> usize {
        self.user_index.len()
    }

    pub(crate) fn status(&self, slot: u32) -> UserStatus {
        match self.users.get(slot as usize) {
            Some(u) if !u.faces.is_empty() => UserStatus::Active,
            _ => UserStatus::Created,
        }
    }

    /// Row `row` at full precision (read from the snapshot file if it is
    /// there).
    fn vector(&self, row: usize) -> Result<Vec<f32>, Error> {
        let mut buf = Vec::new();
        match self.vectors.row(row, &mut buf) {
            Ok(v) => Ok(v.to_vec()),
            Err(e) => Err(search_error(&self.id, e)),
        }
    }

    fn user_slot(&self, user: &str) -> Result<u32, Error> {
        self.user_index.get(user).copied().ok_or_else(|| {
            Error::NotFound(format!(
                "user '{user}' does not exist in collection '{}'",
                self.id
            ))
        })
    }

    /// The row of face `id`. A face id the collection does not hold is a
    /// bad parameter, not a missing resource (as AWS answers `SearchFaces`
    /// and `SearchUsers`): `InvalidParameterException`.
    pub(crate) fn face_row(&self, field: &str, id: u128) -> Result<usize, Error> {
        self.face_index
            .get(&self.ids, id)
            .map(|r| r as usize)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "{field}: face '{}' was not found in collection '{}'",
                    face_id_string(id),
                    self.id
                ))
            })
    }

    /// The wire form of the face in `row`.
    pub(crate) fn face(&self, row: usize) -> Face {
        let meta = self.faces.get(row);
        Face {
            face_id: self
                .ids
                .get(row)
                .map(|&id| face_id_string(id))
                .unwrap_or_default(),
            image_id: meta.map(|m| face_id_string(m.image)).unwrap_or_default(),
            external_image_id: meta.and_then(|m| m.ext.map(str::to_string)),
            bounding_box: meta.and_then(|m| m.found).map(|f| f.bounding_box()),
            confidence: meta
                .and_then(|m| m.found)
                .map_or(100.0, |f| score(f.confidence)),
            user_id: self
                .owner
                .get(row)
                .and_then(|&o| self.users.get(o as usize))
                .map(|u| u.id.clone()),
        }
    }

    /// Fails unless vectors of length `dim` of `model` fit this
    /// collection: a collection of photos' descriptors takes vectors too,
    /// as descriptors of the same model; one of vectors takes no photo.
    pub(crate) fn check_dim(&self, dim: usize, model: FaceModel) -> Result<(), Error> {
        if self.dim != 0 && self.model == FaceModel::Vectors && model != FaceModel::Vectors {
            return Err(Error::invalid(format!(
                "collection '{}' holds vectors of {} values (FaceModelVersion {}); its faces cannot come from photos",
                self.id,
                self.dim,
                self.model_version()
            )));
        }
        if self.dim != 0 && dim != self.dim {
            return Err(Error::invalid(format!(
                "face vector length {dim} does not match the collection's dimension {}",
                self.dim
            )));
        }
        Ok(())
    }

    /// The response remembered for `token`, or a mismatch error, or `None`
    /// for a new token.
    pub(crate) fn replay<R: DeserializeOwned>(
        &self,
        api: Api,
        token: Option<&str>,
        fingerprint: &str,
        now: u64,
    ) -> Result<Option<R>, Error> {
        let Some(token) = token else { return Ok(None) };
        match self.tokens.get(&(api, token.to_string())) {
            Some(e) if e.at.saturating_add(TOKEN_TTL_SECS) > now => {
                if e.fingerprint != fingerprint {
                    return Err(Error::TokenMismatch(format!(
                        "ClientRequestToken '{token}' was used with other parameters"
                    )));
                }
                serde_json::from_str(&e.response)
                    .map(Some)
                    .map_err(|e| Error::Internal(e.to_string()))
            }
            _ => Ok(None),
        }
    }

    // ---- applying changes ----

    /// Applies a record (fresh or replayed).
    pub(crate) fn apply(&mut self, rec: Record) {
        match rec.op {
            Op::Index {
                image,
                exts,
                dim,
                ids,
                vectors,
                model,
                found,
            } => {
                if self.dim == 0 {
                    self.dim = dim;
                    self.model = model;
                }
                if dim == self.dim
                    && ids.len().checked_mul(dim) == Some(vectors.len())
                    && exts.len() == ids.len()
                    && found.len() == ids.len()
                {
                    if let Some(codes) = &mut self.codes {
                        codes.extend(&vectors);
                    }
                    if self.vectors.is_empty() {
                        self.vectors = Vectors::in_memory(dim, vectors);
                    } else {
                        self.vectors.extend(vectors);
                    }
                    self.face_index.reserve(ids.len(), &self.ids);
                    for ((id, ext), found) in ids.into_iter().zip(exts).zip(found) {
                        let row = self.faces.len() as u32;
                        self.faces.push(FaceMeta {
                            image,
                            seq: self.next_seq,
                            ext: ext.as_deref(),
                            found,
                        });
                        self.ids.push(id);
                        // Ids are fresh v4 UUIDs; one seen before (only in
                        // a forged log) is a dead row, so that no state
                        // holds an id twice (its snapshot would not load).
                        let owner = match self.face_index.insert(&self.ids, row) {
                            Ok(()) => NO_USER,
                            Err(_) => DELETED,
                        };
                        self.owner.push(owner);
                        self.next_seq += 1;
                    }
                    self.fit_codes();
                }
            }
            Op::DeleteFaces(ids) => {
                for id in ids {
                    if let Some(row) = self.face_index.remove(&self.ids, id) {
                        self.release(row);
                        if let Some(o) = self.owner.get_mut(row as usize) {
                            *o = DELETED;
                        }
                    }
                }
                self.compact_if_sparse();
            }
            // Planned only for a new user; one that exists (only in a
            // forged log) changes nothing.
            Op::CreateUser(user) if self.user_index.contains_key(&user) => {}
            Op::CreateUser(user) => {
                let slot = self.users.len() as u32;
                self.users.push(UserSlot {
                    id: user.clone(),
                    seq: self.next_seq,
                    faces: Vec::new(),
                    deleted: false,
                });
                self.user_index.insert(user, slot);
                self.next_seq += 1;
            }
            Op::DeleteUser(user) => {
                if let Some(slot) = self.user_index.remove(&user) {
                    if let Some(u) = self.users.get_mut(slot as usize) {
                        u.deleted = true;
                        for row in std::mem::take(&mut u.faces) {
                            if let Some(o) = self.owner.get_mut(row as usize) {
                                *o = NO_USER;
                            }
                        }
                    }
                    self.compact_if_sparse();
                }
            }
            Op::Associate(user, ids) => {
                if let Some(&slot) = self.user_index.get(&user) {
                    for id in ids {
                        let Some(row) = self.face_index.get(&self.ids, id) else {
                            continue;
                        };
                        if self.owner.get(row as usize) == Some(&NO_USER) {
                            self.owner[row as usize] = slot;
                            if let Some(u) = self.users.get_mut(slot as usize) {
                                u.faces.push(row);
                            }
                        }
                    }
                }
            }
            Op::Disassociate(user, ids) => {
                if let Some(&slot) = self.user_index.get(&user) {
                    for id in ids {
                        let Some(row) = self.face_index.get(&self.ids, id) else {
                            continue;
                        };
                        if self.owner.get(row as usize) == Some(&slot) {
                            self.release(row);
                        }
                    }
                }
            }
            Op::Nothing => {}
        }
        if let Some(t) = rec.token {
            self.tokens.insert((t.api, t.token.clone()), t);
        }
        self.last_record = rec.seq;
    }

    /// Takes `row` away from its user, if it has one.
    fn release(&mut self, row: u32) {
        let Some(o) = self.owner.get_mut(row as usize) else {
            return;
        };
        if let Some(u) = self.users.get_mut(*o as usize) {
            u.faces.retain(|&r| r != row);
        }
        if *o != DELETED {
            *o = NO_USER;
        }
    }

    fn compact_if_sparse(&mut self) {
        let dead_rows = self.faces.len() - self.face_index.len();
        let dead_users = self.users.len() - self.user_index.len();
        if dead_rows * 4 > self.faces.len() || dead_users * 4 > self.users.len() {
            self.compact();
        }
    }

    /// Drops tombstoned rows and deleted user slots, keeping the order of
    /// the rest (so paging tokens, keyed on sequence numbers, stay valid).
    pub(crate) fn compact(&mut self) {
        let mut slot_map = vec![NO_USER; self.users.len()];
        let mut users = Vec::with_capacity(self.user_index.len());
        for (old, u) in std::mem::take(&mut self.users).into_iter().enumerate() {
            if !u.deleted {
                slot_map[old] = users.len() as u32;
                users.push(u);
            }
        }
        let keep: Vec<bool> = self.owner.iter().map(|&o| o != DELETED).collect();
        if let Some(codes) = &mut self.codes {
            codes.retain(&keep);
        }
        self.vectors.retain(&keep);
        self.faces.retain(&keep);
        let mut row_map = vec![u32::MAX; self.ids.len()];
        let mut kept = 0usize;
        for (row, new_row) in row_map.iter_mut().enumerate() {
            let o = self.owner[row];
            if o == DELETED {
                continue;
            }
            if kept != row {
                self.ids.swap(kept, row);
            }
            self.owner[kept] = slot_map.get(o as usize).copied().unwrap_or(NO_USER);
            *new_row = kept as u32;
            kept += 1;
        }
        self.ids.truncate(kept);
        self.owner.truncate(kept);
        for u in &mut users {
            for r in &mut u.faces {
                *r = row_map[*r as usize];
            }
        }
        self.users = users;
        self.face_index = FaceIndex::of_all(&self.ids);
        self.user_index = self
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.id.clone(), i as u32))
            .collect();
    }

    /// Drops tokens older than 24 hours.
    pub(crate) fn expire_tokens(&mut self, now: u64) {
        self.tokens
            .retain(|_, e| e.at.saturating_add(TOKEN_TTL_SECS) > now);
    }

    // ---- planning changes ----

    pub(crate) fn plan_create_user(&self, user: &str) -> Result<Op, Error> {
        if self.user_index.contains_key(user) {
            return Err(Error::Conflict(format!(
                "user '{user}' already exists in collection '{}'",
                self.id
            )));
        }
        Ok(Op::CreateUser(user.to_string()))
    }

    pub(crate) fn plan_delete_user(&self, user: &str) -> Result<Op, Error> {
        self.user_slot(user)?;
        Ok(Op::DeleteUser(user.to_string()))
    }

    pub(crate) fn plan_delete_faces(&self, ids: &[u128]) -> (Op, DeleteFacesResponse) {
        let mut resp = DeleteFacesResponse::default();
        let mut gone = Vec::new();
        for &id in ids {
            if self.face_index.get(&self.ids, id).is_some() {
                gone.push(id);
                resp.deleted_faces.push(face_id_string(id));
            } else {
                resp.unsuccessful_face_deletions
                    .push(UnsuccessfulFaceDeletion {
                        face_id: face_id_string(id),
                        user_id: None,
                        reasons: vec![FaceReason::FaceNotFound],
                    });
            }
        }
        (Op::DeleteFaces(gone), resp)
    }

    pub(crate) fn plan_associate(
        &self,
        user: &str,
        ids: &[u128],
        threshold: f32,
    ) -> Result<(Op, AssociateFacesResponse), Error> {
        let slot = self.user_slot(user)?;
        let existing: Vec<u32> = self
            .users
            .get(slot as usize)
            .map(|u| u.faces.clone())
            .unwrap_or_default();
        let mut resp = AssociateFacesResponse::default();
        let mut new_ids = Vec::new();
        let fail = |id: u128, owner: &str, reason, confidence| UnsuccessfulFaceAssociation {
            face_id: face_id_string(id),
            user_id: owner.to_string(),
            confidence,
            reasons: vec![reason],
        };
        for &id in ids {
            let Some(row) = self.face_index.get(&self.ids, id) else {
                resp.unsuccessful_face_associations.push(fail(
                    id,
                    user,
                    FaceReason::FaceNotFound,
                    None,
                ));
                continue;
            };
            let owner = self.owner.get(row as usize).copied().unwrap_or(NO_USER);
            if owner == slot {
                resp.associated_faces.push(FaceIdEntry {
                    face_id: face_id_string(id),
                });
                continue;
            }
            if let Some(other) = self.users.get(owner as usize) {
                resp.unsuccessful_face_associations.push(fail(
                    id,
                    &other.id,
                    FaceReason::AssociatedToADifferentUser,
                    None,
                ));
                continue;
            }
            if !existing.is_empty() {
                let probe = self.vector(row as usize)?;
                let mut best = 0.0f32;
                for &r in &existing {
                    best = best.max(similarity(exact_cos(&self.vector(r as usize)?, &probe)));
                }
                let best = self.model.calibrate(best);
                if best < threshold {
                    resp.unsuccessful_face_associations.push(fail(
                        id,
                        user,
                        FaceReason::LowMatchConfidence,
                        Some(score(best)),
                    ));
                    continue;
                }
            }
            new_ids.push(id);
            resp.associated_faces.push(FaceIdEntry {
                face_id: face_id_string(id),
            });
        }
        let total = existing.len() + new_ids.len();
        if total > MAX_FACES_PER_USER {
            return Err(Error::QuotaExceeded(format!(
                "user '{user}' would hold {total} faces; a user holds at most {MAX_FACES_PER_USER}"
            )));
        }
        resp.user_status = if total > 0 {
            UserStatus::Active
        } else {
            UserStatus::Created
        };
        Ok((Op::Associate(user.to_string(), new_ids), resp))
    }

    pub(crate) fn plan_disassociate(
        &self,
        user: &str,
        ids: &[u128],
    ) -> Result<(Op, DisassociateFacesResponse), Error> {
        let slot = self.user_slot(user)?;
        let mut resp = DisassociateFacesResponse::default();
        let mut gone = Vec::new();
        for &id in ids {
            let fail = |owner: &str, reason| UnsuccessfulFaceDisassociation {
                face_id: face_id_string(id),
                user_id: owner.to_string(),
                reasons: vec![reason],
            };
            let Some(row) = self.face_index.get(&self.ids, id) else {
                resp.unsuccessful_face_disassociations
                    .push(fail(user, FaceReason::FaceNotFound));
                continue;
            };
            let owner = self.owner.get(row as usize).copied().unwrap_or(NO_USER);
            if owner == slot {
                gone.push(id);
                resp.disassociated_faces.push(FaceIdEntry {
                    face_id: face_id_string(id),
                });
            } else if let Some(other) = self.users.get(owner as usize) {
                resp.unsuccessful_face_disassociations
                    .push(fail(&other.id, FaceReason::AssociatedToADifferentUser));
            }
        }
        let left = self.users.get(slot as usize).map_or(0, |u| u.faces.len()) - gone.len();
        resp.user_status = if left > 0 {
            UserStatus::Active
        } else {
            UserStatus::Created
        };
        Ok((Op::Disassociate(user.to_string(), gone), resp))
    }

    // ---- searching ----

    /// The `k` best live faces for each probe (row-major, `dim` columns),
    /// similarity >= `threshold`, excluding `exclude`. Similarities and the
    /// threshold are on the collection's calibrated scale
    /// ([`FaceModel::calibrate`]); the scan ranks by the exact cosine.
    pub(crate) fn search_faces(
        &self,
        probes: &[f32],
        k: usize,
        threshold: f32,
        exclude: Option<usize>,
    ) -> Result<Vec<Vec<FaceMatch>>, Error> {
        let rows = RowInfo {
            owner: &self.owner,
            face_ids: &self.ids,
        };
        let hits = top_faces(
            self.matrix(probes)?,
            &self.vectors,
            self.dim,
            probes,
            &rows,
            k,
            self.model.raw_threshold(threshold),
            exclude,
        )
        .map_err(|e| search_error(&self.id, e))?;
        Ok(hits
            .into_iter()
            .map(|hits| {
                hits.into_iter()
                    .filter_map(|h| {
                        let sim = self.model.calibrate(h.sim);
                        (sim >= threshold).then(|| FaceMatch {
                            similarity: score(sim),
                            face: self.face(h.index as usize),
                        })
                    })
                    .collect()
            })
            .collect())
    }

    /// The rows as a scan with `probes` (row-major) reads them: the codes
    /// when there are any, except for batches, which are compute-bound and
    /// read the full-precision rows while those are in memory (rows kept
    /// in a file are never scanned: their codes are).
    fn matrix(&self, probes: &[f32]) -> Result<Matrix<'_>, Error> {
        let batch = probes.len() >= BATCH_MIN_PROBES * self.dim.max(1);
        match (&self.codes, self.vectors.all_in_memory()) {
            (Some(codes), None) => Ok(Matrix::Compact(codes)),
            (Some(codes), Some(_)) if !batch => Ok(Matrix::Compact(codes)),
            (_, Some(data)) => Ok(Matrix::Dense {
                data,
                dim: self.dim,
            }),
            (None, None) => Err(Error::Internal(format!(
                "collection {} keeps its rows in a file but has no codes to scan",
                self.id
            ))),
        }
    }

    /// The probe vector of face `row`.
    pub(crate) fn probe_of_face(&self, row: usize) -> Result<Vec<f32>, Error> {
        self.vector(row)
    }

    /// The probe vectors of a user's faces (row-major) and its slot.
    pub(crate) fn probes_of_user(&self, user: &str) -> Result<(Vec<f32>, u32), Error> {
        let slot = self.user_slot(user)?;
        let mut probes = Vec::new();
        for &r in self
            .users
            .get(slot as usize)
            .map(|u| u.faces.as_slice())
            .unwrap_or_default()
        {
            probes.extend_from_slice(&self.vector(r as usize)?);
        }
        Ok((probes, slot))
    }

    /// The `k` users whose best face is most similar to any probe, in one
    /// pass; `exclude` (a user slot) is never returned, nor users without
    /// faces. On the calibrated scale, as [`search_faces`](Self::search_faces).
    pub(crate) fn search_users(
        &self,
        probes: &[f32],
        k: usize,
        threshold: f32,
        exclude: Option<u32>,
    ) -> Result<Vec<UserMatch>, Error> {
        let bounds = best_per_user(
            self.matrix(probes)?,
            self.dim,
            probes,
            &self.owner,
            self.users.len(),
        );
        let full = &self.vectors;
        let mut buf = Vec::new();
        let hits = top_users(
            &bounds,
            k,
            self.model.raw_threshold(threshold),
            |slot| {
                self.users
                    .get(slot as usize)
                    .filter(|u| !u.deleted && !u.faces.is_empty() && exclude != Some(slot))
                    .map(|u| u.id.as_str())
            },
            |slot| {
                let mut best = f32::NEG_INFINITY;
                for &r in self.users.get(slot as usize).map_or(&[][..], |u| &u.faces) {
                    let row = full.row(r as usize, &mut buf)?;
                    for p in probes.chunks_exact(self.dim.max(1)) {
                        best = best.max(similarity(exact_cos(row, p)));
                    }
                }
                Ok(best)
            },
        )
        .map_err(|e| search_error(&self.id, e))?;
        Ok(hits
            .into_iter()
            .filter_map(|h| {
                let sim = self.model.calibrate(h.sim);
                (sim >= threshold).then(|| UserMatch {
                    similarity: score(sim),
                    user: User {
                        user_id: h.key.to_string(),
                        user_status: self.status(h.index),
                    },
                })
            })
            .collect())
    }

    // ---- listing ----

    /// Opaque paging token for position `seq` in list `kind`.
    pub(crate) fn page_token(&self, kind: char, seq: u64) -> String {
        page_token(&self.id, kind, seq)
    }

    /// Up to `max` live faces from token position on, filtered; and the next token.
    pub(crate) fn list_faces(
        &self,
        start: u64,
        max: usize,
        user: Option<u32>,
        only: Option<&[u128]>,
    ) -> (Vec<Face>, Option<String>) {
        let first = self.faces.first_from_seq(start);
        let mut out = Vec::new();
        for row in first..self.faces.len() {
            let owner = self.owner[row];
            if owner == DELETED
                || user.is_some_and(|u| u != owner)
                || only.is_some_and(|ids| !ids.contains(&self.ids[row]))
            {
                continue;
            }
            if out.len() == max {
                let seq = self.faces.seq(row).unwrap_or_default();
                return (out, Some(self.page_token('f', seq)));
            }
            out.push(self.face(row));
        }
        (out, None)
    }

    /// Up to `max` users from token position on, in creation order; and the next token.
    pub(crate) fn list_users(&self, start: u64, max: usize) -> (Vec<User>, Option<String>) {
        let first = self.users.partition_point(|u| u.seq < start);
        let mut out = Vec::new();
        for (slot, u) in self.users.iter().enumerate().skip(first) {
            if u.deleted {
                continue;
            }
            if out.len() == max {
                return (out, Some(self.page_token('u', u.seq)));
            }
            out.push(User {
                user_id: u.id.clone(),
                user_status: self.status(slot as u32),
            });
        }
        (out, None)
    }

    /// The slot of a user, for filters.
    pub(crate) fn slot_of(&self, user: &str) -> Result<u32, Error> {
        self.user_slot(user)
    }
}

/// A search that could not read its rows at full precision.
fn search_error(collection: &str, e: std::io::Error) -> Error {
    Error::Internal(format!(
        "cannot read the faces of collection {collection}: {e}"
    ))
}

/// Opaque paging token: list kind, position and a checksum binding both to
/// the collection (or to the collection list when `scope` is empty).
pub(crate) fn page_token(scope: &str, kind: char, pos: u64) -> String {
    let crc = crc32fast::hash(format!("{scope}\u{0}{kind}{pos}").as_bytes());
    format!("{kind}{pos:x}.{crc:08x}")
}

/// Reads a token made by [`page_token`]; `InvalidPaginationTokenException` otherwise.
pub(crate) fn read_page_token(scope: &str, kind: char, token: Option<&str>) -> Result<u64, Error> {
    let Some(token) = token else { return Ok(0) };
    let bad = || Error::BadNextToken(format!("NextToken '{token}' was not issued for this list"));
    let rest = token.strip_prefix(kind).ok_or_else(bad)?;
    let (pos, _) = rest.split_once('.').ok_or_else(bad)?;
    let pos = u64::from_str_radix(pos, 16).map_err(|_| bad())?;
    if page_token(scope, kind, pos) != token {
        return Err(bad());
    }
    Ok(pos)
}

/// A fingerprint of a request's parameters, for idempotency checks.
pub(crate) fn fingerprint<T: Serialize>(params: &T) -> String {
    serde_json::to_string(params).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_faces(n: usize) -> (Collection, Vec<u128>) {
        let mut c = Collection::new("c".into(), 0, 2);
        let ids: Vec<u128> = (1..=n as u128).collect();
        let vectors = (0..n).flat_map(|i| [1.0, i as f32]).collect::<Vec<f32>>();
        let mut v = vectors;
        normalise(&mut v, 2).unwrap();
        c.apply(Record {
            seq: 1,
            op: Op::Index {
                image: 9,
                exts: vec![None; n],
                dim: 2,
                ids: ids.clone(),
                vectors: v,
                model: FaceModel::Vectors,
                found: vec![None; n],
            },
            token: None,
        });
        (c, ids)
    }

    #[test]
    fn tokens_expire_after_24_hours() {
        let (mut c, _) = with_faces(1);
        let token = TokenEntry {
            api: Api::CreateUser,
            token: "t".into(),
            fingerprint: "\"u\"".into(),
            response: "{}".into(),
            at: 1000,
        };
        c.apply(Record {
            seq: 2,
            op: Op::CreateUser("u".into()),
            token: Some(token),
        });
        let replayed: Option<serde_json::Value> = c
            .replay(
                Api::CreateUser,
                Some("t"),
                "\"u\"",
                1000 + TOKEN_TTL_SECS - 1,
            )
            .unwrap();
        assert_eq!(replayed, Some(serde_json::json!({})));
        let mismatch = c
            .replay::<serde_json::Value>(Api::CreateUser, Some("t"), "\"x\"", 1000)
            .unwrap_err();
        assert!(matches!(mismatch, Error::TokenMismatch(_)), "{mismatch}");
        // Other APIs have their own tokens.
        assert!(matches!(
            c.replay::<serde_json::Value>(Api::DeleteUser, Some("t"), "\"x\"", 1000),
            Ok(None)
        ));
        // After 24 hours the token is new again.
        assert!(matches!(
            c.replay::<serde_json::Value>(
                Api::CreateUser,
                Some("t"),
                "\"x\"",
                1000 + TOKEN_TTL_SECS
            ),
            Ok(None)
        ));
        c.expire_tokens(1000 + TOKEN_TTL_SECS);
        assert!(c.tokens.is_empty());
    }

    #[test]
    fn compaction_keeps_order_owners_and_vectors() {
        let (mut c, ids) = with_faces(8);
        c.apply(Record {
            seq: 2,
            op: Op::CreateUser("a".into()),
            token: None,
        });
        c.apply(Record {
            seq: 3,
            op: Op::CreateUser("b".into()),
            token: None,
        });
        c.apply(Record {
            seq: 4,
            op: Op::Associate("b".into(), vec![ids[5], ids[7]]),
            token: None,
        });
        c.apply(Record {
            seq: 5,
            op: Op::DeleteUser("a".into()),
            token: None,
        });
        let before: Vec<Face> = [5, 6, 7].iter().map(|&r| c.face(r)).collect();
        let probe = c.probe_of_face(7).unwrap();
        c.apply(Record {
            seq: 6,
            op: Op::DeleteFaces(ids[..4].to_vec()),
            token: None,
        });
        // Half the rows were tombstones: compacted away.
        assert_eq!(c.faces.len(), 4);
        assert_eq!(c.users.len(), 1);
        let after: Vec<Face> = [1, 2, 3].iter().map(|&r| c.face(r)).collect();
        assert_eq!(before, after);
        assert_eq!(c.probe_of_face(3).unwrap(), probe);
        assert_eq!(c.status(c.slot_of("b").unwrap()), UserStatus::Active);
        let (faces, next) = c.list_faces(0, 10, c.slot_of("b").ok(), None);
        assert_eq!(faces.len(), 2);
        assert!(next.is_none());
    }

    #[test]
    fn page_tokens_are_bound_to_scope_and_kind() {
        let t = page_token("c", 'f', 42);
        assert_eq!(read_page_token("c", 'f', Some(&t)).ok(), Some(42));
        assert!(read_page_token("d", 'f', Some(&t)).is_err());
        assert!(read_page_token("c", 'u', Some(&t)).is_err());
        assert!(read_page_token("c", 'f', Some("f2a.00000000")).is_err());
    }
}
