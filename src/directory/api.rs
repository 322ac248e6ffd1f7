//! The Connect write operations as AWS defines them (the model in
//! `connect-2017-08-08.json`): users, their proficiencies, hierarchy groups
//! and the hierarchy structure, tags, and instances.
//!
//! Takes in an operation name and its whole input as JSON (the members the
//! wire binds from the path and the query string, such as `InstanceId` or
//! `resourceArn`, included by name); gives out the AWS JSON output or an
//! [`AwsError`]. Each input decodes into a serde type that accepts what
//! the model allows and rejects any other member (`SerializationException`);
//! patterns and limits the model states are checked here
//! (`InvalidParameterException`). Each user, group or instance change is
//! one logged write ([`Instance`]'s write path), so it is on disk before
//! the call returns and visible to every later search.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::wal::Change;
use super::{check_instance_id, Engine, Instance, InstanceInfo};
use crate::criteria::groups::SearchUserHierarchyGroupsRequest;
use crate::records::{
    AfterContactWorkConfigPerChannel, AutoAcceptConfig, GroupSummary, HierarchyGroup,
    HierarchyPath, IdentityInfo, PersistentConnectionConfig, PhoneConfig, PhoneNumberConfig,
    Proficiency, User, VoiceEnhancementConfig,
};
use crate::{AwsError, ErrorType};

/// What a tag operation does to a resource's tags.
type TagEdit = Box<dyn Fn(&mut BTreeMap<String, String>) -> Result<(), AwsError>>;

/// The region and account of every ARN this engine makes.
pub const ARN_PREFIX: &str = "arn:aws:connect:us-east-1:123456789012";

/// The ARN of an instance id.
///
/// ```
/// assert_eq!(
///     rollcall::directory::instance_arn("demo"),
///     "arn:aws:connect:us-east-1:123456789012:instance/demo"
/// );
/// ```
pub fn instance_arn(id: &str) -> String {
    format!("{ARN_PREFIX}:instance/{id}")
}

fn parse<T: DeserializeOwned>(body: &str) -> Result<T, AwsError> {
    crate::json::from_str(if body.trim().is_empty() { "{}" } else { body })
        .map_err(|e| AwsError::new(ErrorType::SerializationException, e.to_string()))
}

fn duplicate(message: String) -> AwsError {
    AwsError::new(ErrorType::DuplicateResourceException, message)
}

fn in_use(message: String) -> AwsError {
    AwsError::new(ErrorType::ResourceInUseException, message)
}

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::invalid_parameter(message)
}

/// The model's `Password` pattern,
/// `^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)[a-zA-Z\d\S]{8,64}$`: 8..64 characters
/// without white space, with a lower-case and an upper-case ASCII letter
/// and a digit.
///
/// ```
/// use rollcall::directory::password_allowed;
/// assert!(password_allowed("Secret123"));
/// assert!(!password_allowed("secret123"));
/// assert!(!password_allowed("Sec 123abc"));
/// assert!(!password_allowed("Sh0rt"));
/// ```
pub fn password_allowed(p: &str) -> bool {
    let n = p.chars().count();
    (8..=64).contains(&n)
        && p.chars().all(|c| !c.is_whitespace())
        && p.chars().any(|c| c.is_ascii_lowercase())
        && p.chars().any(|c| c.is_ascii_uppercase())
        && p.chars().any(|c| c.is_ascii_digit())
}

/// Checks a `TagMap` against the model: 1..50 tags, keys 1..128 characters
/// of letters, separators, numbers and `_.:/=+-@`, not starting `aws:`,
/// values at most 256 characters. `what` names the member.
fn check_tags(what: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
    if tags.is_empty() || tags.len() > 50 {
        return Err(invalid(format!(
            "{what}: must hold 1..50 tags, got {}",
            tags.len()
        )));
    }
    for (k, v) in tags {
        let n = k.chars().count();
        let allowed = |c: char| {
            c.is_alphabetic() || c.is_numeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
        };
        if !(1..=128).contains(&n) || k.starts_with("aws:") || !k.chars().all(allowed) {
            return Err(invalid(format!(
                "{what}: key '{k}' must be 1..128 letters, numbers, spaces or _.:/=+-@, not starting aws:"
            )));
        }
        if v.chars().count() > 256 {
            return Err(invalid(format!(
                "{what}.{k}: value longer than 256 characters"
            )));
        }
    }
    Ok(())
}

/// True for an E.164 phone number, `+`, a digit 1-9, then 1..14 digits:
/// what the model's `PhoneNumber` pattern `\+[1-9]\d{1,14}$` means.
fn is_phone_number(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or("");
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// The model's limits on the contact details a request gives: `FirstName`
/// at most 255 characters, `LastName` at most 300, `Mobile` and
/// `DeskPhoneNumber` phone numbers ([`is_phone_number`]).
fn check_contact(
    identity: Option<&IdentityInfo>,
    phone: Option<&PhoneConfig>,
) -> Result<(), AwsError> {
    let too_long =
        |v: &Option<String>, max: usize| v.as_ref().is_some_and(|v| v.chars().count() > max);
    if let Some(i) = identity {
        if too_long(&i.first_name, 255) {
            return Err(invalid("IdentityInfo.FirstName: at most 255 characters"));
        }
        if too_long(&i.last_name, 300) {
            return Err(invalid("IdentityInfo.LastName: at most 300 characters"));
        }
    }
    for (member, number) in [
        (
            "IdentityInfo.Mobile",
            identity.and_then(|i| i.mobile.as_deref()),
        ),
        (
            "PhoneConfig.DeskPhoneNumber",
            phone.and_then(|p| p.desk_phone_number.as_deref()),
        ),
    ] {
        if number.is_some_and(|n| !is_phone_number(n)) {
            return Err(invalid(format!(
                "{member}: must be a phone number in E.164 form (+ and 2..15 digits, the first not 0)"
            )));
        }
    }
    Ok(())
}

/// A `ClientToken` is accepted and ignored, but must be at most 500
/// characters (the model's `ClientToken`).
fn check_client_token(token: &Option<String>) -> Result<(), AwsError> {
    match token {
        Some(t) if t.chars().count() > 500 => {
            Err(invalid("ClientToken: must be at most 500 characters"))
        }
        _ => Ok(()),
    }
}

/// The levels of a proficiency must be 1.0..5.0, and its name and value
/// [`check_attribute`].
fn check_proficiencies(list: &[Proficiency]) -> Result<(), AwsError> {
    for (i, p) in list.iter().enumerate() {
        if !(1.0..=5.0).contains(&p.level) {
            return Err(invalid(format!(
                "UserProficiencies[{i}].Level: must be 1.0..5.0, got {}",
                p.level
            )));
        }
        check_attribute(i, &p.attribute_name, &p.attribute_value)?;
    }
    Ok(())
}

/// The name and value of the `i`-th proficiency of a request must be
/// 1..64 characters (the model's `PredefinedAttributeName` and
/// `PredefinedAttributeStringValue`).
fn check_attribute(i: usize, name: &str, value: &str) -> Result<(), AwsError> {
    for (m, v) in [("AttributeName", name), ("AttributeValue", value)] {
        if !(1..=64).contains(&v.chars().count()) {
            return Err(invalid(format!(
                "UserProficiencies[{i}].{m}: must be 1..64 characters"
            )));
        }
    }
    Ok(())
}

/// `CreateUser`'s input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct CreateUserInput {
    instance_id: String,
    username: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identity_info: Option<IdentityInfo>,
    #[serde(default)]
    phone_config: Option<PhoneConfig>,
    #[serde(default)]
    directory_user_id: Option<String>,
    security_profile_ids: Vec<String>,
    routing_profile_id: String,
    #[serde(default)]
    hierarchy_group_id: Option<String>,
    #[serde(default)]
    auto_accept_configs: Option<Vec<AutoAcceptConfig>>,
    #[serde(default)]
    after_contact_work_configs: Option<Vec<AfterContactWorkConfigPerChannel>>,
    #[serde(default)]
    phone_number_configs: Option<Vec<PhoneNumberConfig>>,
    #[serde(default)]
    persistent_connection_configs: Option<Vec<PersistentConnectionConfig>>,
    #[serde(default)]
    voice_enhancement_configs: Option<Vec<VoiceEnhancementConfig>>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
}

/// The input of the operations on one user (`InstanceId`, `UserId`) and
/// the one member each changes.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct UserInput {
    instance_id: String,
    user_id: String,
    #[serde(default)]
    identity_info: Option<IdentityInfo>,
    #[serde(default)]
    phone_config: Option<PhoneConfig>,
    #[serde(default)]
    routing_profile_id: Option<String>,
    #[serde(default)]
    security_profile_ids: Option<Vec<String>>,
    #[serde(default)]
    hierarchy_group_id: Option<String>,
    #[serde(default)]
    user_proficiencies: Option<Vec<Value>>,
}

/// `UserProficiencyDisassociate`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ProficiencyKey {
    attribute_name: String,
    attribute_value: String,
}

/// `CreateUserHierarchyGroup`, `DeleteUserHierarchyGroup`,
/// `UpdateUserHierarchyGroupName`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct GroupInput {
    instance_id: String,
    #[serde(default)]
    hierarchy_group_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    parent_group_id: Option<String>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
}

impl GroupInput {
    /// The `HierarchyGroupId` an operation on one group requires.
    fn required_group_id(&self) -> Result<String, AwsError> {
        self.hierarchy_group_id
            .clone()
            .ok_or_else(|| invalid("HierarchyGroupId: is required"))
    }

    /// The group's `Name`: required, 1..100 characters (the model's limits).
    fn checked_name(&self) -> Result<String, AwsError> {
        let name = self
            .name
            .clone()
            .ok_or_else(|| invalid("Name: is required"))?;
        if !(1..=100).contains(&name.chars().count()) {
            return Err(invalid("Name: must be 1..100 characters"));
        }
        Ok(name)
    }
}

/// `HierarchyLevelUpdate`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct LevelName {
    name: String,
}

/// `HierarchyStructureUpdate`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct StructureUpdate {
    #[serde(default)]
    level_one: Option<LevelName>,
    #[serde(default)]
    level_two: Option<LevelName>,
    #[serde(default)]
    level_three: Option<LevelName>,
    #[serde(default)]
    level_four: Option<LevelName>,
    #[serde(default)]
    level_five: Option<LevelName>,
}

/// `UpdateUserHierarchyStructure`'s input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct StructureInput {
    instance_id: String,
    hierarchy_structure: StructureUpdate,
}

/// `TagResource`, `UntagResource`, `ListTagsForResource`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TagInput {
    resource_arn: String,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    tag_keys: Option<Vec<String>>,
}

/// `CreateInstance`'s input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct CreateInstanceInput {
    #[serde(default)]
    client_token: Option<String>,
    identity_management_type: IdentityManagementType,
    #[serde(default)]
    instance_alias: Option<String>,
    #[serde(default)]
    directory_id: Option<String>,
    inbound_calls_enabled: bool,
    outbound_calls_enabled: bool,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
}

/// The model's `DirectoryType`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum IdentityManagementType {
    Saml,
    ConnectManaged,
    ExistingDirectory,
}

impl IdentityManagementType {
    fn as_str(self) -> &'static str {
        match self {
            IdentityManagementType::Saml => "SAML",
            IdentityManagementType::ConnectManaged => "CONNECT_MANAGED",
            IdentityManagementType::ExistingDirectory => "EXISTING_DIRECTORY",
        }
    }
}

/// `DescribeInstance`, `DeleteInstance`, `ListInstances`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct InstanceInput {
    #[serde(default)]
    instance_id: Option<String>,
    #[serde(default)]
    client_token: Option<String>,
    #[serde(default)]
    max_results: Option<u32>,
    #[serde(default)]
    next_token: Option<String>,
}

/// The groups a path names, from level one down.
fn path_ids(g: &HierarchyGroup) -> Vec<String> {
    g.hierarchy_path
        .iter()
        .flat_map(|p| p.levels())
        .filter_map(|s| s.id.clone())
        .collect()
}

/// The level of a group: the number of groups its path names (1 when it
/// has no path).
fn level_of(g: &HierarchyGroup) -> usize {
    path_ids(g).len().max(1)
}

fn slots(p: &mut HierarchyPath) -> [&mut Option<GroupSummary>; 5] {
    [
        &mut p.level_one,
        &mut p.level_two,
        &mut p.level_three,
        &mut p.level_four,
        &mut p.level_five,
    ]
}

impl Engine {
    /// Answers one Connect write operation (and `DescribeInstance`,
    /// `ListInstances`, `ListTagsForResource`, `SearchUserHierarchyGroups`)
    /// named as AWS spells it;
    /// `body` is its whole input. An operation it does not know is
    /// `None`, so the caller can try its read operations.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let engine = rollcall::directory::Engine::open(dir.path()).unwrap();
    /// engine.create_instance("demo").unwrap();
    /// let out = engine.call("CreateUser", r#"{"InstanceId": "demo", "Username": "ann",
    ///     "SecurityProfileIds": ["sp-1"], "RoutingProfileId": "rp-1"}"#).unwrap().unwrap();
    /// let id = out["UserId"].as_str().unwrap();
    /// assert_eq!(engine.instance("demo").unwrap().user(id).unwrap().unwrap().username, "ann");
    /// let again = engine.call("CreateUser", r#"{"InstanceId": "demo", "Username": "ann",
    ///     "SecurityProfileIds": ["sp-1"], "RoutingProfileId": "rp-1"}"#).unwrap();
    /// assert_eq!(again.unwrap_err().kind, rollcall::ErrorType::DuplicateResourceException);
    /// ```
    pub fn call(&self, operation: &str, body: &str) -> Option<Result<Value, AwsError>> {
        Some(match operation {
            "CreateUser" => self.create_user(body),
            "DeleteUser" => self.delete_user(body),
            "UpdateUserIdentityInfo"
            | "UpdateUserPhoneConfig"
            | "UpdateUserRoutingProfile"
            | "UpdateUserSecurityProfiles"
            | "UpdateUserHierarchy"
            | "AssociateUserProficiencies"
            | "DisassociateUserProficiencies"
            | "UpdateUserProficiencies" => self.update_user(operation, body),
            "CreateUserHierarchyGroup" => self.create_group(body),
            "DeleteUserHierarchyGroup" => self.delete_group(body),
            "UpdateUserHierarchyGroupName" => self.rename_group(body),
            "UpdateUserHierarchyStructure" => self.update_structure(body),
            "TagResource" | "UntagResource" | "ListTagsForResource" => self.tags(operation, body),
            "CreateInstance" => self.create_instance_api(body),
            "DescribeInstance" => self.describe_instance(body),
            "ListInstances" => self.list_instances(body),
            "DeleteInstance" => self.delete_instance(body),
            "SearchUserHierarchyGroups" => self.search_groups(body),
            _ => return None,
        })
    }

    fn open_checked(&self, id: &str) -> Result<Arc<Instance>, AwsError> {
        self.shared(id)
    }

    fn create_user(&self, body: &str) -> Result<Value, AwsError> {
        let input: CreateUserInput = parse(body)?;
        if let Some(p) = &input.password
            && !password_allowed(p)
        {
            return Err(invalid(
                    "Password: must be 8..64 characters without spaces, with a lower-case and an upper-case letter and a digit",
                ));
        }
        if let Some(t) = &input.tags {
            check_tags("Tags", t)?;
        }
        check_contact(input.identity_info.as_ref(), input.phone_config.as_ref())?;
        let inst = self.open_checked(&input.instance_id)?;
        let id = uuid::Uuid::new_v4().to_string();
        let arn = format!("{}/agent/{id}", instance_arn(&input.instance_id));
        let user = User {
            id: id.clone(),
            arn: Some(arn.clone()),
            username: input.username,
            identity_info: input.identity_info,
            phone_config: input.phone_config,
            directory_user_id: input.directory_user_id,
            security_profile_ids: Some(input.security_profile_ids),
            routing_profile_id: Some(input.routing_profile_id),
            hierarchy_group_id: input.hierarchy_group_id,
            tags: input.tags,
            auto_accept_configs: input.auto_accept_configs,
            after_contact_work_configs: input.after_contact_work_configs,
            phone_number_configs: input.phone_number_configs,
            persistent_connection_configs: input.persistent_connection_configs,
            voice_enhancement_configs: input.voice_enhancement_configs,
            last_modified_time: Some(json!(now())),
            last_modified_region: Some("us-east-1".into()),
            proficiencies: None,
        };
        user.validate().map_err(invalid)?;
        inst.write(|view| {
            if let Some(g) = &user.hierarchy_group_id
                && view.groups().get(g).is_none()
            {
                return Err(AwsError::not_found(format!(
                    "HierarchyGroupId: group '{g}' does not exist"
                )));
            }
            if view.owner_of(&user.username).is_some() {
                return Err(duplicate(format!(
                    "Username: '{}' is already used in this instance",
                    user.username
                )));
            }
            Ok((vec![Change::PutUser(user.clone())], ()))
        })?;
        Ok(json!({"UserId": id, "UserArn": arn}))
    }

    fn delete_user(&self, body: &str) -> Result<Value, AwsError> {
        let input: UserInput = parse(body)?;
        let inst = self.open_checked(&input.instance_id)?;
        inst.write(|view| match view.user(&input.user_id)? {
            Some(_) => Ok((vec![Change::DeleteUser(input.user_id.clone())], ())),
            None => Err(user_not_found(&input.user_id)),
        })?;
        Ok(json!({}))
    }

    /// The operations that change one member of a user.
    fn update_user(&self, operation: &str, body: &str) -> Result<Value, AwsError> {
        let input: UserInput = parse(body)?;
        check_contact(input.identity_info.as_ref(), input.phone_config.as_ref())?;
        let proficiencies = || -> Result<Vec<Value>, AwsError> {
            input
                .user_proficiencies
                .clone()
                .ok_or_else(|| invalid("UserProficiencies: is required"))
        };
        let decode = |v: Vec<Value>| -> Result<Vec<Proficiency>, AwsError> {
            v.into_iter()
                .map(|p| {
                    crate::json::from_value(p).map_err(|e| {
                        AwsError::new(
                            ErrorType::SerializationException,
                            format!("UserProficiencies: {e}"),
                        )
                    })
                })
                .collect()
        };
        // What the operation does to the user, checked before the write.
        let edit: Edit = match operation {
            "UpdateUserIdentityInfo" => replace(&input.identity_info, "IdentityInfo", |u| {
                &mut u.identity_info
            })?,
            "UpdateUserPhoneConfig" => {
                replace(&input.phone_config, "PhoneConfig", |u| &mut u.phone_config)?
            }
            "UpdateUserRoutingProfile" => {
                replace(&input.routing_profile_id, "RoutingProfileId", |u| {
                    &mut u.routing_profile_id
                })?
            }
            "UpdateUserSecurityProfiles" => {
                replace(&input.security_profile_ids, "SecurityProfileIds", |u| {
                    &mut u.security_profile_ids
                })?
            }
            "UpdateUserHierarchy" => {
                let g = input.hierarchy_group_id.clone();
                Box::new(move |u, groups| {
                    if let Some(id) = &g
                        && groups.get(id).is_none()
                    {
                        return Err(AwsError::not_found(format!(
                            "HierarchyGroupId: group '{id}' does not exist"
                        )));
                    }
                    u.hierarchy_group_id = g.clone();
                    Ok(())
                })
            }
            "AssociateUserProficiencies" | "UpdateUserProficiencies" => {
                let list = decode(proficiencies()?)?;
                check_proficiencies(&list)?;
                let associate = operation == "AssociateUserProficiencies";
                Box::new(move |u, _| {
                    let have = u.proficiencies.get_or_insert_with(Vec::new);
                    for p in &list {
                        let same = |q: &Proficiency| {
                            q.attribute_name == p.attribute_name
                                && q.attribute_value == p.attribute_value
                        };
                        match have.iter_mut().find(|q| same(q)) {
                            Some(q) => q.level = p.level,
                            None if associate => have.push(p.clone()),
                            None => {
                                return Err(invalid(format!(
                                    "UserProficiencies: {}={} is not associated with the user",
                                    p.attribute_name, p.attribute_value
                                )))
                            }
                        }
                    }
                    Ok(())
                })
            }
            _ => {
                let keys: Vec<ProficiencyKey> = proficiencies()?
                    .into_iter()
                    .map(|p| {
                        crate::json::from_value(p).map_err(|e| {
                            AwsError::new(
                                ErrorType::SerializationException,
                                format!("UserProficiencies: {e}"),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?;
                for (i, k) in keys.iter().enumerate() {
                    check_attribute(i, &k.attribute_name, &k.attribute_value)?;
                }
                Box::new(move |u, _| {
                    if let Some(have) = &mut u.proficiencies {
                        have.retain(|q| {
                            !keys.iter().any(|k| {
                                k.attribute_name == q.attribute_name
                                    && k.attribute_value == q.attribute_value
                            })
                        });
                        if have.is_empty() {
                            u.proficiencies = None;
                        }
                    }
                    Ok(())
                })
            }
        };
        let inst = self.open_checked(&input.instance_id)?;
        inst.write(|view| {
            let mut user = view
                .user(&input.user_id)?
                .ok_or_else(|| user_not_found(&input.user_id))?;
            edit(&mut user, view.groups())?;
            user.last_modified_time = Some(json!(now()));
            user.validate().map_err(invalid)?;
            Ok((vec![Change::PutUser(user)], ()))
        })?;
        Ok(json!({}))
    }

    fn create_group(&self, body: &str) -> Result<Value, AwsError> {
        let input: GroupInput = parse(body)?;
        let name = input.checked_name()?;
        if let Some(t) = &input.tags {
            check_tags("Tags", t)?;
        }
        let inst = self.open_checked(&input.instance_id)?;
        let id = uuid::Uuid::new_v4().to_string();
        let arn = format!("{}/agent-group/{id}", instance_arn(&input.instance_id));
        inst.write(|view| {
            let mut path = HierarchyPath::default();
            let mut level = 1;
            if let Some(pid) = &input.parent_group_id {
                let parent = view.groups().get(pid).ok_or_else(|| {
                    AwsError::not_found(format!("ParentGroupId: group '{pid}' does not exist"))
                })?;
                level = level_of(parent) + 1;
                if level > 5 {
                    return Err(AwsError::invalid_request(
                        "ParentGroupId: a hierarchy has at most five levels",
                    ));
                }
                path = parent
                    .hierarchy_path
                    .clone()
                    .unwrap_or_else(|| HierarchyPath {
                        level_one: Some(summary(parent)),
                        ..HierarchyPath::default()
                    });
            }
            if view
                .groups()
                .iter()
                .any(|g| level_of(g) == level && g.name.as_deref() == Some(name.as_str()))
            {
                return Err(duplicate(format!(
                    "Name: '{name}' is already used at level {level}"
                )));
            }
            let mut group = HierarchyGroup {
                id: id.clone(),
                arn: Some(arn.clone()),
                name: Some(name.clone()),
                level_id: Some(format!("level-{level}")),
                hierarchy_path: None,
                tags: input.tags.clone(),
                last_modified_time: Some(json!(now())),
                last_modified_region: Some("us-east-1".into()),
            };
            if let Some(slot) = slots(&mut path).into_iter().nth(level - 1) {
                *slot = Some(summary(&group));
            }
            group.hierarchy_path = Some(path);
            Ok((vec![Change::PutGroup(group)], ()))
        })?;
        Ok(json!({"HierarchyGroupId": id, "HierarchyGroupArn": arn}))
    }

    fn delete_group(&self, body: &str) -> Result<Value, AwsError> {
        let input: GroupInput = parse(body)?;
        let gid = input.required_group_id()?;
        let inst = self.open_checked(&input.instance_id)?;
        inst.write(|view| {
            let group = view
                .groups()
                .get(&gid)
                .ok_or_else(|| group_not_found(&gid))?;
            let level = level_of(group);
            if view
                .groups()
                .iter()
                .any(|g| g.id != gid && level_of(g) > level && path_ids(g).contains(&gid))
            {
                return Err(in_use(format!(
                    "HierarchyGroupId: group '{gid}' has child groups"
                )));
            }
            if view.group_has_users(&gid) {
                return Err(in_use(format!("HierarchyGroupId: group '{gid}' has users")));
            }
            Ok((vec![Change::DeleteGroup(gid.clone())], ()))
        })?;
        Ok(json!({}))
    }

    fn rename_group(&self, body: &str) -> Result<Value, AwsError> {
        let input: GroupInput = parse(body)?;
        let gid = input.required_group_id()?;
        let name = input.checked_name()?;
        let inst = self.open_checked(&input.instance_id)?;
        inst.write(|view| {
            let group = view
                .groups()
                .get(&gid)
                .ok_or_else(|| group_not_found(&gid))?;
            let level = level_of(group);
            if view.groups().iter().any(|g| {
                g.id != gid && level_of(g) == level && g.name.as_deref() == Some(name.as_str())
            }) {
                return Err(duplicate(format!(
                    "Name: '{name}' is already used at level {level}"
                )));
            }
            // The group and every group whose path names it.
            let mut changes = Vec::new();
            for g in view.groups().iter() {
                if g.id != gid && !path_ids(g).contains(&gid) {
                    continue;
                }
                let mut g = g.clone();
                if g.id == gid {
                    g.name = Some(name.clone());
                    g.last_modified_time = Some(json!(now()));
                }
                if let Some(p) = &mut g.hierarchy_path {
                    for s in slots(p).into_iter().flatten() {
                        if s.id.as_deref() == Some(gid.as_str()) {
                            s.name = Some(name.clone());
                        }
                    }
                }
                changes.push(Change::PutGroup(g));
            }
            Ok((changes, ()))
        })?;
        Ok(json!({}))
    }

    fn update_structure(&self, body: &str) -> Result<Value, AwsError> {
        let input: StructureInput = parse(body)?;
        let s = input.hierarchy_structure;
        let names: Vec<Option<String>> = [
            s.level_one,
            s.level_two,
            s.level_three,
            s.level_four,
            s.level_five,
        ]
        .into_iter()
        .map(|l| l.map(|l| l.name))
        .collect();
        for (i, n) in names.iter().enumerate() {
            if let Some(n) = n
                && !(1..=50).contains(&n.chars().count())
            {
                return Err(invalid(format!(
                    "HierarchyStructure: level {} name must be 1..50 characters",
                    i + 1
                )));
            }
        }
        let inst = self.open_checked(&input.instance_id)?;
        inst.write(|view| {
            // A level that groups use cannot be removed.
            for g in view.groups().iter() {
                let level = level_of(g);
                if names.get(level - 1).is_some_and(Option::is_none)
                    && names.iter().skip(level - 1).all(Option::is_none)
                    && names.iter().any(Option::is_some)
                {
                    return Err(in_use(format!(
                        "HierarchyStructure: level {level} is used by group '{}'",
                        g.id
                    )));
                }
            }
            let mut info = view.info().clone();
            let mut trimmed = names.clone();
            while trimmed.last().is_some_and(Option::is_none) {
                trimmed.pop();
            }
            info.level_names = trimmed;
            Ok((vec![Change::PutInfo(info)], ()))
        })?;
        Ok(json!({}))
    }

    fn tags(&self, operation: &str, body: &str) -> Result<Value, AwsError> {
        let input: TagInput = parse(body)?;
        let arn = input.resource_arn.clone();
        let rest = arn
            .strip_prefix(ARN_PREFIX)
            .and_then(|r| r.strip_prefix(":instance/"))
            .ok_or_else(|| AwsError::not_found(format!("resourceArn: no resource '{arn}'")))?;
        let parts: Vec<&str> = rest.split('/').collect();
        let (instance, kind, id) = match parts[..] {
            [i] => (i, "instance", i),
            [i, "agent", u] => (i, "user", u),
            [i, "agent-group", g] => (i, "group", g),
            _ => {
                return Err(AwsError::not_found(format!(
                    "resourceArn: no resource '{arn}'"
                )))
            }
        };
        let not_found = || AwsError::not_found(format!("resourceArn: no resource '{arn}'"));
        let inst = self.shared(instance).map_err(|_| not_found())?;
        let change: TagEdit = match operation {
            "TagResource" => {
                let tags = input
                    .tags
                    .clone()
                    .ok_or_else(|| invalid("tags: is required"))?;
                check_tags("tags", &tags)?;
                Box::new(move |have| {
                    have.extend(tags.clone());
                    if have.len() > 50 {
                        return Err(invalid("tags: a resource has at most 50 tags"));
                    }
                    Ok(())
                })
            }
            "UntagResource" => {
                let keys = input
                    .tag_keys
                    .clone()
                    .ok_or_else(|| invalid("tagKeys: is required"))?;
                if keys.is_empty() || keys.len() > 50 {
                    return Err(invalid("tagKeys: must hold 1..50 keys"));
                }
                Box::new(move |have| {
                    for k in &keys {
                        have.remove(k);
                    }
                    Ok(())
                })
            }
            _ => {
                // `ListTagsForResource`: a read of the state as it is now,
                // like the other reads (no write lock, no log record).
                let tags = match kind {
                    "instance" => Some(inst.info()?.tags),
                    "user" => inst.user(id)?.map(|u| u.tags.unwrap_or_default()),
                    _ => inst
                        .current()?
                        .groups
                        .get(id)
                        .map(|g| g.tags.clone().unwrap_or_default()),
                };
                return Ok(json!({"tags": tags.ok_or_else(not_found)?}));
            }
        };
        inst.write(|view| {
            let change = match kind {
                "instance" => {
                    let mut info = view.info().clone();
                    change(&mut info.tags)?;
                    Change::PutInfo(info)
                }
                "user" => {
                    let mut u = view.user(id)?.ok_or_else(not_found)?;
                    let mut tags = u.tags.take().unwrap_or_default();
                    change(&mut tags)?;
                    u.tags = (!tags.is_empty()).then_some(tags);
                    Change::PutUser(u)
                }
                _ => {
                    let mut g = view.groups().get(id).cloned().ok_or_else(not_found)?;
                    let mut tags = g.tags.take().unwrap_or_default();
                    change(&mut tags)?;
                    g.tags = (!tags.is_empty()).then_some(tags);
                    Change::PutGroup(g)
                }
            };
            Ok((vec![change], ()))
        })?;
        Ok(json!({}))
    }

    /// `SearchUserHierarchyGroups`: every group of the instance as it is
    /// now (the unfolded writes included) tested against the criteria.
    fn search_groups(&self, body: &str) -> Result<Value, AwsError> {
        let request: SearchUserHierarchyGroupsRequest = parse(body)?;
        let search = request.lower()?;
        let id = search
            .instance_id
            .clone()
            .ok_or_else(|| invalid("InstanceId: is required"))?;
        let inst = self.open_checked(&id)?;
        let live = inst.current()?;
        let page = crate::criteria::groups::search(live.groups.iter(), &search)?;
        let list = serde_json::to_value(&page.groups)
            .map_err(|e| AwsError::internal(format!("cannot encode the groups: {e}")))?;
        let mut out = serde_json::Map::new();
        out.insert("UserHierarchyGroups".into(), list);
        if let Some(t) = page.next_token {
            out.insert("NextToken".into(), json!(t));
        }
        out.insert("ApproximateTotalCount".into(), json!(page.total));
        Ok(Value::Object(out))
    }

    fn create_instance_api(&self, body: &str) -> Result<Value, AwsError> {
        let input: CreateInstanceInput = parse(body)?;
        check_client_token(&input.client_token)?;
        if let Some(d) = &input.directory_id {
            // The model's `DirectoryId`: `^d-[0-9a-f]{10}$`.
            let hex = d.strip_prefix("d-").unwrap_or("");
            if hex.len() != 10 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return Err(invalid(
                    "DirectoryId: must be d- and 10 lower-case hexadecimal digits",
                ));
            }
        }
        if let Some(a) = &input.instance_alias {
            let ok = (1..=45).contains(&a.len())
                && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !a.starts_with('-')
                && !a.ends_with('-');
            if !ok {
                return Err(invalid(
                    "InstanceAlias: must be 1..45 letters, digits and inner hyphens",
                ));
            }
            for id in self.instances()? {
                if self
                    .shared(&id)
                    .and_then(|i| i.info())
                    .ok()
                    .and_then(|i| i.alias)
                    .as_deref()
                    == Some(a.as_str())
                {
                    return Err(AwsError::invalid_request(format!(
                        "InstanceAlias: '{a}' is already used"
                    )));
                }
            }
        }
        if let Some(t) = &input.tags {
            check_tags("Tags", t)?;
        }
        let id = uuid::Uuid::new_v4().to_string();
        let info = InstanceInfo {
            alias: input.instance_alias,
            arn: Some(instance_arn(&id)),
            identity_management_type: Some(input.identity_management_type.as_str().into()),
            inbound_calls_enabled: Some(input.inbound_calls_enabled),
            outbound_calls_enabled: Some(input.outbound_calls_enabled),
            created_time: Some(now()),
            tags: input.tags.unwrap_or_default(),
            level_names: Vec::new(),
        };
        self.import_with(&id, std::io::empty(), None, Some(info))?;
        Ok(json!({"Id": id, "Arn": instance_arn(&id)}))
    }

    /// `Instance` / `InstanceSummary` of an instance (an imported one has
    /// no alias, creation time or identity type).
    fn instance_shape(&self, id: &str, full: bool) -> Result<Value, AwsError> {
        let info = self.shared(id)?.info()?;
        let mut out = serde_json::Map::new();
        out.insert("Id".into(), json!(id));
        out.insert(
            "Arn".into(),
            json!(info.arn.clone().unwrap_or_else(|| instance_arn(id))),
        );
        if let Some(t) = &info.identity_management_type {
            out.insert("IdentityManagementType".into(), json!(t));
        }
        if let Some(a) = &info.alias {
            out.insert("InstanceAlias".into(), json!(a));
        }
        if let Some(t) = info.created_time {
            out.insert("CreatedTime".into(), json!(t));
        }
        out.insert("InstanceStatus".into(), json!("ACTIVE"));
        out.insert(
            "InboundCallsEnabled".into(),
            json!(info.inbound_calls_enabled.unwrap_or(true)),
        );
        out.insert(
            "OutboundCallsEnabled".into(),
            json!(info.outbound_calls_enabled.unwrap_or(true)),
        );
        if full && !info.tags.is_empty() {
            out.insert("Tags".into(), json!(info.tags));
        }
        Ok(Value::Object(out))
    }

    fn describe_instance(&self, body: &str) -> Result<Value, AwsError> {
        let input: InstanceInput = parse(body)?;
        let id = input
            .instance_id
            .ok_or_else(|| invalid("InstanceId: is required"))?;
        check_instance_id(&id)?;
        Ok(json!({"Instance": self.instance_shape(&id, true)?}))
    }

    fn list_instances(&self, body: &str) -> Result<Value, AwsError> {
        let input: InstanceInput = parse(body)?;
        let max = input.max_results.unwrap_or(10);
        if !(1..=10).contains(&max) {
            return Err(invalid(format!("MaxResults: must be 1..10, got {max}")));
        }
        const CONTEXT: &[u8] = b"rollcall/ListInstances/NextToken/v1";
        let after = match &input.next_token {
            Some(t) => Some(
                crate::criteria::paging::unseal(CONTEXT, t)
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| invalid("NextToken: not a token this engine issued"))?,
            ),
            None => None,
        };
        let ids: Vec<String> = self
            .instances()?
            .into_iter()
            .filter(|i| after.as_ref().is_none_or(|a| i > a))
            .collect();
        let mut list = Vec::new();
        for id in ids.iter().take(max as usize) {
            // An instance deleted while this lists is left out.
            if let Ok(v) = self.instance_shape(id, false) {
                list.push(v);
            }
        }
        let mut out = serde_json::Map::new();
        out.insert("InstanceSummaryList".into(), Value::Array(list));
        if ids.len() > max as usize
            && let Some(last) = ids.get(max as usize - 1)
        {
            out.insert(
                "NextToken".into(),
                json!(crate::criteria::paging::seal(CONTEXT, last.as_bytes())),
            );
        }
        Ok(Value::Object(out))
    }

    fn delete_instance(&self, body: &str) -> Result<Value, AwsError> {
        let input: InstanceInput = parse(body)?;
        check_client_token(&input.client_token)?;
        let id = input
            .instance_id
            .ok_or_else(|| invalid("InstanceId: is required"))?;
        check_instance_id(&id)?;
        self.remove_instance(&id)?;
        Ok(json!({}))
    }
}

fn summary(g: &HierarchyGroup) -> GroupSummary {
    GroupSummary {
        id: Some(g.id.clone()),
        arn: g.arn.clone(),
        name: g.name.clone(),
        last_modified_time: None,
        last_modified_region: None,
    }
}

fn user_not_found(id: &str) -> AwsError {
    AwsError::not_found(format!("UserId: user '{id}' does not exist"))
}

fn group_not_found(id: &str) -> AwsError {
    AwsError::not_found(format!("HierarchyGroupId: group '{id}' does not exist"))
}

/// Seconds since the epoch, as the model's timestamps.
fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// What an `UpdateUser*` operation does to the user, checked before the write.
type Edit = Box<dyn Fn(&mut User, &crate::records::Groups) -> Result<(), AwsError>>;

/// The update that sets one member of the user to the request's `value`,
/// which the operation requires (`member` names it in the error).
fn replace<T: Clone + 'static>(
    value: &Option<T>,
    member: &str,
    field: fn(&mut User) -> &mut Option<T>,
) -> Result<Edit, AwsError> {
    let Some(value) = value.clone() else {
        return Err(invalid(format!("{member}: is required")));
    };
    Ok(Box::new(move |u, _| {
        *field(u) = Some(value.clone());
        Ok(())
    }))
}
