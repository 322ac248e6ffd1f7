//! Connect records: users and hierarchy groups in the shapes AWS returns
//! them (`DescribeUser`, `DescribeUserHierarchyGroup`), read from JSON lines.
//!
//! Takes in JSON lines; gives out typed [`User`]s and [`HierarchyGroup`]s and
//! an in-memory [`Directory`] (users by id plus the group tree) that the
//! reference evaluator and the index engine both read. The import rules of
//! docs/semantics.md §1 (replace on equal `Id`, reject a duplicate `Username`) live
//! here, in [`Directory::upsert`].

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use serde::{Deserialize, Serialize};

use crate::AwsError;

/// A Connect user as `DescribeUser` returns it, plus the optional
/// `Proficiencies` list beside the standard members.
///
/// `Id` and `Username` are required; every other member may be absent and
/// stays absent in search results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct User {
    /// The user's identifier.
    pub id: String,
    /// The user's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The login name (1..100 characters).
    pub username: String,
    /// Names and contact details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_info: Option<IdentityInfo>,
    /// Phone settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_config: Option<PhoneConfig>,
    /// The directory user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_user_id: Option<String>,
    /// Security profiles (1..10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_profile_ids: Option<Vec<String>>,
    /// The routing profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_profile_id: Option<String>,
    /// The hierarchy group the user belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hierarchy_group_id: Option<String>,
    /// Tags, key to value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// Per-channel auto-accept settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_accept_configs: Option<Vec<AutoAcceptConfig>>,
    /// Per-channel after-contact-work settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_contact_work_configs: Option<Vec<AfterContactWorkConfigPerChannel>>,
    /// Per-channel phone number settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_configs: Option<Vec<PhoneNumberConfig>>,
    /// Per-channel persistent connection settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_connection_configs: Option<Vec<PersistentConnectionConfig>>,
    /// Per-channel voice enhancement settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_enhancement_configs: Option<Vec<VoiceEnhancementConfig>>,
    /// When the user was last changed (epoch seconds, or the ISO text the AWS CLI prints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<serde_json::Value>,
    /// The region of the last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_region: Option<String>,
    /// The user's proficiencies (not part of `DescribeUser`; imported beside it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proficiencies: Option<Vec<Proficiency>>,
}

/// `IdentityInfo` of a user.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct IdentityInfo {
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Secondary e-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_email: Option<String>,
    /// Mobile number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
}

/// `PhoneConfig` of a user. `AfterContactWorkTimeLimit` is in seconds as
/// `DescribeUser` returns it (SearchUsers reports milliseconds).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PhoneConfig {
    /// `SOFT_PHONE` or `DESK_PHONE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_type: Option<PhoneType>,
    /// Auto-accept calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_accept: Option<bool>,
    /// After-contact-work time limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_contact_work_time_limit: Option<u64>,
    /// Desk phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desk_phone_number: Option<String>,
    /// Persistent connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_connection: Option<bool>,
}

/// The phone type enum of the Connect model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PhoneType {
    /// `SOFT_PHONE`
    SoftPhone,
    /// `DESK_PHONE`
    DeskPhone,
}

/// The channel enum of the Connect model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Channel {
    /// `VOICE`
    Voice,
    /// `CHAT`
    Chat,
    /// `TASK`
    Task,
    /// `EMAIL`
    Email,
}

/// `AutoAcceptConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AutoAcceptConfig {
    /// The channel.
    pub channel: Channel,
    /// Whether auto-accept is on.
    pub auto_accept: bool,
    /// Auto-accept for agent-first callbacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_first_callback_auto_accept: Option<bool>,
}

/// `AfterContactWorkConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AfterContactWorkConfig {
    /// Seconds of after-contact work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_contact_work_time_limit: Option<u64>,
}

/// `AfterContactWorkConfigPerChannel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AfterContactWorkConfigPerChannel {
    /// The channel.
    pub channel: Channel,
    /// The settings.
    pub after_contact_work_config: AfterContactWorkConfig,
    /// The settings for agent-first callbacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_first_callback_after_contact_work_config: Option<AfterContactWorkConfig>,
}

/// `PhoneNumberConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PhoneNumberConfig {
    /// The channel.
    pub channel: Channel,
    /// The phone type.
    pub phone_type: PhoneType,
    /// The number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

/// `PersistentConnectionConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PersistentConnectionConfig {
    /// The channel.
    pub channel: Channel,
    /// Whether the connection persists.
    pub persistent_connection: bool,
}

/// `VoiceEnhancementConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct VoiceEnhancementConfig {
    /// The channel.
    pub channel: Channel,
    /// `VOICE_ISOLATION`, `NOISE_SUPPRESSION` or `NONE`.
    pub voice_enhancement_mode: VoiceEnhancementMode,
}

/// The voice enhancement modes of the Connect model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VoiceEnhancementMode {
    /// `VOICE_ISOLATION`
    VoiceIsolation,
    /// `NOISE_SUPPRESSION`
    NoiseSuppression,
    /// `NONE`
    None,
}

/// A `UserProficiency`: attribute name, value and level (1..5, may be fractional).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Proficiency {
    /// The predefined attribute's name, e.g. `Language`.
    pub attribute_name: String,
    /// Its value, e.g. `Spanish`.
    pub attribute_value: String,
    /// The level, 1.0..=5.0.
    pub level: f64,
}

/// A `HierarchyGroup` as `DescribeUserHierarchyGroup` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct HierarchyGroup {
    /// The group id.
    pub id: String,
    /// The group's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The group's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The level's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_id: Option<String>,
    /// The groups from level one down to this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hierarchy_path: Option<HierarchyPath>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// Last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<serde_json::Value>,
    /// Region of the last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_region: Option<String>,
}

/// `HierarchyPath`: the group summaries of levels one to five.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct HierarchyPath {
    /// Level one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_one: Option<GroupSummary>,
    /// Level two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_two: Option<GroupSummary>,
    /// Level three.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_three: Option<GroupSummary>,
    /// Level four.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_four: Option<GroupSummary>,
    /// Level five.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_five: Option<GroupSummary>,
}

impl HierarchyPath {
    /// The summaries present, from level one down.
    pub fn levels(&self) -> impl Iterator<Item = &GroupSummary> {
        [
            &self.level_one,
            &self.level_two,
            &self.level_three,
            &self.level_four,
            &self.level_five,
        ]
        .into_iter()
        .flatten()
    }
}

/// `HierarchyGroupSummary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GroupSummary {
    /// The group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The group ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<serde_json::Value>,
    /// Region of the last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_region: Option<String>,
}

impl User {
    /// First name, if any.
    pub fn first_name(&self) -> Option<&str> {
        self.identity_info.as_ref()?.first_name.as_deref()
    }
    /// Last name, if any.
    pub fn last_name(&self) -> Option<&str> {
        self.identity_info.as_ref()?.last_name.as_deref()
    }

    /// Checks the model's limits on a user record that serde cannot express.
    pub fn validate(&self) -> Result<(), String> {
        if self.id.is_empty() || self.id.chars().count() > MAX_ID_CHARS {
            return Err(format!("Id: must be 1..{MAX_ID_CHARS} characters"));
        }
        let n = self.username.chars().count();
        if !(1..=100).contains(&n) {
            return Err(format!("Username: must be 1..100 characters, got {n}"));
        }
        if let Some(ids) = &self.security_profile_ids
            && !(1..=10).contains(&ids.len())
        {
            return Err(format!(
                "SecurityProfileIds: must hold 1..10 ids, got {}",
                ids.len()
            ));
        }
        if let Some(tags) = &self.tags
            && tags.len() > 50
        {
            return Err(format!("Tags: at most 50 tags, got {}", tags.len()));
        }
        for (i, p) in self.proficiencies.iter().flatten().enumerate() {
            if !(1.0..=5.0).contains(&p.level) {
                return Err(format!(
                    "Proficiencies[{i}].Level: must be 1.0..5.0, got {}",
                    p.level
                ));
            }
        }
        Ok(())
    }
}

/// The longest user `Id` accepted (characters): AWS ids are 36-character
/// UUIDs; the bound keeps paging tokens within their 2,500-character limit.
pub const MAX_ID_CHARS: usize = 512;

/// A record that could not be read: which line, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RecordError {
    /// 1-based line number in the input.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl From<RecordError> for AwsError {
    fn from(e: RecordError) -> Self {
        AwsError::invalid_parameter(e.to_string())
    }
}

/// Parses one JSON line as a record of type `T`. A line may hold the record
/// itself or the `DescribeUser`/`DescribeUserHierarchyGroup` response
/// wrapping it (`{"User": {...}}`, `{"HierarchyGroup": {...}}`).
fn parse_record<T: serde::de::DeserializeOwned>(
    text: &str,
    wrapper: &str,
    line: usize,
) -> Result<T, RecordError> {
    // Fast path: a well-formed bare record decodes straight into `T`. Any
    // other line (a wrapper, an error) takes the path through `Value`,
    // which unwraps and names the failing member.
    if let Some(record) = crate::json::try_from_str::<T>(text) {
        return Ok(record);
    }
    let err = |message: String| RecordError { line, message };
    let mut value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| err(format!("not JSON: {e}")))?;
    if let Some(obj) = value.as_object_mut()
        && obj.len() == 1
        && let Some(inner) = obj.remove(wrapper)
    {
        value = inner;
    }
    crate::json::from_value(value).map_err(|e| err(e.to_string()))
}

/// Parses and validates one line of a users file (`line` is its 1-based
/// number, for the error); [`read_users`] does this for every line.
pub fn parse_user_line(text: &str, line: usize) -> Result<User, RecordError> {
    let user: User = parse_record(text, "User", line)?;
    user.validate()
        .map_err(|message| RecordError { line, message })?;
    Ok(user)
}

/// The one reader of JSON-lines input (users and groups files, imports):
/// each non-blank line with its 1-based number; a line that cannot be read
/// (not UTF-8, an I/O error) is a [`RecordError`] naming it.
///
/// ```
/// let input = "{}\n\n  \n{\"a\": 1}\n";
/// let lines: Vec<_> = rollcall::records::json_lines(input.as_bytes())
///     .collect::<Result<_, _>>()
///     .unwrap();
/// assert_eq!(lines, vec![(1, "{}".to_string()), (4, "{\"a\": 1}".to_string())]);
/// let bad = rollcall::records::json_lines(&b"{}\n\xff\n"[..]).nth(1).unwrap();
/// assert_eq!(bad.unwrap_err().line, 2);
/// ```
pub fn json_lines(
    input: impl BufRead,
) -> impl Iterator<Item = Result<(usize, String), RecordError>> {
    input
        .lines()
        .enumerate()
        .filter_map(|(i, line)| match line {
            Ok(text) if text.trim().is_empty() => None,
            Ok(text) => Some(Ok((i + 1, text))),
            Err(e) => Some(Err(RecordError {
                line: i + 1,
                message: format!("cannot read: {e}"),
            })),
        })
}

/// Reads users, one JSON object a line (blank lines skipped), calling `each`
/// with the line number and user; stops at the first bad line.
pub fn read_users(
    input: impl BufRead,
    mut each: impl FnMut(usize, User) -> Result<(), RecordError>,
) -> Result<(), RecordError> {
    for line in json_lines(input) {
        let (line_no, text) = line?;
        each(line_no, parse_user_line(&text, line_no)?)?;
    }
    Ok(())
}

/// Reads hierarchy groups, one JSON object a line.
pub fn read_groups(input: impl BufRead) -> Result<Vec<HierarchyGroup>, RecordError> {
    let mut groups = Vec::new();
    for line in json_lines(input) {
        let (line_no, text) = line?;
        let group: HierarchyGroup = parse_record(&text, "HierarchyGroup", line_no)?;
        if group.id.is_empty() {
            return Err(RecordError {
                line: line_no,
                message: "Id: must not be empty".into(),
            });
        }
        groups.push(group);
    }
    Ok(groups)
}

/// The hierarchy groups of an instance, by id, with each group's ancestry.
#[derive(Debug, Clone, Default)]
pub struct Groups {
    by_id: HashMap<String, HierarchyGroup>,
}

impl Groups {
    /// Builds the group table (a later group with the same id replaces an earlier one).
    pub fn new(groups: impl IntoIterator<Item = HierarchyGroup>) -> Self {
        Groups {
            by_id: groups.into_iter().map(|g| (g.id.clone(), g)).collect(),
        }
    }

    /// Adds a group, or replaces the group with the same id.
    pub fn insert(&mut self, group: HierarchyGroup) {
        self.by_id.insert(group.id.clone(), group);
    }

    /// Removes the group with this id, if any.
    pub fn remove(&mut self, id: &str) {
        self.by_id.remove(id);
    }

    /// The group with this id.
    pub fn get(&self, id: &str) -> Option<&HierarchyGroup> {
        self.by_id.get(id)
    }

    /// All groups, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &HierarchyGroup> {
        self.by_id.values()
    }

    /// The ids a user in group `id` is "under": the group itself and every
    /// group its `HierarchyPath` names. An unknown group yields itself only.
    ///
    /// ```
    /// use rollcall::records::Groups;
    /// let g = Groups::default();
    /// assert_eq!(g.lineage("g-1"), vec!["g-1".to_string()]);
    /// ```
    pub fn lineage(&self, id: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for g in self.lineage_ids(id) {
            if !out.iter().any(|o| o == g) {
                out.push(g.to_string());
            }
        }
        out
    }

    /// True when a user in group `id` is under group `ancestor`: `ancestor`
    /// is in [`Groups::lineage`] of `id` (tested without building it).
    ///
    /// ```
    /// use rollcall::records::Groups;
    /// let g = Groups::default();
    /// assert!(g.is_under("g-1", "g-1"));
    /// assert!(!g.is_under("g-1", "g-2"));
    /// ```
    pub fn is_under(&self, id: &str, ancestor: &str) -> bool {
        self.lineage_ids(id).any(|g| g == ancestor)
    }

    /// The group itself, then the ids its `HierarchyPath` names (repeats
    /// possible): the one definition of a group's lineage.
    fn lineage_ids<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a str> {
        let path = self
            .by_id
            .get(id)
            .and_then(|g| g.hierarchy_path.as_ref())
            .into_iter()
            .flat_map(|p| p.levels())
            .filter_map(|s| s.id.as_deref());
        std::iter::once(id).chain(path)
    }

    /// The group names from level one down to group `id` (for display).
    pub fn path_names(&self, id: &str) -> Vec<String> {
        match self.by_id.get(id) {
            Some(g) => match &g.hierarchy_path {
                Some(path) => path
                    .levels()
                    .map(|s| s.name.clone().or_else(|| s.id.clone()).unwrap_or_default())
                    .collect(),
                None => vec![g.name.clone().unwrap_or_else(|| g.id.clone())],
            },
            None => vec![id.to_string()],
        }
    }
}

/// An in-memory directory: one instance's users (by id) and groups.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    users: BTreeMap<String, User>,
    usernames: HashMap<String, String>,
    /// The instance's hierarchy groups.
    pub groups: Groups,
}

impl Directory {
    /// An empty directory with these groups.
    pub fn new(groups: Groups) -> Self {
        Directory {
            groups,
            ..Directory::default()
        }
    }

    /// Loads users and groups from JSON lines (docs/semantics.md §1 rules apply).
    pub fn load(users: impl BufRead, groups: Option<impl BufRead>) -> Result<Self, RecordError> {
        let groups = match groups {
            Some(g) => read_groups(g)?,
            None => Vec::new(),
        };
        let mut dir = Directory::new(Groups::new(groups));
        read_users(users, |line, user| {
            dir.upsert(user)
                .map_err(|message| RecordError { line, message })
        })?;
        Ok(dir)
    }

    /// Adds a user, or replaces the user with the same `Id`. A `Username`
    /// held (exactly) by another user is rejected.
    ///
    /// ```
    /// use rollcall::records::{Directory, User};
    /// let mut d = Directory::default();
    /// let u = |id: &str, name: &str| -> User {
    ///     serde_json::from_value(serde_json::json!({"Id": id, "Username": name})).unwrap()
    /// };
    /// d.upsert(u("1", "ann")).unwrap();
    /// assert!(d.upsert(u("2", "ann")).is_err());
    /// d.upsert(u("2", "Ann")).unwrap(); // differs in case: a distinct user
    /// d.upsert(u("1", "bob")).unwrap(); // replaces user 1
    /// assert_eq!(d.len(), 2);
    /// ```
    pub fn upsert(&mut self, user: User) -> Result<(), String> {
        if let Some(owner) = self.usernames.get(&user.username)
            && *owner != user.id
        {
            return Err(format!(
                "Username '{}' is already used by user '{owner}'",
                user.username
            ));
        }
        if let Some(old) = self.users.get(&user.id) {
            self.usernames.remove(&old.username);
        }
        self.usernames
            .insert(user.username.clone(), user.id.clone());
        self.users.insert(user.id.clone(), user);
        Ok(())
    }

    /// Removes a user by id; true if it existed.
    pub fn remove(&mut self, id: &str) -> bool {
        match self.users.remove(id) {
            Some(old) => {
                self.usernames.remove(&old.username);
                true
            }
            None => false,
        }
    }

    /// The user with this id.
    pub fn get(&self, id: &str) -> Option<&User> {
        self.users.get(id)
    }

    /// The id of the user holding this exact username.
    pub fn id_of_username(&self, username: &str) -> Option<&str> {
        self.usernames.get(username).map(String::as_str)
    }

    /// Every user, ordered by id.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True when there are no users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_line_is_named() {
        let input = "{\"Id\":\"1\",\"Username\":\"a\"}\n\n{\"Id\":\"2\"}\n";
        let err = Directory::load(input.as_bytes(), None::<&[u8]>).unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("Username"), "{}", err.message);
    }

    #[test]
    fn unknown_member_is_named_with_its_path() {
        let input = r#"{"Id":"1","Username":"a","IdentityInfo":{"Frist":"x"}}"#;
        let err = Directory::load(input.as_bytes(), None::<&[u8]>).unwrap_err();
        assert!(err.message.starts_with("IdentityInfo"), "{}", err.message);
        assert!(err.message.contains("Frist"), "{}", err.message);
    }

    #[test]
    fn describe_user_wrapper_is_accepted() {
        let input = r#"{"User":{"Id":"1","Username":"a"}}"#;
        let d = Directory::load(input.as_bytes(), None::<&[u8]>).unwrap();
        assert_eq!(d.get("1").map(|u| u.username.as_str()), Some("a"));
    }

    #[test]
    fn bare_and_wrapped_lines_decode_alike_and_a_repeated_member_keeps_its_last_value() {
        let bare =
            r#"{"Id":"1","Username":"a","Tags":{"k":"v"},"IdentityInfo":{"FirstName":"Ann"}}"#;
        let wrapped = format!(r#"{{"User":{bare}}}"#);
        assert_eq!(
            parse_user_line(bare, 1).unwrap(),
            parse_user_line(&wrapped, 1).unwrap()
        );
        // serde's derive refuses a repeated member; the line still reads as
        // a JSON object does, the last value winning.
        let repeated = r#"{"Id":"1","Username":"a","Username":"b"}"#;
        assert_eq!(parse_user_line(repeated, 1).unwrap().username, "b");
    }

    #[test]
    fn duplicate_username_is_rejected_at_import() {
        let input = "{\"Id\":\"1\",\"Username\":\"a\"}\n{\"Id\":\"2\",\"Username\":\"a\"}\n";
        let err = Directory::load(input.as_bytes(), None::<&[u8]>).unwrap_err();
        assert_eq!(err.line, 2);
    }

    #[test]
    fn proficiency_level_outside_1_to_5_is_rejected() {
        let input = r#"{"Id":"1","Username":"a","Proficiencies":[{"AttributeName":"L","AttributeValue":"x","Level":6}]}"#;
        let err = Directory::load(input.as_bytes(), None::<&[u8]>).unwrap_err();
        assert!(err.message.contains("Level"), "{}", err.message);
    }
}
