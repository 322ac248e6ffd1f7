//! The write path of an instance: what is written but not yet folded into
//! the tantivy index (the delta), how a write is checked, logged, fsynced
//! and made visible, how other processes' writes are caught up with, and
//! the fold of the delta into the index.
//!
//! Takes in write calls (closures that look at a [`View`] of the current
//! state and give back [`Change`]s); gives out the new state, visible to
//! every search once the call returns, and durable in the instance's
//! write-ahead log ([`super::wal`]) before it returns. The design is in
//! docs/storage.md ("Writes through the API").

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::{Deserialize, Serialize};

use super::error::{failed, storage};
use super::schema::{index_terms, subtree};
use super::wal::{Change, LogRecord};
use super::{Instance, InstanceInfo, COMMIT_FILE};
use crate::criteria::eval::Folded;
use crate::plan::{sort_key_bytes, successor, Access, IndexField, Node};
use crate::records::{Groups, HierarchyGroup, User};
use crate::storage::{FileLock, FileStamp, LockMode};
use crate::AwsError;

/// The lock file of an instance directory: held exclusively by a write
/// (from before it reads the log's tail until its record is appended),
/// a fold and an import; shared while the log is read.
pub(crate) const LOCK_FILE: &str = "lock";

/// The delta size (users changed since the last fold) at which the write
/// that reaches it folds the delta into the index.
pub const DEFAULT_FOLD_AT: usize = 20_000;

/// What the payload of an index commit holds: the instance's groups, its
/// own record, and the last log record the commit folded in.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Meta {
    /// Every hierarchy group, sorted by id.
    #[serde(default)]
    pub groups: Vec<HierarchyGroup>,
    /// The instance's own record.
    #[serde(default)]
    pub info: InstanceInfo,
    /// The sequence number of the last log record this commit holds.
    #[serde(default)]
    pub seq: u64,
}

impl Meta {
    /// Reads a commit payload: this shape, or the bare groups array that
    /// versions before the write-ahead log wrote.
    pub(crate) fn parse(payload: Option<&str>) -> Result<Meta, AwsError> {
        match payload.map(str::trim_start) {
            None | Some("") => Ok(Meta::default()),
            Some(p) if p.starts_with('[') => Ok(Meta {
                groups: serde_json::from_str(p).map_err(storage)?,
                ..Meta::default()
            }),
            Some(p) => serde_json::from_str(p).map_err(storage),
        }
    }

    /// The payload text.
    pub(crate) fn payload(&self) -> Result<String, AwsError> {
        serde_json::to_string(self).map_err(storage)
    }
}

/// The users written since the last fold, by id: the record as it is now,
/// or `None` for a deleted user. Every search answers these from here
/// (with the reference evaluator's predicates) and leaves their index
/// documents out.
#[derive(Debug, Clone, Default)]
pub(crate) struct Delta {
    /// Changed users by id; `None`: deleted.
    pub users: BTreeMap<String, Option<Arc<Pending>>>,
    /// The username of every present user of `users`, to its id.
    pub names: HashMap<String, String>,
    /// The present users of `users` by sort key, the order searches give
    /// them in (a search whose plan reaches every user walks this).
    pub order: BTreeMap<String, Arc<Pending>>,
    /// The present users' index terms ([`super::schema::index_terms`]), to
    /// the users holding them by sort key: the delta's own small inverted
    /// index, so a search tests only the pending users its plan's access
    /// paths can reach.
    postings: BTreeMap<(IndexField, String), BTreeMap<String, Arc<Pending>>>,
}

/// A present user of the delta, with what every search tests it by,
/// computed once when it was written: its folded names and its sort key.
#[derive(Debug)]
pub(crate) struct Pending {
    /// The record.
    pub user: User,
    /// Its caseless fields, folded.
    pub folded: Folded,
    /// Its sort key ([`sort_key_bytes`]).
    pub key: String,
}

impl Delta {
    fn forget(&mut self, id: &str) {
        if let Some(Some(old)) = self.users.get(id) {
            if self.names.get(&old.user.username).is_some_and(|o| o == id) {
                self.names.remove(&old.user.username);
            }
            self.order.remove(&old.key);
            for term in index_terms(&old.user, &old.folded) {
                if let Some(users) = self.postings.get_mut(&term) {
                    users.remove(&old.key);
                    if users.is_empty() {
                        self.postings.remove(&term);
                    }
                }
            }
        }
    }

    fn put(&mut self, user: User) {
        self.forget(&user.id);
        let folded = Folded::of(&user);
        let key = sort_key_bytes(&folded.username, &user.id);
        self.names.insert(user.username.clone(), user.id.clone());
        let id = user.id.clone();
        let terms = index_terms(&user, &folded);
        let pending = Arc::new(Pending { user, folded, key });
        for term in terms {
            self.postings
                .entry(term)
                .or_default()
                .insert(pending.key.clone(), Arc::clone(&pending));
        }
        self.order.insert(pending.key.clone(), Arc::clone(&pending));
        self.users.insert(id, Some(pending));
    }

    fn delete(&mut self, id: &str) {
        self.forget(id);
        self.users.insert(id.to_string(), None);
    }

    /// The record of a user the delta holds: `Some(None)` when deleted,
    /// `None` when the delta does not hold it.
    pub(crate) fn user(&self, id: &str) -> Option<Option<User>> {
        self.users
            .get(id)
            .map(|u| u.as_ref().map(|p| p.user.clone()))
    }

    /// The present users, in sort-key order.
    pub(crate) fn present(&self) -> impl Iterator<Item = &User> {
        self.order.values().map(|p| &p.user)
    }

    /// The present users that plan node `node` can match, with their sort
    /// keys, found the way the index finds its documents (the same access
    /// paths over the delta's postings), in sort-key order; `None` when the
    /// node reaches every user (`All`, a dictionary scan). A superset: a
    /// residual check and the rest of the condition are left to the
    /// caller's exact test.
    pub(crate) fn candidates(&self, node: &Node, groups: &Groups) -> Option<Reached<'_>> {
        match node {
            Node::And(children) => children
                .iter()
                .filter_map(|c| self.candidates(c, groups))
                .min_by_key(Vec::len),
            Node::Or(children) => {
                let mut all = Vec::new();
                for c in children {
                    all.extend(self.candidates(c, groups)?);
                }
                Some(sorted_set(all))
            }
            Node::Leaf(leaf) => self.reached(&leaf.access, groups),
        }
    }

    fn reached(&self, access: &Access, groups: &Groups) -> Option<Reached<'_>> {
        let holding = |field: IndexField, term: &str| -> Reached<'_> {
            self.postings
                .get(&(field, term.to_string()))
                .into_iter()
                .flatten()
                .map(|(k, p)| (k.as_str(), &**p))
                .collect()
        };
        Some(match access {
            Access::All | Access::DictionaryScan { .. } => return None,
            Access::Term { field, term } => holding(*field, term),
            Access::AnyTerm(terms) => {
                sorted_set(terms.iter().flat_map(|(f, t)| holding(*f, t)).collect())
            }
            Access::Prefix { field, prefix } => self.under_prefix(*field, prefix),
            Access::ProficiencyTuples { prefix, .. } => {
                self.under_prefix(IndexField::Proficiency, prefix)
            }
            Access::Grams(grams) => {
                let mut sets = grams.iter().map(|g| holding(IndexField::Grams, g));
                let mut acc = sets.next()?;
                for s in sets {
                    acc.retain(|(k, _)| s.binary_search_by(|(o, _)| o.cmp(k)).is_ok());
                }
                acc
            }
            Access::Subtree { group } => sorted_set(
                subtree(groups, group)
                    .iter()
                    .flat_map(|g| holding(IndexField::Group, g))
                    .collect(),
            ),
        })
    }

    /// The users holding a term of `field` that starts with `prefix`.
    fn under_prefix(&self, field: IndexField, prefix: &str) -> Reached<'_> {
        let lo = Bound::Included((field, prefix.to_string()));
        let hi = match successor(prefix) {
            Some(h) => Bound::Excluded((field, h)),
            None => Bound::Unbounded,
        };
        sorted_set(
            self.postings
                .range((lo, hi))
                .take_while(|((f, _), _)| *f == field)
                .flat_map(|(_, users)| users.iter().map(|(k, p)| (k.as_str(), &**p)))
                .collect(),
        )
    }
}

/// Pending users by sort key, in order, each once.
pub(crate) type Reached<'a> = Vec<(&'a str, &'a Pending)>;

/// `users` sorted by key, repeats dropped.
fn sorted_set(mut users: Reached<'_>) -> Reached<'_> {
    users.sort_unstable_by(|a, b| a.0.cmp(b.0));
    users.dedup_by(|a, b| a.0 == b.0);
    users
}

/// The index documents of the delta's users (their records as the index
/// holds them, which the delta replaces), left out of every search: by
/// segment, as a bitset of documents and their sort keys. Each user's
/// documents are looked up once, when the user enters the delta, so a
/// search needs no lookup by id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shadow {
    /// The searcher generation the documents were looked up in; `None`
    /// before the first.
    generation: Option<u64>,
    /// Users were looked up in more than one generation, so the documents
    /// may be incomplete: searches leave the delta's users out by id.
    mixed: bool,
    /// The documents, by segment.
    segments: HashMap<tantivy::index::SegmentId, Arc<ShadowSegment>>,
}

/// The shadowed documents of one segment.
#[derive(Debug, Clone)]
pub(crate) struct ShadowSegment {
    docs: tantivy::BitSet,
    max_doc: u32,
    /// Their sort keys (bytes of [`crate::plan::sort_key_bytes`]).
    keys: BTreeSet<Vec<u8>>,
}

impl ShadowSegment {
    /// Whether document `doc` of the segment is left out.
    pub(crate) fn contains(&self, doc: tantivy::DocId) -> bool {
        doc < self.max_doc && self.docs.contains(doc)
    }

    /// How many left-out documents have a sort key in `lo..hi` (`hi`
    /// `None`: unbounded).
    pub(crate) fn keys_in(&self, lo: Bound<&[u8]>, hi: Option<&[u8]>) -> u64 {
        let hi = hi.map_or(Bound::Unbounded, Bound::Excluded);
        if let (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(h)) = (lo, hi)
            && l >= h
        {
            return 0;
        }
        self.keys.range::<[u8], _>((lo, hi)).count() as u64
    }
}

impl Shadow {
    /// Records that document `doc` (of `max_doc`) of `segment`, whose sort
    /// key is `key`, belongs to a delta user, looked up in searcher
    /// generation `generation`.
    pub(crate) fn add(
        &mut self,
        generation: u64,
        segment: tantivy::index::SegmentId,
        max_doc: u32,
        doc: tantivy::DocId,
        key: Vec<u8>,
    ) {
        self.note_generation(generation);
        if doc >= max_doc {
            self.mixed = true;
            return;
        }
        let seg = self.segments.entry(segment).or_insert_with(|| {
            Arc::new(ShadowSegment {
                docs: tantivy::BitSet::with_max_value(max_doc),
                max_doc,
                keys: BTreeSet::new(),
            })
        });
        let seg = Arc::make_mut(seg);
        seg.docs.insert(doc);
        seg.keys.insert(key);
    }

    /// Records a lookup in searcher generation `generation`.
    pub(crate) fn note_generation(&mut self, generation: u64) {
        match self.generation {
            None => self.generation = Some(generation),
            Some(g) if g != generation => self.mixed = true,
            Some(_) => {}
        }
    }

    /// The left-out documents by segment, when they are all known for
    /// searcher generation `generation` (`None`: leave the delta's users
    /// out by id).
    pub(crate) fn for_generation(
        &self,
        generation: u64,
    ) -> Option<HashMap<tantivy::index::SegmentId, Arc<ShadowSegment>>> {
        match self.generation {
            _ if self.mixed => None,
            Some(g) if g != generation => None,
            _ => Some(self.segments.clone()),
        }
    }
}

/// An instance's state beside its committed index: groups, its record,
/// the delta, and how far its log has been read.
#[derive(Debug, Default)]
pub(crate) struct Live {
    /// The hierarchy groups now.
    pub groups: Groups,
    /// The instance's record now.
    pub info: InstanceInfo,
    /// Users written since the last fold.
    pub delta: Delta,
    /// The index documents of the delta's users.
    pub shadow: Shadow,
    /// The last log record applied.
    pub seq: u64,
    /// The end of the last whole log record read.
    pub wal_pos: u64,
    /// The commit file's stamp when the state was last loaded from it.
    pub commit: Option<FileStamp>,
}

impl Live {
    /// The state of a commit's payload, with an empty delta.
    pub(crate) fn of(meta: Meta, commit: Option<FileStamp>) -> Live {
        Live {
            groups: Groups::new(meta.groups),
            info: meta.info,
            delta: Delta::default(),
            shadow: Shadow::default(),
            seq: meta.seq,
            wal_pos: 0,
            commit,
        }
    }

    /// The payload of a commit of this state.
    pub(crate) fn meta(&self) -> Meta {
        let mut groups: Vec<HierarchyGroup> = self.groups.iter().cloned().collect();
        groups.sort_by(|a, b| a.id.cmp(&b.id));
        Meta {
            groups,
            info: self.info.clone(),
            seq: self.seq,
        }
    }

    fn apply(&mut self, rec: LogRecord) {
        for change in rec.changes {
            match change {
                Change::PutUser(u) => self.delta.put(u),
                Change::DeleteUser(id) => self.delta.delete(&id),
                Change::PutGroup(g) => self.groups.insert(g),
                Change::DeleteGroup(id) => self.groups.remove(&id),
                Change::PutInfo(info) => self.info = info,
            }
        }
        self.seq = rec.seq;
    }
}

/// What a write call sees: the instance as it is, its unfolded writes
/// included.
pub(crate) struct View<'a> {
    inst: &'a Instance,
    live: &'a Live,
    searcher: &'a tantivy::Searcher,
}

impl View<'_> {
    /// The user with this `Id`, if any.
    pub(crate) fn user(&self, id: &str) -> Result<Option<User>, AwsError> {
        match self.live.delta.user(id) {
            Some(u) => Ok(u),
            None => self.inst.indexed_user(self.searcher, id),
        }
    }

    /// The id of the user holding exactly this username, if any.
    pub(crate) fn owner_of(&self, username: &str) -> Option<String> {
        if let Some(id) = self.live.delta.names.get(username) {
            return Some(id.clone());
        }
        // An indexed owner that was changed since holds it no longer (else
        // the delta's names would say so).
        self.inst
            .owner_of(self.searcher, username)
            .filter(|id| !self.live.delta.users.contains_key(id))
    }

    /// The hierarchy groups.
    pub(crate) fn groups(&self) -> &Groups {
        &self.live.groups
    }

    /// The instance's record.
    pub(crate) fn info(&self) -> &InstanceInfo {
        &self.live.info
    }

    /// True when some user's `HierarchyGroupId` is `group`: a user of the
    /// delta as it is now, or an indexed one the delta did not change
    /// (found by the index's group term, not by a scan of the users).
    pub(crate) fn group_has_users(&self, group: &str) -> bool {
        let changed = &self.live.delta.users;
        self.live
            .delta
            .present()
            .any(|u| u.hierarchy_group_id.as_deref() == Some(group))
            || self
                .inst
                .any_indexed_in_group(self.searcher, group, |id| !changed.contains_key(id))
    }
}

fn poisoned(what: &str) -> AwsError {
    AwsError::internal(format!("{what} lock poisoned"))
}

/// `mutex.lock()` as an engine error.
pub(crate) fn lock<'a, T>(m: &'a Mutex<T>, what: &str) -> Result<MutexGuard<'a, T>, AwsError> {
    m.lock().map_err(|_| poisoned(what))
}

/// `rwlock.read()` as an engine error.
pub(crate) fn read<'a, T>(
    m: &'a RwLock<T>,
    what: &str,
) -> Result<RwLockReadGuard<'a, T>, AwsError> {
    m.read().map_err(|_| poisoned(what))
}

/// `rwlock.write()` as an engine error.
pub(crate) fn write<'a, T>(
    m: &'a RwLock<T>,
    what: &str,
) -> Result<RwLockWriteGuard<'a, T>, AwsError> {
    m.write().map_err(|_| poisoned(what))
}

fn gone(dir: &Path) -> AwsError {
    AwsError::not_found(format!(
        "InstanceId: the instance stored in '{}' was deleted",
        dir.display()
    ))
}

impl Instance {
    /// Takes the instance's lock file (`None` for an in-memory instance);
    /// `ResourceNotFoundException` when the instance was deleted.
    pub(crate) fn lock_file(&self, mode: LockMode) -> Result<Option<FileLock>, AwsError> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        let path = dir.join(LOCK_FILE);
        match FileLock::acquire(&path, mode).map_err(failed("cannot lock instance", &path))? {
            Some(l) => Ok(Some(l)),
            None => Err(gone(dir)),
        }
    }

    /// Brings `live` up to what is on disk: a new commit (a fold or an
    /// import by any process) reloads the index and the payload; records
    /// appended to the log since are applied. With `exclusive` (the caller
    /// holds the instance lock exclusively, so no append is in flight) a
    /// torn tail, a crashed writer's unacknowledged record, is cut off.
    pub(crate) fn catch_up(&self, live: &mut Live, exclusive: bool) -> Result<(), AwsError> {
        let (Some(dir), Some(wal)) = (&self.dir, &self.wal) else {
            return Ok(());
        };
        let commit_path = dir.join(COMMIT_FILE);
        let commit = FileStamp::read(&commit_path)
            .map_err(failed("cannot read commit", &commit_path))?
            .ok_or_else(|| gone(dir))?;
        let len = wal.len().map_err(storage)?;
        if live.commit.as_ref() != Some(&commit) || len < live.wal_pos {
            self.reader.reload().map_err(storage)?;
            let metas = self.index.load_metas().map_err(storage)?;
            *live = Live::of(Meta::parse(metas.payload.as_deref())?, Some(commit));
        }
        if len > live.wal_pos {
            let searcher = self.reader.searcher();
            for (rec, end) in wal.read_from(live.wal_pos).map_err(storage)? {
                if rec.seq > live.seq {
                    self.apply_record(&searcher, live, rec)?;
                }
                live.wal_pos = end;
            }
            if exclusive && len > live.wal_pos {
                wal.truncate(live.wal_pos).map_err(storage)?;
            }
        }
        Ok(())
    }

    /// Applies a log record to `live`, first looking up the index
    /// documents of the users it brings into the delta (the shadow).
    fn apply_record(
        &self,
        searcher: &tantivy::Searcher,
        live: &mut Live,
        rec: LogRecord,
    ) -> Result<(), AwsError> {
        for change in &rec.changes {
            let id = match change {
                Change::PutUser(u) => &u.id,
                Change::DeleteUser(id) => id,
                _ => continue,
            };
            if !live.delta.users.contains_key(id) {
                self.shadow_user(searcher, &mut live.shadow, id)?;
            }
        }
        live.apply(rec);
        Ok(())
    }

    /// Catches up with other processes' writes when the log or the commit
    /// changed since this process last looked (one `fstat` and one `stat`
    /// when nothing did). Gives the state, read-locked.
    pub(crate) fn current(&self) -> Result<RwLockReadGuard<'_, Live>, AwsError> {
        let (Some(dir), Some(wal)) = (&self.dir, &self.wal) else {
            return read(&self.live, "state");
        };
        {
            let live = read(&self.live, "state")?;
            let len = wal.len().map_err(storage)?;
            let commit = FileStamp::read(&dir.join(COMMIT_FILE)).ok().flatten();
            if len == live.wal_pos && commit.is_some() && commit == live.commit {
                return Ok(live);
            }
        }
        {
            // The writers' order: this process's writes, the file lock, the state.
            let _w = lock(&self.writes, "write")?;
            let _f = self.lock_file(LockMode::Shared)?;
            let mut live = write(&self.live, "state")?;
            self.catch_up(&mut live, false)?;
        }
        read(&self.live, "state")
    }

    /// One write call: `f` looks at the instance as it is and gives the
    /// changes to make (none: nothing is written) and the call's answer.
    /// The changes are appended to the log as one record, applied to the
    /// delta (visible to searches from then on), and fsynced (shared with
    /// concurrent writers) before this returns. The write that brings the
    /// delta to the fold threshold folds it.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&View<'_>) -> Result<(Vec<Change>, T), AwsError>,
    ) -> Result<T, AwsError> {
        let (value, ticket, pending) = {
            let _w = lock(&self.writes, "write")?;
            let _f = self.lock_file(LockMode::Exclusive)?;
            let mut live = write(&self.live, "state")?;
            self.catch_up(&mut live, true)?;
            let searcher = self.reader.searcher();
            let (changes, value) = f(&View {
                inst: self,
                live: &live,
                searcher: &searcher,
            })?;
            if changes.is_empty() {
                return Ok(value);
            }
            let rec = LogRecord {
                seq: live.seq + 1,
                changes,
            };
            let ticket = match &self.wal {
                Some(wal) => {
                    let (n, ticket) = wal.append(&rec).map_err(storage)?;
                    live.wal_pos += n;
                    Some(ticket)
                }
                None => None,
            };
            self.apply_record(&searcher, &mut live, rec)?;
            (value, ticket, live.delta.users.len())
        };
        if let (Some(wal), Some(ticket)) = (&self.wal, ticket) {
            wal.sync(ticket).map_err(storage)?;
        }
        if pending >= self.fold_at() {
            self.fold()?;
        }
        Ok(value)
    }

    /// The delta size at which a write folds the delta into the index.
    pub fn fold_at(&self) -> usize {
        self.fold_at.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sets the delta size at which a write folds (default
    /// [`DEFAULT_FOLD_AT`]; at least 1).
    pub fn set_fold_at(&self, users: usize) {
        self.fold_at
            .store(users.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// The number of users written since the last fold.
    pub fn pending(&self) -> Result<usize, AwsError> {
        Ok(self.current()?.delta.users.len())
    }

    /// Folds the delta into the index in one commit (whose payload records
    /// the last log record it holds) and empties the log.
    pub fn fold(&self) -> Result<(), AwsError> {
        self.fold_with(None, None, |_| Ok(())).map(|_| ())
    }

    /// A commit of the delta and then whatever `stage` stages (an
    /// import's lines), with `groups` and `info`, when given, replacing the
    /// groups and the instance's record:
    /// the delta's users are staged first (deletes, then the present
    /// records), so an import applies after every write logged before it.
    /// Gives `stage`'s answer and its users staged and replaced.
    pub(super) fn fold_with<T>(
        &self,
        groups: Option<Vec<HierarchyGroup>>,
        info: Option<InstanceInfo>,
        stage: impl FnOnce(&mut super::Stager<'_>) -> Result<T, AwsError>,
    ) -> Result<(T, u64, u64), AwsError> {
        let _w = lock(&self.writes, "write")?;
        let _f = self.lock_file(LockMode::Exclusive)?;
        let (delta, meta) = {
            let mut live = write(&self.live, "state")?;
            self.catch_up(&mut live, true)?;
            let mut meta = live.meta();
            if let Some(g) = &groups {
                meta.groups = g.clone();
            }
            if let Some(i) = info {
                meta.info = i;
            }
            (live.delta.users.clone(), meta)
        };
        // Readers keep answering from the old index and the delta meanwhile;
        // once the reader reloads they answer the delta's users from the
        // delta still (their documents left out), which is the same answer.
        let result = self.apply(&meta.payload()?, |st| {
            for id in delta.keys() {
                st.delete(id);
            }
            for pending in delta.values().flatten() {
                st.upsert(&pending.user)?;
            }
            st.imported = 0;
            st.replaced = 0;
            stage(st)
        })?;
        let mut live = write(&self.live, "state")?;
        let commit = match &self.dir {
            Some(dir) => {
                let path = dir.join(COMMIT_FILE);
                FileStamp::read(&path).map_err(failed("cannot read commit", &path))?
            }
            None => None,
        };
        *live = Live::of(meta, commit);
        if let Some(wal) = &self.wal {
            wal.truncate(0).map_err(storage)?;
        }
        drop(live);
        if self.dir.is_some() {
            // Another process may fold or import next: it needs tantivy's
            // writer lock.
            self.close()?;
        }
        Ok(result)
    }
}
