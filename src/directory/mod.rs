//! The directory engine: Connect users in a persistent tantivy index per
//! instance, answering `SearchUsers` exactly as the reference evaluator
//! ([`crate::criteria::eval`]) does.
//!
//! Takes in users and hierarchy groups (JSON lines or [`User`] values) and
//! validated [`Search`]es; gives out [`SearchUsersResponse`]s and plan
//! explanations.
//!
//! Layout on disk: `DIR/connect/<instance>/` is one tantivy index, where
//! `<instance>` is the instance id percent-encoded (bytes outside
//! `[A-Za-z0-9_-]` become `%XX`) or, when that is longer than a file name
//! may be (255 bytes), `~` and 32 hex digits of the id's SHA-256 (see
//! [`dir_name`]). Each instance directory also holds its id in the file
//! `instance-id`, which is how listing names a hashed one. The instance's
//! hierarchy groups travel in the payload of the index's commit
//! (`meta.json`), so users and groups change together in one atomic
//! commit. A first import is built in a staging directory
//! `DIR/connect/.import-*` and renamed into place; the staging lock
//! `DIR/connect/.import.lock` keeps other imports from taking it for a
//! crash's leftover (`storage::Staging`). `DIR/rekognition/` belongs to the
//! faces engine.
//!
//! Everything is created owner-only (directories `0700`, files `0600`),
//! whatever the umask; see `fsmode`.
//!
//! ```
//! use rollcall::directory::Instance;
//! use rollcall::criteria::{wire::Search, Filter};
//! let inst = Instance::in_memory().unwrap();
//! let users = "{\"Id\":\"2\",\"Username\":\"bob\"}\n{\"Id\":\"1\",\"Username\":\"Ann\"}\n";
//! inst.import(users.as_bytes(), None).unwrap();
//! let page = inst.search(&Search::new(Filter::all())).unwrap();
//! assert_eq!(page.users[0].username.as_deref(), Some("Ann"));
//! assert_eq!(page.approximate_total_count, 2);
//! ```

mod api;
mod error;
mod exec;
mod live;
mod private_dir;
mod read;
mod schema;
mod wal;

pub use api::{instance_arn, password_allowed, ARN_PREFIX};
pub use live::DEFAULT_FOLD_AT;
pub use read::RecordPage;

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::{Mutex, MutexGuard, RwLock};

use serde::{Deserialize, Serialize};

use sha2::{Digest, Sha256};
use tantivy::collector::Count;
use tantivy::query::{BooleanQuery, Occur, Query, TermSetQuery};
use tantivy::schema::Value;
use tantivy::{DocSet, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::criteria::eval::matches_folded;
use crate::criteria::paging::{decode_token, encode_token, SortKey};
use crate::criteria::wire::{Search, SearchUsersRequest, SearchUsersResponse, UserSearchSummary};
use crate::plan::{self, sort_key_bytes, IndexField, Node};
use crate::records::{json_lines, parse_user_line, Groups, HierarchyGroup, RecordError, User};
use crate::storage::{FileStamp, LockMode, Staging};
use crate::AwsError;
use error::{failed, storage, StorageError};
use exec::{Ctx, PageCollector};
use live::{Live, Meta};
use private_dir::PrivateDir;
use schema::Fields;
use wal::{Change, Wal};

/// A data directory holding Connect instances (`DIR/connect/...`).
/// Clones share the instances opened through [`Engine::shared`].
#[derive(Debug, Clone)]
pub struct Engine {
    root: PathBuf,
    /// Instances opened by [`Engine::shared`], each with the inode of its
    /// directory (a deleted and re-created instance has another).
    open: std::sync::Arc<OpenInstances>,
}

/// The instances an [`Engine`] shares: by id, with their directory's inode.
type OpenInstances = Mutex<HashMap<String, (u64, std::sync::Arc<Instance>)>>;

/// The longest directory name an instance is stored under in readable
/// (percent-encoded) form: the file-name limit (`NAME_MAX`) of the usual
/// Linux and macOS file systems. Any longer name is hashed instead, so every
/// directory an earlier version could create keeps its name.
const MAX_READABLE_NAME: usize = 255;

/// The file in each instance directory that holds the instance id.
pub const INSTANCE_ID_FILE: &str = "instance-id";

/// The directory name of an instance id: the id percent-encoded when that
/// fits in a file name (255 bytes), else `~` and the first 16 bytes of the
/// id's SHA-256 in hex (a name percent-encoding never makes). Every id of
/// 1..100 characters gets a storable name.
///
/// ```
/// use rollcall::directory::dir_name;
/// assert_eq!(dir_name("a/b.c"), "a%2Fb%2Ec");
/// assert_eq!(rollcall::directory::instance_of_dir("a%2Fb%2Ec").as_deref(), Some("a/b.c"));
/// let snowmen = dir_name(&"☃".repeat(100));
/// assert!(snowmen.starts_with('~') && snowmen.len() == 33);
/// ```
pub fn dir_name(instance_id: &str) -> String {
    let mut out = String::new();
    for b in instance_id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.len() <= MAX_READABLE_NAME {
        return out;
    }
    let digest = Sha256::digest(instance_id.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("~{hex}")
}

/// The instance id stored in an instance directory, when it is the id the
/// directory's name stands for.
fn stored_instance_id(dir: &Path, name: &str) -> Option<String> {
    let id = std::fs::read_to_string(dir.join(INSTANCE_ID_FILE)).ok()?;
    (dir_name(&id) == name).then_some(id)
}

/// The instance id of a percent-encoded directory name made by
/// [`dir_name`]; `None` for a hashed name (its id is in the directory's
/// [`INSTANCE_ID_FILE`]) and any other name.
pub fn instance_of_dir(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else if bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'-' {
            out.push(bytes[i]);
            i += 1;
        } else {
            return None;
        }
    }
    String::from_utf8(out).ok().filter(|s| !s.is_empty())
}

/// tantivy's commit point in an instance directory: a commit replaces it
/// atomically, so its stamp changes with every commit.
const COMMIT_FILE: &str = "meta.json";

/// The `InstanceId` rule ([`check_instance_id`](crate::criteria::wire::check_instance_id))
/// as the engine and the server's path-bound operations report it.
///
/// ```
/// use rollcall::directory::check_instance_id;
/// assert!(check_instance_id("demo").is_ok());
/// assert_eq!(check_instance_id("").unwrap_err().message, "InstanceId: must be 1..100 characters");
/// ```
pub fn check_instance_id(id: &str) -> Result<(), AwsError> {
    crate::criteria::wire::check_instance_id(id)
        .map_err(|_| AwsError::invalid_parameter("InstanceId: must be 1..100 characters"))
}

fn instance_not_found(id: &str) -> AwsError {
    AwsError::not_found(format!("InstanceId: instance '{id}' does not exist"))
}

/// What identifies one commit of an instance on disk: the stamp
/// (`storage::FileStamp`: inode, length, modification time) of its commit file
/// (`meta.json`), which tantivy replaces by an atomic rename at every
/// commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitStamp(FileStamp);

impl CommitStamp {
    /// The stamp of the commit file at `path`; `None` when it cannot be
    /// read (no such instance).
    fn of(path: &Path) -> Option<CommitStamp> {
        FileStamp::read(path).ok().flatten().map(CommitStamp)
    }
}

/// The lock file of the import staging area in `DIR/connect/`: held shared
/// while a `.import-*` directory is being built, taken exclusively (without
/// waiting) to remove a crash's leftovers. Not a name an instance directory
/// can have ([`dir_name`] makes no `.`).
const IMPORT_LOCK: &str = ".import.lock";

/// The prefix of the staging directories of first imports.
const IMPORT_PREFIX: &str = ".import-";

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportSummary {
    /// Users read and stored.
    pub imported: u64,
    /// Of those, users that replaced an existing user with the same `Id`.
    pub replaced: u64,
    /// Users in the instance after the import.
    pub total: u64,
    /// Hierarchy groups of the instance after the import.
    pub groups: usize,
}

impl Engine {
    /// Opens (creating if needed) the data directory `root`.
    pub fn open(root: impl AsRef<Path>) -> Result<Engine, AwsError> {
        let root = root.as_ref().to_path_buf();
        let connect = root.join("connect");
        crate::fsmode::create_dir_all(&connect)
            .map_err(failed("cannot create data directory", &connect))?;
        Ok(Engine {
            root,
            open: std::sync::Arc::default(),
        })
    }

    fn instance_dir(&self, id: &str) -> PathBuf {
        self.root.join("connect").join(dir_name(id))
    }

    /// The instance ids present, sorted.
    pub fn instances(&self) -> Result<Vec<String>, AwsError> {
        let mut out = Vec::new();
        let connect = self.root.join("connect");
        for e in std::fs::read_dir(&connect).map_err(failed("cannot list instances", &connect))? {
            let e = e.map_err(failed("cannot list instances", &connect))?;
            let (name, path) = (e.file_name(), e.path());
            let Some(name) = name.to_str() else { continue };
            if !path.join(COMMIT_FILE).exists() {
                continue;
            }
            if let Some(id) = instance_of_dir(name).or_else(|| stored_instance_id(&path, name)) {
                out.push(id);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Opens an instance; `ResourceNotFoundException` when it does not exist.
    pub fn instance(&self, id: &str) -> Result<Instance, AwsError> {
        let dir = self.instance_dir(id);
        if !dir.join(COMMIT_FILE).exists() {
            return Err(instance_not_found(id));
        }
        Instance::open(&dir)
    }

    /// The instance, opened once and shared by every caller of this engine
    /// (and its clones): it catches up with other processes' writes by
    /// itself, so only a deleted or re-created instance is opened again.
    /// `ResourceNotFoundException` when it does not exist.
    pub fn shared(&self, id: &str) -> Result<std::sync::Arc<Instance>, AwsError> {
        check_instance_id(id)?;
        let dir = self.instance_dir(id);
        let ino = match FileStamp::read(&dir).ok().flatten() {
            Some(s) if dir.join(COMMIT_FILE).exists() => s.ino,
            _ => {
                live::lock(&self.open, "instance cache")?.remove(id);
                return Err(instance_not_found(id));
            }
        };
        if let Some((i, inst)) = live::lock(&self.open, "instance cache")?.get(id)
            && *i == ino
        {
            return Ok(inst.clone());
        }
        // Opened outside the lock: other instances stay available meanwhile.
        let inst = std::sync::Arc::new(Instance::open(&dir)?);
        live::lock(&self.open, "instance cache")?.insert(id.to_string(), (ino, inst.clone()));
        Ok(inst)
    }

    /// The stamp of an instance's last commit, to tell whether an opened
    /// [`Instance`] is still current; `ResourceNotFoundException` when the
    /// instance does not exist.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let engine = rollcall::directory::Engine::open(dir.path()).unwrap();
    /// assert!(engine.commit_stamp("demo").is_err());
    /// engine.import("demo", &b"{\"Id\":\"1\",\"Username\":\"ann\"}\n"[..], None).unwrap();
    /// let first = engine.commit_stamp("demo").unwrap();
    /// assert_eq!(engine.commit_stamp("demo").unwrap(), first);
    /// ```
    pub fn commit_stamp(&self, id: &str) -> Result<CommitStamp, AwsError> {
        CommitStamp::of(&self.instance_dir(id).join(COMMIT_FILE))
            .ok_or_else(|| instance_not_found(id))
    }

    /// Creates an empty instance (atomically), or opens it if it exists.
    pub fn create_instance(&self, id: &str) -> Result<Instance, AwsError> {
        if let Ok(i) = self.instance(id) {
            return Ok(i);
        }
        self.import(id, std::io::empty(), None)?;
        self.instance(id)
    }

    /// Removes an instance and all its data (`DeleteInstance`): its
    /// directory is renamed into the staging area, atomically, then removed.
    /// `ResourceNotFoundException` when there is none.
    pub fn remove_instance(&self, id: &str) -> Result<(), AwsError> {
        check_instance_id(id)?;
        let dir = self.instance_dir(id);
        let inst = self.shared(id)?;
        // Under the instance lock: no write or fold of another process is
        // half done in it.
        let _held = inst.lock_file(LockMode::Exclusive)?;
        let connect = self.root.join("connect");
        let staging = Staging::new(&connect, IMPORT_LOCK, &[IMPORT_PREFIX]);
        let _staging = staging.hold().map_err(failed(
            "cannot lock import staging",
            &connect.join(IMPORT_LOCK),
        ))?;
        let trash = staging.path(IMPORT_PREFIX);
        std::fs::rename(&dir, &trash).map_err(failed("cannot remove instance", &dir))?;
        if let Ok(d) = std::fs::File::open(&connect) {
            let _ = d.sync_all();
        }
        drop(inst);
        live::lock(&self.open, "instance cache")?.remove(id);
        std::fs::remove_dir_all(&trash).map_err(failed("cannot remove instance", &trash))?;
        Ok(())
    }

    /// Imports users (JSON lines) and optionally a new set of groups into an
    /// instance, creating it when needed. All or nothing: on a bad line the
    /// error names it and nothing of the import is visible; an instance
    /// created by a failed (or killed) import does not appear.
    pub fn import(
        &self,
        id: &str,
        users: impl BufRead,
        groups: Option<Vec<HierarchyGroup>>,
    ) -> Result<ImportSummary, AwsError> {
        self.import_with(id, users, groups, None)
    }

    /// [`Engine::import`], with the instance's own record replaced when
    /// `info` is given (`CreateInstance` makes an instance this way, its
    /// record in its first commit).
    fn import_with(
        &self,
        id: &str,
        users: impl BufRead,
        groups: Option<Vec<HierarchyGroup>>,
        info: Option<InstanceInfo>,
    ) -> Result<ImportSummary, AwsError> {
        check_instance_id(id)?;
        let dir = self.instance_dir(id);
        if dir.join(COMMIT_FILE).exists() {
            let inst = Instance::open(&dir)?;
            let summary = inst.import_all(users, groups, info)?;
            inst.close()?;
            return Ok(summary);
        }
        let connect = self.root.join("connect");
        let staging = Staging::new(&connect, IMPORT_LOCK, &[IMPORT_PREFIX]);
        // Leftovers only cost space: an import does not fail for them.
        let _ = staging.clean();
        // Held until the staging directory is renamed into place or removed,
        // so that no other import's clean removes it meanwhile.
        let _held = staging.hold().map_err(failed(
            "cannot lock import staging",
            &connect.join(IMPORT_LOCK),
        ))?;
        let tmp = staging.path(IMPORT_PREFIX);
        let result = self.import_new(id, &tmp, &dir, users, groups, info);
        if result.is_err() {
            // Whatever failed (a bad line, the disk, the rename), the
            // staging directory goes.
            let _ = std::fs::remove_dir_all(&tmp);
        }
        result
    }

    /// The first import of an instance: built in the staging directory
    /// `tmp`, then renamed into place as `dir`.
    fn import_new(
        &self,
        id: &str,
        tmp: &Path,
        dir: &Path,
        users: impl BufRead,
        groups: Option<Vec<HierarchyGroup>>,
        info: Option<InstanceInfo>,
    ) -> Result<ImportSummary, AwsError> {
        crate::fsmode::create_dir_all(tmp)
            .map_err(failed("cannot create staging directory", tmp))?;
        let inst = Instance::create(tmp)?;
        let summary = inst.import_all(users, groups, info)?;
        inst.close()?;
        drop(inst);
        let id_file = tmp.join(INSTANCE_ID_FILE);
        let mut f = crate::fsmode::create_file(&id_file)
            .map_err(failed("cannot create instance id file", &id_file))?;
        f.write_all(id.as_bytes())
            .map_err(failed("cannot write instance id file", &id_file))?;
        f.sync_all()
            .map_err(failed("cannot sync instance id file", &id_file))?;
        std::fs::rename(tmp, dir)
            .map_err(failed("cannot move staging directory into place", dir))?;
        if let Ok(d) = std::fs::File::open(self.root.join("connect")) {
            let _ = d.sync_all();
        }
        Ok(summary)
    }

    /// Answers an AWS `SearchUsers` request (with its `InstanceId`).
    pub fn search_users(
        &self,
        request: &SearchUsersRequest,
    ) -> Result<SearchUsersResponse, AwsError> {
        let search = request.lower()?;
        let id = search
            .instance_id
            .clone()
            .ok_or_else(|| AwsError::invalid_parameter("InstanceId: is required"))?;
        self.instance(&id)?.search(&search)
    }
}

/// An instance's own record, beside its users and groups: what
/// `CreateInstance` was given and `DescribeInstance` returns, its tags and
/// the names of its hierarchy levels. Empty for an instance made by
/// `connect import`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceInfo {
    /// `InstanceAlias`, unique among the data directory's instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// The instance's ARN, when it was created through the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// `IdentityManagementType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_management_type: Option<String>,
    /// `InboundCallsEnabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound_calls_enabled: Option<bool>,
    /// `OutboundCallsEnabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound_calls_enabled: Option<bool>,
    /// When it was created (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<f64>,
    /// The instance's tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The names of hierarchy levels one to five (`UpdateUserHierarchyStructure`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub level_names: Vec<Option<String>>,
}

/// One Connect instance: its users (a tantivy index plus the delta of
/// writes not yet folded into it, see docs/storage.md) and hierarchy groups.
pub struct Instance {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    /// The instance directory; `None` in memory.
    dir: Option<PathBuf>,
    /// The write-ahead log; `None` in memory.
    wal: Option<Wal>,
    /// Groups, the instance's record and the delta.
    live: RwLock<Live>,
    /// Serialises this process's writes, folds and imports.
    writes: Mutex<()>,
    writer: Mutex<Option<IndexWriter>>,
    fold_at: AtomicUsize,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance").finish_non_exhaustive()
    }
}

/// Hashes names and ids for the duplicate checks of one import (128 bits).
struct Hasher2(RandomState, RandomState);

impl Hasher2 {
    fn new() -> Self {
        Hasher2(RandomState::new(), RandomState::new())
    }
    fn h(&self, s: &str) -> u128 {
        (u128::from(self.0.hash_one(s)) << 64) | u128::from(self.1.hash_one(s))
    }
}

/// Why a user cannot be staged in an import or an upsert; reported as
/// `InvalidParameterException`, after `line N: ` in an import.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
enum StageError {
    /// `{"Id": "2", "Username": "ann"}` while user `1` is `ann`.
    #[error("Username '{0}' is already used by another user")]
    UsernameTaken(String),
    /// A user whose record does not encode as JSON (never for a parsed one).
    #[error("{0}")]
    Encode(#[source] serde_json::Error),
    /// The index writer refuses the document (its worker threads died).
    #[error("{0}")]
    Index(#[source] tantivy::TantivyError),
}

impl From<StageError> for AwsError {
    fn from(e: StageError) -> Self {
        AwsError::invalid_parameter(e.to_string())
    }
}

/// The writes of one commit, checked as [`crate::records::Directory::upsert`]
/// would check them one after another.
struct Stager<'a> {
    inst: &'a Instance,
    writer: &'a IndexWriter,
    searcher: tantivy::Searcher,
    hasher: Hasher2,
    names: HashMap<u128, u128>,
    ids: HashMap<u128, Option<u128>>,
    imported: u64,
    replaced: u64,
}

impl Stager<'_> {
    fn upsert(&mut self, user: &User) -> Result<(), StageError> {
        let doc = self
            .inst
            .fields
            .document(user)
            .map_err(StageError::Encode)?;
        self.upsert_doc(user, doc)
    }

    /// Checks and stages a user whose document is already built.
    fn upsert_doc(&mut self, user: &User, doc: TantivyDocument) -> Result<(), StageError> {
        let n = self.hasher.h(&user.username);
        let i = self.hasher.h(&user.id);
        let owner = match self.names.get(&n) {
            Some(o) => Some(*o),
            None => self
                .inst
                .owner_of(&self.searcher, &user.username)
                .map(|id| self.hasher.h(&id))
                .filter(|o| !self.ids.contains_key(o)),
        };
        if let Some(o) = owner
            && o != i
        {
            return Err(StageError::UsernameTaken(user.username.clone()));
        }
        let existed = match self.ids.get(&i) {
            Some(prev) => prev.is_some(),
            None => self.inst.has_id(&self.searcher, &user.id),
        };
        if let Some(Some(old)) = self.ids.get(&i) {
            self.names.remove(old);
        }
        self.names.insert(n, i);
        self.ids.insert(i, Some(n));
        let f = &self.inst.fields;
        self.writer
            .delete_term(Term::from_field_text(f.get(IndexField::Id), &user.id));
        self.writer.add_document(doc).map_err(StageError::Index)?;
        self.imported += 1;
        self.replaced += u64::from(existed);
        Ok(())
    }

    fn delete(&mut self, id: &str) -> bool {
        let i = self.hasher.h(id);
        let existed = match self.ids.get(&i) {
            Some(prev) => prev.is_some(),
            None => self.inst.has_id(&self.searcher, id),
        };
        if let Some(Some(old)) = self.ids.get(&i) {
            self.names.remove(old);
        }
        self.ids.insert(i, None);
        self.writer.delete_term(Term::from_field_text(
            self.inst.fields.get(IndexField::Id),
            id,
        ));
        existed
    }
}

impl Instance {
    /// The instance of an index; with `dir`, its write-ahead log is opened
    /// and replayed (under the instance lock, shared).
    fn from_index(index: Index, dir: Option<&Path>) -> Result<Instance, AwsError> {
        let fields = Fields::from_schema(&index.schema()).map_err(storage)?;
        let wal = match dir {
            Some(d) => Some(Wal::open(d).map_err(storage)?),
            None => None,
        };
        let inst = Instance {
            reader: index
                .reader_builder()
                .reload_policy(ReloadPolicy::Manual)
                .try_into()
                .map_err(storage)?,
            index,
            fields,
            dir: dir.map(Path::to_path_buf),
            wal,
            live: RwLock::new(Live::default()),
            writes: Mutex::new(()),
            writer: Mutex::new(None),
            fold_at: AtomicUsize::new(live::DEFAULT_FOLD_AT),
        };
        {
            let _f = inst.lock_file(LockMode::Shared)?;
            let mut live = live::write(&inst.live, "state")?;
            if inst.dir.is_none() {
                let metas = inst.index.load_metas().map_err(storage)?;
                *live = Live::of(Meta::parse(metas.payload.as_deref())?, None);
            }
            inst.catch_up(&mut live, false)?;
        }
        Ok(inst)
    }

    fn settings() -> tantivy::IndexSettings {
        tantivy::IndexSettings {
            docstore_blocksize: 4096,
            ..Default::default()
        }
    }

    /// A new, empty instance held in memory (tests, the REPL).
    pub fn in_memory() -> Result<Instance, AwsError> {
        let index = Index::builder()
            .schema(Fields::schema())
            .settings(Self::settings())
            .create_in_ram()
            .map_err(storage)?;
        Self::from_index(index, None)
    }

    /// Creates an instance in an empty directory.
    pub fn create(dir: &Path) -> Result<Instance, AwsError> {
        let directory = PrivateDir::open(dir).map_err(storage)?;
        if Index::exists(&directory).map_err(storage)? {
            return Err(storage(tantivy::TantivyError::IndexAlreadyExists));
        }
        let index =
            Index::create(directory, Fields::schema(), Self::settings()).map_err(storage)?;
        Self::from_index(index, Some(dir))
    }

    /// Opens the instance stored in `dir`, replaying its write-ahead log.
    pub fn open(dir: &Path) -> Result<Instance, AwsError> {
        let index = Index::open(PrivateDir::open(dir).map_err(storage)?).map_err(storage)?;
        Self::from_index(index, Some(dir))
    }

    fn writer(&self) -> Result<MutexGuard<'_, Option<IndexWriter>>, AwsError> {
        let mut guard = self
            .writer
            .lock()
            .map_err(|_| AwsError::internal("writer lock poisoned"))?;
        if guard.is_none() {
            let threads = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .clamp(1, 4);
            *guard = Some(
                self.index
                    .writer_with_num_threads(threads, threads * 120_000_000)
                    .map_err(storage)?,
            );
        }
        Ok(guard)
    }

    /// Waits for background merges and releases the writer (and its lock).
    pub fn close(&self) -> Result<(), AwsError> {
        let taken = self
            .writer
            .lock()
            .map_err(|_| AwsError::internal("writer lock poisoned"))?
            .take();
        if let Some(w) = taken {
            w.wait_merging_threads().map_err(storage)?;
        }
        Ok(())
    }

    /// Runs `stage` and commits its writes in one commit with this
    /// payload ([`Meta`]); on error rolls everything back. The caller
    /// holds the write lock and updates the state ([`Live`]).
    fn apply<T>(
        &self,
        payload: &str,
        stage: impl FnOnce(&mut Stager<'_>) -> Result<T, AwsError>,
    ) -> Result<(T, u64, u64), AwsError> {
        let mut guard = self.writer()?;
        let Some(writer) = guard.as_mut() else {
            return Err(AwsError::internal("no index writer"));
        };
        let mut stager = Stager {
            inst: self,
            writer,
            searcher: self.reader.searcher(),
            hasher: Hasher2::new(),
            names: HashMap::new(),
            ids: HashMap::new(),
            imported: 0,
            replaced: 0,
        };
        let result = stage(&mut stager);
        let (imported, replaced) = (stager.imported, stager.replaced);
        drop(stager);
        let value = match result {
            Ok(v) => v,
            Err(e) => {
                writer.rollback().map_err(storage)?;
                return Err(e);
            }
        };
        let mut prepared = writer.prepare_commit().map_err(storage)?;
        prepared.set_payload(payload);
        prepared.commit().map_err(storage)?;
        self.reader.reload().map_err(storage)?;
        Ok((value, imported, replaced))
    }

    /// Imports users (JSON lines, `User` or `{"User": ...}` per line) and,
    /// when given, replaces the hierarchy groups, all in one commit. A
    /// malformed line, a missing required member or a `Username` held by
    /// another user fails the whole import, naming the line. The commit
    /// folds the writes logged before it first, so the import applies
    /// after them (its lines are checked against them).
    pub fn import(
        &self,
        users: impl BufRead,
        groups: Option<Vec<HierarchyGroup>>,
    ) -> Result<ImportSummary, AwsError> {
        self.import_all(users, groups, None)
    }

    /// [`Instance::import`], replacing the instance's own record too when
    /// `info` is given.
    fn import_all(
        &self,
        users: impl BufRead,
        groups: Option<Vec<HierarchyGroup>>,
        info: Option<InstanceInfo>,
    ) -> Result<ImportSummary, AwsError> {
        let ((), imported, replaced) = self.fold_with(groups, info, |st| {
            self.stage_lines(users, st).map_err(AwsError::from)
        })?;
        Ok(ImportSummary {
            imported,
            replaced,
            total: self.len(),
            groups: self.groups().iter().count(),
        })
    }

    /// Stages every line of a users file: lines are parsed and turned into
    /// documents in parallel, a chunk at a time, then checked and added in
    /// file order (so the first bad line in file order is the one reported).
    fn stage_lines(&self, users: impl BufRead, st: &mut Stager<'_>) -> Result<(), RecordError> {
        use rayon::prelude::*;
        const CHUNK: usize = 8192;
        let mut lines = json_lines(users);
        loop {
            let chunk: Vec<(usize, String)> =
                lines.by_ref().take(CHUNK).collect::<Result<_, _>>()?;
            let read = chunk.len();
            let built: Vec<Result<(usize, User, TantivyDocument), RecordError>> = chunk
                .into_par_iter()
                .map(|(line, text)| {
                    let user = parse_user_line(&text, line)?;
                    let doc = self.fields.document(&user).map_err(|e| RecordError {
                        line,
                        message: e.to_string(),
                    })?;
                    Ok((line, user, doc))
                })
                .collect();
            for b in built {
                let (line, user, doc) = b?;
                st.upsert_doc(&user, doc).map_err(|e| RecordError {
                    line,
                    message: e.to_string(),
                })?;
            }
            if read < CHUNK {
                return Ok(());
            }
        }
    }

    /// Adds a user or replaces the user with the same `Id` (one logged
    /// write). A `Username` held by another user is
    /// `InvalidParameterException`, as in an import.
    pub fn upsert(&self, user: &User) -> Result<(), AwsError> {
        user.validate().map_err(AwsError::invalid_parameter)?;
        self.write(|view| {
            if view.owner_of(&user.username).is_some_and(|o| o != user.id) {
                return Err(StageError::UsernameTaken(user.username.clone()).into());
            }
            Ok((vec![Change::PutUser(user.clone())], ()))
        })
    }

    /// Deletes a user by id (one logged write); true when it existed.
    pub fn delete(&self, id: &str) -> Result<bool, AwsError> {
        self.write(|view| match view.user(id)? {
            Some(_) => Ok((vec![Change::DeleteUser(id.to_string())], true)),
            None => Ok((Vec::new(), false)),
        })
    }

    /// Replaces the hierarchy groups (one logged write).
    pub fn replace_groups(&self, groups: Vec<HierarchyGroup>) -> Result<(), AwsError> {
        self.write(|view| {
            let mut changes: Vec<Change> = view
                .groups()
                .iter()
                .map(|g| Change::DeleteGroup(g.id.clone()))
                .collect();
            changes.extend(groups.into_iter().map(Change::PutGroup));
            Ok((changes, ()))
        })
    }

    /// The hierarchy groups.
    pub fn groups(&self) -> Groups {
        self.current().map(|l| l.groups.clone()).unwrap_or_default()
    }

    /// The instance's own record.
    pub fn info(&self) -> Result<InstanceInfo, AwsError> {
        Ok(self.current()?.info.clone())
    }

    /// Number of users (0 when the instance cannot be read).
    pub fn len(&self) -> u64 {
        self.search(&Search::new(crate::criteria::Filter::all()))
            .map(|p| p.approximate_total_count)
            .unwrap_or(0)
    }

    /// True when the instance holds no user.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Alive documents holding `term`.
    fn alive_docs(&self, searcher: &tantivy::Searcher, term: &Term) -> Vec<tantivy::DocAddress> {
        let mut out = Vec::new();
        for (seg_ord, seg) in searcher.segment_readers().iter().enumerate() {
            let Ok(inv) = seg.inverted_index(term.field()) else {
                continue;
            };
            let Ok(Some(mut postings)) =
                inv.read_postings(term, tantivy::schema::IndexRecordOption::Basic)
            else {
                continue;
            };
            let mut doc = postings.doc();
            while doc != tantivy::TERMINATED {
                if seg.alive_bitset().is_none_or(|a| a.is_alive(doc)) {
                    out.push(tantivy::DocAddress::new(seg_ord as u32, doc));
                }
                doc = postings.advance();
            }
        }
        out
    }

    fn has_id(&self, searcher: &tantivy::Searcher, id: &str) -> bool {
        searcher.num_docs() > 0
            && !self
                .alive_docs(
                    searcher,
                    &Term::from_field_text(self.fields.get(IndexField::Id), id),
                )
                .is_empty()
    }

    /// The id of the user holding exactly this username in the committed index.
    fn owner_of(&self, searcher: &tantivy::Searcher, username: &str) -> Option<String> {
        if searcher.num_docs() == 0 {
            return None;
        }
        let term = Term::from_field_text(self.fields.get(IndexField::Username), username);
        let addr = *self.alive_docs(searcher, &term).first()?;
        self.doc_user_id(searcher, addr)
    }

    /// True when an indexed user whose `HierarchyGroupId` is `group`
    /// passes `counts` (given the user's id). Reads the ids of the group's
    /// documents from the sort-key column, one at a time until one counts:
    /// the cost is the group's postings and the ids refused.
    fn any_indexed_in_group(
        &self,
        searcher: &tantivy::Searcher,
        group: &str,
        counts: impl Fn(&str) -> bool,
    ) -> bool {
        if searcher.num_docs() == 0 {
            return false;
        }
        let term = Term::from_field_text(self.fields.get(IndexField::Group), group);
        self.alive_docs(searcher, &term).into_iter().any(|addr| {
            self.doc_user_id(searcher, addr)
                .is_some_and(|id| counts(&id))
        })
    }

    /// The `Id` of the user of a document, from its sort key.
    fn doc_user_id(
        &self,
        searcher: &tantivy::Searcher,
        addr: tantivy::DocAddress,
    ) -> Option<String> {
        let col = searcher
            .segment_reader(addr.segment_ord)
            .fast_fields()
            .str(IndexField::SortKey.name())
            .ok()??;
        let ord = col.term_ords(addr.doc_id).next()?;
        let mut s = String::new();
        col.ord_to_str(ord, &mut s).ok()?;
        // The sort key is `escape(folded) \0\0 id`; the escaped part holds no `\0\0`.
        s.split_once("\0\0").map(|(_, id)| id.to_string())
    }

    fn load_user(
        &self,
        searcher: &tantivy::Searcher,
        addr: tantivy::DocAddress,
    ) -> Result<User, AwsError> {
        let doc: TantivyDocument = searcher.doc(addr).map_err(storage)?;
        let json = doc
            .get_first(self.fields.user)
            .and_then(|v| v.as_str())
            .ok_or_else(|| storage(StorageError::Corrupt("user document without its record")))?;
        serde_json::from_str(json).map_err(storage)
    }

    /// Adds to `shadow` the index documents of the user with this `Id`, with
    /// their sort keys (none for a user the index does not hold).
    pub(crate) fn shadow_user(
        &self,
        searcher: &tantivy::Searcher,
        shadow: &mut live::Shadow,
        id: &str,
    ) -> Result<(), AwsError> {
        let generation = searcher.generation().generation_id();
        shadow.note_generation(generation);
        let term = Term::from_field_text(self.fields.get(IndexField::Id), id);
        for addr in self.alive_docs(searcher, &term) {
            let seg = searcher.segment_reader(addr.segment_ord);
            let mut key = Vec::new();
            let column = seg
                .fast_fields()
                .str(IndexField::SortKey.name())
                .map_err(storage)?;
            if let Some(col) = column
                && let Some(ord) = col.ords().first(addr.doc_id)
            {
                col.ord_to_bytes(ord, &mut key)
                    .map_err(|e| storage(tantivy::TantivyError::from(e)))?;
            }
            shadow.add(
                generation,
                seg.segment_id(),
                seg.max_doc(),
                addr.doc_id,
                key,
            );
        }
        Ok(())
    }

    /// Every stored user (in no particular order); for tests and export.
    pub fn users(&self) -> Result<Vec<User>, AwsError> {
        let live = self.current()?;
        self.users_in(&self.reader.searcher(), &live)
    }

    /// Every user of the index (less those the delta changed) and of the delta.
    fn users_in(&self, searcher: &tantivy::Searcher, live: &Live) -> Result<Vec<User>, AwsError> {
        let mut out = Vec::new();
        for (seg_ord, seg) in searcher.segment_readers().iter().enumerate() {
            for doc in seg.doc_ids_alive() {
                let user =
                    self.load_user(searcher, tantivy::DocAddress::new(seg_ord as u32, doc))?;
                if !live.delta.users.contains_key(&user.id) {
                    out.push(user);
                }
            }
        }
        out.extend(live.delta.present().cloned());
        Ok(out)
    }

    /// The indexed record of the user with this `Id`, if any (the delta
    /// not consulted).
    fn indexed_user(
        &self,
        searcher: &tantivy::Searcher,
        id: &str,
    ) -> Result<Option<User>, AwsError> {
        if searcher.num_docs() == 0 {
            return Ok(None);
        }
        let term = Term::from_field_text(self.fields.get(IndexField::Id), id);
        match self.alive_docs(searcher, &term).first() {
            Some(addr) => Ok(Some(self.load_user(searcher, *addr)?)),
            None => Ok(None),
        }
    }

    /// Answers a search: the page in (folded username, id) order, the exact
    /// total and the token for the next page, exactly as
    /// [`crate::criteria::eval::search`] does. The index answers for the
    /// users the delta did not change (their documents are left out by
    /// id); the delta's present users are tested with the evaluator's own
    /// predicate and merged in by sort key. Tokens are sort keys, so they
    /// stay valid across a fold.
    pub fn search(&self, search: &Search) -> Result<SearchUsersResponse, AwsError> {
        let after = match &search.next_token {
            Some(t) => Some(decode_token(&search.filter, t)?),
            None => None,
        };
        let after = after.map(|k| sort_key_bytes(&k.folded, &k.id));
        let plan = plan::compile(&search.filter);
        let (searcher, live) = self.view()?;
        let ctx = Ctx {
            fields: &self.fields,
            searcher: &searcher,
            groups: &live.groups,
        };
        let mut query = ctx.query(&plan.root).map_err(storage)?;
        let changed = &live.delta.users;
        // The delta's users' index documents are left out by the shadow
        // (looked up when they entered the delta); in the moment of a fold
        // between the reader's reload and the delta's reset, by id.
        let shadow = if changed.is_empty() {
            Some(Default::default())
        } else {
            live.shadow
                .for_generation(searcher.generation().generation_id())
        };
        if shadow.is_none() {
            let id = self.fields.get(IndexField::Id);
            let ids = TermSetQuery::new(changed.keys().map(|i| Term::from_field_text(id, i)));
            query = Box::new(BooleanQuery::new(vec![
                (Occur::Must, query),
                (Occur::MustNot, Box::new(ids) as Box<dyn Query>),
            ]));
        }
        let limit = search.max_results as usize;
        let collector = PageCollector {
            after: after.clone(),
            limit,
            // The ordered walk counts keys, less the shadow's, not
            // documents left out by id.
            walk: if shadow.is_some() { plan.walk() } else { None },
            sk: self.fields.sk,
            shadow: shadow.unwrap_or_default(),
        };
        let page = searcher.search(&*query, &collector).map_err(storage)?;
        // The delta's present users its plan can reach (found by the same
        // access paths over the delta's postings), in sort-key order, each
        // tested with the evaluator's predicate on the names folded at its
        // write. All matches count; the first `limit` after the token make
        // the delta's side of the page.
        let order = &live.delta.order;
        let reached: Box<dyn Iterator<Item = (&str, &live::Pending)>> =
            match live.delta.candidates(&plan.root, &live.groups) {
                Some(users) => Box::new(users.into_iter()),
                None => Box::new(order.iter().map(|(k, p)| (k.as_str(), &**p))),
            };
        let (mut total, mut remaining) = (page.total, page.remaining);
        let mut fresh: Vec<(&str, &User)> = Vec::new();
        for (key, p) in reached {
            if !matches_folded(&search.filter, &p.user, &p.folded, &live.groups) {
                continue;
            }
            total += 1;
            if after.as_deref().is_some_and(|a| key <= a) {
                continue;
            }
            remaining += 1;
            if fresh.len() < limit {
                fresh.push((key, &p.user));
            }
        }
        let mut users = Vec::with_capacity(limit.min(page.hits.len() + fresh.len()));
        let mut last = None;
        let (mut hits, mut fresh) = (page.hits.iter().peekable(), fresh.into_iter().peekable());
        while users.len() < limit {
            let from_index = match (hits.peek(), fresh.peek()) {
                (Some(h), Some(f)) => h.0.as_slice() < f.0.as_bytes(),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let user = if from_index {
                let Some((_, addr)) = hits.next() else { break };
                self.load_user(&searcher, *addr)?
            } else {
                let Some((_, u)) = fresh.next() else { break };
                u.clone()
            };
            last = Some(SortKey::new(&user.username, &user.id));
            users.push(UserSearchSummary::from(&user));
        }
        let next_token = match last {
            Some(k) if remaining > users.len() as u64 => Some(encode_token(&search.filter, &k)),
            _ => None,
        };
        Ok(SearchUsersResponse {
            users,
            next_token,
            approximate_total_count: total,
        })
    }

    /// A consistent view for one query: the current searcher and the
    /// instance's state (groups, delta), caught up with other processes and
    /// held for reading while the query runs.
    fn view(&self) -> Result<(tantivy::Searcher, std::sync::RwLockReadGuard<'_, Live>), AwsError> {
        let live = self.current()?;
        Ok((self.reader.searcher(), live))
    }

    /// The plan of a search as a tree, each node with its estimated count
    /// (from term statistics) and, when `analyze` is set, the actual number
    /// of users it matches.
    pub fn explain(&self, search: &Search, analyze: bool) -> Result<String, AwsError> {
        let plan = plan::compile(&search.filter);
        let (searcher, live) = self.view()?;
        let ctx = Ctx {
            fields: &self.fields,
            searcher: &searcher,
            groups: &live.groups,
        };
        let nodes = plan.nodes();
        let mut notes = Vec::with_capacity(nodes.len());
        let mut estimates = HashMap::new();
        for (i, n) in nodes.iter().enumerate().rev() {
            let est = self.estimate(&ctx, n, &nodes, &estimates)?;
            estimates.insert(i, est);
        }
        for (i, n) in nodes.iter().enumerate() {
            let mut note = format!("est {}", estimates.get(&i).copied().unwrap_or(0));
            if analyze {
                let q = ctx.query(n).map_err(storage)?;
                let actual = searcher.search(&*q, &Count).map_err(storage)?;
                note.push_str(&format!(", actual {actual}"));
            }
            notes.push(note);
        }
        Ok(plan.render(|i| notes.get(i).cloned().unwrap_or_default()))
    }

    fn estimate(
        &self,
        ctx: &Ctx<'_>,
        node: &Node,
        nodes: &[&Node],
        known: &HashMap<usize, u64>,
    ) -> Result<u64, AwsError> {
        let all = ctx.searcher.num_docs();
        let index_of = |child: &Node| {
            nodes
                .iter()
                .position(|n| std::ptr::eq(*n, child))
                .and_then(|i| known.get(&i).copied())
                .unwrap_or(all)
        };
        Ok(match node {
            Node::And(c) => c.iter().map(index_of).min().unwrap_or(all),
            Node::Or(c) => c.iter().map(index_of).sum::<u64>().min(all),
            Node::Leaf(leaf) => {
                // The candidates of the access path (an upper bound when a residual follows).
                let q = ctx.access(leaf).map_err(storage)?;
                let w = q
                    .weight(tantivy::query::EnableScoring::disabled_from_searcher(
                        ctx.searcher,
                    ))
                    .map_err(storage)?;
                let mut n = 0u64;
                for seg in ctx.searcher.segment_readers() {
                    n += u64::from(w.count(seg).map_err(storage)?);
                }
                n.min(all)
            }
        })
    }
}

/// Builds an in-memory instance of `users` and `groups` in one commit
/// (tests and benchmarks).
pub fn instance_of(
    users: impl IntoIterator<Item = User>,
    groups: Vec<HierarchyGroup>,
) -> Result<Instance, AwsError> {
    let inst = Instance::in_memory()?;
    let meta = Meta {
        groups,
        ..Meta::default()
    };
    inst.apply(&meta.payload()?, |st| {
        for u in users {
            st.upsert(&u)?;
        }
        Ok(())
    })?;
    *live::write(&inst.live, "state")? = Live::of(meta, None);
    Ok(inst)
}
