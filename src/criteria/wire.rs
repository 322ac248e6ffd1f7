//! The AWS JSON codec for `SearchUsers`: serde types with the exact member
//! names of the Connect model, lowering into a [`Filter`] (every rule of docs/semantics.md
//! checked, errors naming the JSON path) and raising a [`Filter`] back into a
//! request.
//!
//! Takes in request JSON; gives out a validated [`Search`]. Enumerations are
//! read as strings so that an unknown value is an `InvalidParameterException`
//! naming the member, as docs/semantics.md §2 asks; a body of the wrong JSON shape
//! (wrong type, unknown member) is a `SerializationException` naming its path.

use serde::{Deserialize, Serialize};

use super::groups::{GroupField, MAX_GROUP_RESULTS};
use super::{
    Filter, HierarchyCondition, HierarchyMatch, NumberOp, NumberTest, ProficiencyCondition,
    ProficiencyField, RuleViolation, StringCondition, StringField, StringOp, TagCondition,
    MAX_ATTRIBUTE_HIERARCHIES, MAX_ATTRIBUTE_TAGS, MAX_DEPTH, MAX_LEAVES,
};
use crate::records::{
    AfterContactWorkConfigPerChannel, AutoAcceptConfig, PersistentConnectionConfig, PhoneConfig,
    PhoneNumberConfig, User, VoiceEnhancementConfig,
};
use crate::{AwsError, ErrorType};

/// Default `MaxResults` of `SearchUsers`.
pub const DEFAULT_MAX_RESULTS: u32 = 100;
/// Largest `MaxResults` of `SearchUsers`.
pub const MAX_MAX_RESULTS: u32 = 500;
/// Longest `NextToken` (characters).
pub const MAX_NEXT_TOKEN_CHARS: usize = 2500;
/// Longest `InstanceId` (characters); the shortest is 1.
pub const MAX_INSTANCE_ID_CHARS: usize = 100;

/// An `InstanceId` outside 1..[`MAX_INSTANCE_ID_CHARS`] characters
/// (`""`, or 101 characters), from [`check_instance_id`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be 1..{MAX_INSTANCE_ID_CHARS} characters, got {chars}")]
pub struct InstanceIdLength {
    /// The characters the id has.
    pub chars: usize,
}

/// The one check of the `InstanceId` rule (1..100 characters), for the
/// request codec, the directory engine and the server alike.
///
/// ```
/// use rollcall::criteria::wire::check_instance_id;
/// assert!(check_instance_id("demo").is_ok());
/// assert_eq!(check_instance_id("").unwrap_err().chars, 0);
/// assert_eq!(
///     check_instance_id(&"x".repeat(101)).unwrap_err().to_string(),
///     "must be 1..100 characters, got 101"
/// );
/// ```
pub fn check_instance_id(id: &str) -> Result<(), InstanceIdLength> {
    let chars = id.chars().count();
    if (1..=MAX_INSTANCE_ID_CHARS).contains(&chars) {
        Ok(())
    } else {
        Err(InstanceIdLength { chars })
    }
}

/// `SearchUsersRequest`.
///
/// `InstanceId` is required by the service; it is optional here so that the
/// reference evaluator and the text converter can work on a bare query
/// (the Connect engine rejects a request without it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SearchUsersRequest {
    /// The Connect instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// The paging token of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Page size, 1..500 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    /// Tag and attribute filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_filter: Option<UserSearchFilter>,
    /// The recursive criteria.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_criteria: Option<UserSearchCriteria>,
}

/// `UserSearchCriteria`: every member set is ANDed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UserSearchCriteria {
    /// OR of the listed criteria.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub or_conditions: Option<Vec<UserSearchCriteria>>,
    /// AND of the listed criteria.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub and_conditions: Option<Vec<UserSearchCriteria>>,
    /// A string test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_condition: Option<WireStringCondition>,
    /// A proficiency list test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_condition: Option<ListCondition>,
    /// A hierarchy test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hierarchy_group_condition: Option<HierarchyGroupCondition>,
}

/// `StringCondition`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct WireStringCondition {
    /// The field (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_name: Option<String>,
    /// The value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `EXACT`, `STARTS_WITH` or `CONTAINS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison_type: Option<String>,
}

/// `HierarchyGroupCondition`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct HierarchyGroupCondition {
    /// The group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `EXACT` (default) or `WITH_CHILD_GROUPS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hierarchy_group_match_type: Option<String>,
}

/// `ListCondition`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ListCondition {
    /// Must be `PROFICIENCIES`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_list_type: Option<String>,
    /// Conditions one single proficiency must all satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
}

/// `Condition`: exactly one of a string or a number test.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Condition {
    /// On `name` or `value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_condition: Option<WireStringCondition>,
    /// On `level`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_condition: Option<NumberCondition>,
}

/// `NumberCondition`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct NumberCondition {
    /// `level` (AWS also spells it `limit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_name: Option<String>,
    /// Lower bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<i32>,
    /// Upper bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<i32>,
    /// One of the seven number comparison types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison_type: Option<String>,
}

/// `UserSearchFilter`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UserSearchFilter {
    /// Tag tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_filter: Option<TagFilter>,
    /// Tag and hierarchy tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_attribute_filter: Option<UserAttributeFilter>,
}

/// `ControlPlaneTagFilter`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TagFilter {
    /// OR of ANDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub or_conditions: Option<Vec<Vec<WireTagCondition>>>,
    /// AND.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub and_conditions: Option<Vec<WireTagCondition>>,
    /// One test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_condition: Option<WireTagCondition>,
}

/// `TagCondition`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct WireTagCondition {
    /// The key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_key: Option<String>,
    /// The value; absent means "has the key".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_value: Option<String>,
}

/// `ControlPlaneUserAttributeFilter`: only one member may be set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UserAttributeFilter {
    /// OR of attribute ANDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub or_conditions: Option<Vec<AttributeAndCondition>>,
    /// One attribute AND.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub and_condition: Option<AttributeAndCondition>,
    /// One tag test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_condition: Option<WireTagCondition>,
    /// One hierarchy test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hierarchy_group_condition: Option<HierarchyGroupCondition>,
}

/// `AttributeAndCondition`: its tag tests AND its hierarchy test.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AttributeAndCondition {
    /// Tag tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_conditions: Option<Vec<WireTagCondition>>,
    /// A hierarchy test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hierarchy_group_condition: Option<HierarchyGroupCondition>,
}

/// `SearchUsersResponse`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SearchUsersResponse {
    /// The page of users.
    pub users: Vec<UserSearchSummary>,
    /// Present exactly when more users match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// The exact number of matches of the whole query.
    pub approximate_total_count: u64,
}

/// `UserIdentityInfoLite`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct IdentityInfoLite {
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
}

/// `UserSearchSummary`: every member the user has, none it lacks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UserSearchSummary {
    /// ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Directory user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_user_id: Option<String>,
    /// Hierarchy group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hierarchy_group_id: Option<String>,
    /// User id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// First and last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_info: Option<IdentityInfoLite>,
    /// Phone settings; `AfterContactWorkTimeLimit` in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_config: Option<PhoneConfig>,
    /// Routing profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_profile_id: Option<String>,
    /// Security profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_profile_ids: Option<Vec<String>>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<std::collections::BTreeMap<String, String>>,
    /// Username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Auto-accept settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_accept_configs: Option<Vec<AutoAcceptConfig>>,
    /// After-contact-work settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_contact_work_configs: Option<Vec<AfterContactWorkConfigPerChannel>>,
    /// Phone number settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_configs: Option<Vec<PhoneNumberConfig>>,
    /// Persistent connection settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_connection_configs: Option<Vec<PersistentConnectionConfig>>,
    /// Voice enhancement settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_enhancement_configs: Option<Vec<VoiceEnhancementConfig>>,
}

impl From<&User> for UserSearchSummary {
    /// The summary SearchUsers returns for a user: the same members, names
    /// only from `IdentityInfo`, and the after-contact-work limit in
    /// milliseconds.
    fn from(u: &User) -> Self {
        let identity_info = u
            .identity_info
            .as_ref()
            .map(|i| IdentityInfoLite {
                first_name: i.first_name.clone(),
                last_name: i.last_name.clone(),
            })
            .filter(|i| i.first_name.is_some() || i.last_name.is_some());
        let phone_config = u.phone_config.clone().map(|mut p| {
            p.after_contact_work_time_limit = p
                .after_contact_work_time_limit
                .map(|s| s.saturating_mul(1000));
            p
        });
        UserSearchSummary {
            arn: u.arn.clone(),
            directory_user_id: u.directory_user_id.clone(),
            hierarchy_group_id: u.hierarchy_group_id.clone(),
            id: Some(u.id.clone()),
            identity_info,
            phone_config,
            routing_profile_id: u.routing_profile_id.clone(),
            security_profile_ids: u.security_profile_ids.clone(),
            tags: u.tags.clone(),
            username: Some(u.username.clone()),
            auto_accept_configs: u.auto_accept_configs.clone(),
            after_contact_work_configs: u.after_contact_work_configs.clone(),
            phone_number_configs: u.phone_number_configs.clone(),
            persistent_connection_configs: u.persistent_connection_configs.clone(),
            voice_enhancement_configs: u.voice_enhancement_configs.clone(),
        }
    }
}

/// A validated search: the filter, the page size and the paging token.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// The instance named by the request, if any.
    pub instance_id: Option<String>,
    /// `SearchCriteria` AND `SearchFilter` as one tree.
    pub filter: Filter,
    /// Page size, 1..=500.
    pub max_results: u32,
    /// The token of the previous page, still opaque.
    pub next_token: Option<String>,
}

impl Search {
    /// A first-page search for a filter with the default page size.
    pub fn new(filter: Filter) -> Self {
        Search {
            instance_id: None,
            filter,
            max_results: DEFAULT_MAX_RESULTS,
            next_token: None,
        }
    }
}

/// Reads a `SearchUsersRequest` from JSON text; a malformed body is a
/// `SerializationException` naming the JSON path.
///
/// ```
/// let req = rollcall::criteria::wire::parse_request(
///     r#"{"SearchCriteria": {"StringCondition": {"FieldName": "Username", "Value": "jo", "ComparisonType": "STARTS_WITH"}}}"#,
/// ).unwrap();
/// let search = req.lower().unwrap();
/// assert_eq!(search.filter.to_string(), r#"username sw "jo""#);
/// ```
pub fn parse_request(json: &str) -> Result<SearchUsersRequest, AwsError> {
    crate::json::from_str(json)
        .map_err(|e| AwsError::new(ErrorType::SerializationException, e.to_string()))
}

/// A request that breaks a rule of docs/semantics.md §2: where (`path`,
/// the JSON path of the member at fault, such as
/// `SearchCriteria.StringCondition.Value`) and what ([`WireErrorKind`]).
/// Shows as `path: message`, the text AWS-style clients see; it becomes an
/// [`AwsError`] in one place, its `From` impl.
///
/// ```
/// use rollcall::criteria::wire::{parse_request, WireErrorKind};
/// let req = parse_request(r#"{"MaxResults": 0}"#).unwrap();
/// let e = req.try_lower().unwrap_err();
/// assert_eq!((e.path.as_str(), &e.kind), ("MaxResults", &WireErrorKind::MaxResults(0)));
/// assert_eq!(e.to_string(), "MaxResults: must be 1..500, got 0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct WireError {
    /// The JSON path of the member at fault.
    pub path: String,
    /// What is wrong with it.
    pub kind: WireErrorKind,
}

/// What a [`WireError`] reports. Each variant names a request (as the
/// member at fault) that triggers it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireErrorKind {
    /// A required member is missing: `"StringCondition": {"FieldName":
    /// "Username", "ComparisonType": "EXACT"}` (no `Value`).
    #[error("is required")]
    Required,
    /// A condition breaks a rule of the criteria model (the message of its
    /// [`RuleViolation`]): `"Value": "j"` with `CONTAINS`, `"OrConditions": []`.
    #[error("{0}")]
    Rule(String),
    /// `"InstanceId": ""`, or 101 characters.
    #[error("{0}")]
    InstanceId(InstanceIdLength),
    /// `"MaxResults": 0`, or 501.
    #[error("must be 1..{MAX_MAX_RESULTS}, got {0}")]
    MaxResults(i64),
    /// `"MaxResults": 0`, or 101, in `SearchUserHierarchyGroups`.
    #[error("must be 1..{MAX_GROUP_RESULTS}, got {0}")]
    GroupMaxResults(i64),
    /// `"NextToken": ""`, or longer than 2500 characters.
    #[error("must be 1..{MAX_NEXT_TOKEN_CHARS} characters, got {0}")]
    NextTokenLength(usize),
    /// A request of 101 leaf conditions.
    #[error("more than {MAX_LEAVES} leaf conditions in one request")]
    TooManyLeaves,
    /// `OrConditions` nested eleven levels deep.
    #[error("conditions are nested more than {MAX_DEPTH} levels deep")]
    TooDeep,
    /// A `UserAttributeFilter` with both `TagCondition` and
    /// `HierarchyGroupCondition`: the members set, in model order.
    #[error("only one member may be set, got {}", .0.join(", "))]
    OneMemberOnly(Vec<&'static str>),
    /// A `UserAttributeFilter` of 26 tag conditions (the count).
    #[error("{0} tag conditions; at most {MAX_ATTRIBUTE_TAGS} are allowed")]
    TooManyTags(usize),
    /// A `UserAttributeFilter` of 21 hierarchy conditions (the count).
    #[error("{0} hierarchy conditions; at most {MAX_ATTRIBUTE_HIERARCHIES} are allowed")]
    TooManyHierarchies(usize),
    /// `"FieldName": "Nickname"` in a `StringCondition`.
    #[error(
        "unknown field '{}'; expected one of {}",
        .0,
        StringField::ALL.map(StringField::as_str).join(", ")
    )]
    UnknownField(String),
    /// `"FieldName": "username"` in a `SearchUserHierarchyGroups`
    /// `StringCondition`.
    #[error(
        "unknown field '{}'; expected one of {}",
        .0,
        GroupField::ALL.map(GroupField::as_str).join(", ")
    )]
    UnknownGroupField(String),
    /// `"ComparisonType": "LIKE"` in a `StringCondition`.
    #[error("unknown comparison '{0}'; expected EXACT, STARTS_WITH or CONTAINS")]
    UnknownStringComparison(String),
    /// `"ComparisonType": "ABOUT"` in a `NumberCondition`.
    #[error(
        "unknown comparison '{}'; expected {}",
        .0,
        NumberOp::ALL.iter().map(|o| o.aws_name()).collect::<Vec<_>>().join(", ")
    )]
    UnknownNumberComparison(String),
    /// `"HierarchyGroupMatchType": "PARENT"`.
    #[error("unknown match type '{0}'; expected EXACT or WITH_CHILD_GROUPS")]
    UnknownMatchType(String),
    /// `"TargetListType": "SKILLS"`.
    #[error("unknown list type '{0}'; expected PROFICIENCIES")]
    UnknownListType(String),
    /// `"FieldName": "color"` in a proficiency `StringCondition`.
    #[error("unknown proficiency field '{0}'; expected name or value")]
    UnknownProficiencyField(String),
    /// `"FieldName": "height"` in a `NumberCondition`.
    #[error("unknown number field '{0}'; expected level")]
    UnknownNumberField(String),
    /// A proficiency condition with both (or neither of)
    /// `StringCondition` and `NumberCondition`.
    #[error("exactly one of StringCondition and NumberCondition must be set")]
    OneProficiencyTest,
    /// A `SearchFilter` with both `TagFilter` and `UserAttributeFilter`
    /// (an `InvalidRequestException`; every other kind is an
    /// `InvalidParameterException`).
    #[error("TagFilter and UserAttributeFilter cannot be used together")]
    BothFilters,
}

impl From<WireError> for AwsError {
    fn from(e: WireError) -> AwsError {
        match e.kind {
            WireErrorKind::BothFilters => AwsError::invalid_request(e.to_string()),
            _ => AwsError::invalid_parameter(e.to_string()),
        }
    }
}

/// The error at `path`.
pub(super) fn bad(path: &str, kind: WireErrorKind) -> WireError {
    WireError {
        path: path.to_string(),
        kind,
    }
}

/// A rule violation of the condition at `path`.
pub(super) fn violation(path: &str, v: RuleViolation) -> WireError {
    bad(
        &format!("{path}.{}", v.part),
        WireErrorKind::Rule(v.message),
    )
}

/// The member `member` of the object at `path`, which must be present.
pub(super) fn required<'a, T>(
    value: &'a Option<T>,
    path: &str,
    member: &str,
) -> Result<&'a T, WireError> {
    value
        .as_ref()
        .ok_or_else(|| bad(&format!("{path}.{member}"), WireErrorKind::Required))
}

/// The OR of `parts` at `path` (an `OrConditions` member): none is the
/// rule violation of [`Filter::or`].
fn or_of(parts: Vec<Filter>, path: &str) -> Result<Filter, WireError> {
    Filter::or(parts).map_err(|v| bad(path, WireErrorKind::Rule(v.message)))
}

/// The state of one request's lowering: the leaf conditions counted so
/// far (the limit is over the whole request).
#[derive(Default)]
pub(super) struct Lowering {
    leaves: usize,
}

impl Lowering {
    /// Counts one leaf condition at `path`; the 101st is an error.
    pub(super) fn leaf(&mut self, path: &str) -> Result<(), WireError> {
        self.leaves += 1;
        if self.leaves > MAX_LEAVES {
            return Err(bad(path, WireErrorKind::TooManyLeaves));
        }
        Ok(())
    }

    fn criteria(
        &mut self,
        c: &UserSearchCriteria,
        path: &str,
        depth: usize,
    ) -> Result<Filter, WireError> {
        if depth > MAX_DEPTH {
            return Err(bad(path, WireErrorKind::TooDeep));
        }
        let mut parts = Vec::new();
        if let Some(list) = &c.or_conditions {
            let p = format!("{path}.OrConditions");
            let children = self.criteria_list(list, &p, depth)?;
            parts.push(or_of(children, &p)?);
        }
        if let Some(list) = &c.and_conditions {
            let p = format!("{path}.AndConditions");
            let children = self.criteria_list(list, &p, depth)?;
            parts.push(Filter::and(children));
        }
        if let Some(s) = &c.string_condition {
            let p = format!("{path}.StringCondition");
            self.leaf(&p)?;
            parts.push(Filter::String(string_condition(s, &p)?));
        }
        if let Some(l) = &c.list_condition {
            let p = format!("{path}.ListCondition");
            self.leaf(&p)?;
            parts.push(list_condition(l, &p)?);
        }
        if let Some(h) = &c.hierarchy_group_condition {
            let p = format!("{path}.HierarchyGroupCondition");
            self.leaf(&p)?;
            parts.push(Filter::Hierarchy(hierarchy_condition(h, &p)?));
        }
        Ok(Filter::and(parts))
    }

    fn criteria_list(
        &mut self,
        list: &[UserSearchCriteria],
        path: &str,
        depth: usize,
    ) -> Result<Vec<Filter>, WireError> {
        list.iter()
            .enumerate()
            .map(|(i, c)| self.criteria(c, &format!("{path}[{i}]"), depth + 1))
            .collect()
    }

    /// A `TagCondition` at `path`, counted as a leaf.
    pub(super) fn tag_condition(
        &mut self,
        t: &WireTagCondition,
        path: &str,
    ) -> Result<TagCondition, WireError> {
        self.leaf(path)?;
        let key = required(&t.tag_key, path, "TagKey")?;
        TagCondition::new(key.clone(), t.tag_value.clone()).map_err(|v| violation(path, v))
    }

    fn tag(&mut self, t: &WireTagCondition, path: &str) -> Result<Filter, WireError> {
        self.tag_condition(t, path).map(Filter::Tag)
    }

    fn tags(&mut self, list: &[WireTagCondition], path: &str) -> Result<Vec<Filter>, WireError> {
        list.iter()
            .enumerate()
            .map(|(i, t)| self.tag(t, &format!("{path}[{i}]")))
            .collect()
    }

    fn tag_filter(&mut self, f: &TagFilter, path: &str) -> Result<Filter, WireError> {
        let mut parts = Vec::new();
        if let Some(t) = &f.tag_condition {
            parts.push(self.tag(t, &format!("{path}.TagCondition"))?);
        }
        if let Some(list) = &f.and_conditions {
            parts.extend(self.tags(list, &format!("{path}.AndConditions"))?);
        }
        if let Some(ors) = &f.or_conditions {
            let p = format!("{path}.OrConditions");
            let mut alternatives = Vec::new();
            for (i, list) in ors.iter().enumerate() {
                alternatives.push(Filter::and(self.tags(list, &format!("{p}[{i}]"))?));
            }
            parts.push(or_of(alternatives, &p)?);
        }
        Ok(Filter::and(parts))
    }

    fn attribute_and(
        &mut self,
        a: &AttributeAndCondition,
        path: &str,
        counts: &mut (usize, usize),
    ) -> Result<Filter, WireError> {
        let mut parts = Vec::new();
        if let Some(list) = &a.tag_conditions {
            counts.0 += list.len();
            parts.extend(self.tags(list, &format!("{path}.TagConditions"))?);
        }
        if let Some(h) = &a.hierarchy_group_condition {
            counts.1 += 1;
            let p = format!("{path}.HierarchyGroupCondition");
            self.leaf(&p)?;
            parts.push(Filter::Hierarchy(hierarchy_condition(h, &p)?));
        }
        Ok(Filter::and(parts))
    }

    fn attribute_filter(
        &mut self,
        f: &UserAttributeFilter,
        path: &str,
    ) -> Result<Filter, WireError> {
        let set: Vec<&'static str> = [
            ("OrConditions", f.or_conditions.is_some()),
            ("AndCondition", f.and_condition.is_some()),
            ("TagCondition", f.tag_condition.is_some()),
            (
                "HierarchyGroupCondition",
                f.hierarchy_group_condition.is_some(),
            ),
        ]
        .into_iter()
        .filter_map(|(name, on)| on.then_some(name))
        .collect();
        if set.len() > 1 {
            return Err(bad(path, WireErrorKind::OneMemberOnly(set)));
        }
        let mut counts = (0, 0);
        let filter = if let Some(ors) = &f.or_conditions {
            let p = format!("{path}.OrConditions");
            let mut alternatives = Vec::new();
            for (i, a) in ors.iter().enumerate() {
                alternatives.push(self.attribute_and(a, &format!("{p}[{i}]"), &mut counts)?);
            }
            or_of(alternatives, &p)?
        } else if let Some(a) = &f.and_condition {
            self.attribute_and(a, &format!("{path}.AndCondition"), &mut counts)?
        } else if let Some(t) = &f.tag_condition {
            counts.0 += 1;
            self.tag(t, &format!("{path}.TagCondition"))?
        } else if let Some(h) = &f.hierarchy_group_condition {
            counts.1 += 1;
            let p = format!("{path}.HierarchyGroupCondition");
            self.leaf(&p)?;
            Filter::Hierarchy(hierarchy_condition(h, &p)?)
        } else {
            Filter::all()
        };
        if counts.0 > MAX_ATTRIBUTE_TAGS {
            return Err(bad(path, WireErrorKind::TooManyTags(counts.0)));
        }
        if counts.1 > MAX_ATTRIBUTE_HIERARCHIES {
            return Err(bad(path, WireErrorKind::TooManyHierarchies(counts.1)));
        }
        Ok(filter)
    }
}

fn string_condition(s: &WireStringCondition, path: &str) -> Result<StringCondition, WireError> {
    let name = required(&s.field_name, path, "FieldName")?;
    let field = StringField::parse(name).ok_or_else(|| {
        bad(
            &format!("{path}.FieldName"),
            WireErrorKind::UnknownField(name.clone()),
        )
    })?;
    let op = string_op(s, path)?;
    let value = required(&s.value, path, "Value")?;
    StringCondition::new(field, op, value.clone()).map_err(|v| violation(path, v))
}

/// The `ComparisonType` of a string condition at `path`.
pub(super) fn string_op(s: &WireStringCondition, path: &str) -> Result<StringOp, WireError> {
    let op = required(&s.comparison_type, path, "ComparisonType")?;
    [StringOp::Exact, StringOp::StartsWith, StringOp::Contains]
        .into_iter()
        .find(|o| o.aws_name() == op)
        .ok_or_else(|| {
            bad(
                &format!("{path}.ComparisonType"),
                WireErrorKind::UnknownStringComparison(op.clone()),
            )
        })
}

fn hierarchy_condition(
    h: &HierarchyGroupCondition,
    path: &str,
) -> Result<HierarchyCondition, WireError> {
    let value = required(&h.value, path, "Value")?;
    let mode = match h.hierarchy_group_match_type.as_deref() {
        None | Some("EXACT") => HierarchyMatch::Exact,
        Some("WITH_CHILD_GROUPS") => HierarchyMatch::WithChildGroups,
        Some(other) => {
            return Err(bad(
                &format!("{path}.HierarchyGroupMatchType"),
                WireErrorKind::UnknownMatchType(other.to_string()),
            ))
        }
    };
    HierarchyCondition::new(value.clone(), mode).map_err(|v| violation(path, v))
}

fn list_condition(l: &ListCondition, path: &str) -> Result<Filter, WireError> {
    match required(&l.target_list_type, path, "TargetListType")?.as_str() {
        "PROFICIENCIES" => {}
        other => {
            return Err(bad(
                &format!("{path}.TargetListType"),
                WireErrorKind::UnknownListType(other.to_string()),
            ))
        }
    }
    let mut items = Vec::new();
    for (i, c) in l.conditions.iter().flatten().enumerate() {
        let p = format!("{path}.Conditions[{i}]");
        items.push(match (&c.string_condition, &c.number_condition) {
            (Some(s), None) => proficiency_string(s, &format!("{p}.StringCondition"))?,
            (None, Some(n)) => {
                ProficiencyCondition::Level(number_condition(n, &format!("{p}.NumberCondition"))?)
            }
            _ => return Err(bad(&p, WireErrorKind::OneProficiencyTest)),
        });
    }
    Ok(Filter::Proficiency(items))
}

fn proficiency_string(
    s: &WireStringCondition,
    path: &str,
) -> Result<ProficiencyCondition, WireError> {
    let name = required(&s.field_name, path, "FieldName")?;
    let field = if name.eq_ignore_ascii_case("name") {
        ProficiencyField::Name
    } else if name.eq_ignore_ascii_case("value") {
        ProficiencyField::Value
    } else {
        return Err(bad(
            &format!("{path}.FieldName"),
            WireErrorKind::UnknownProficiencyField(name.clone()),
        ));
    };
    let op = string_op(s, path)?;
    let value = required(&s.value, path, "Value")?;
    ProficiencyCondition::string(field, op, value.clone()).map_err(|v| violation(path, v))
}

fn number_condition(n: &NumberCondition, path: &str) -> Result<NumberTest, WireError> {
    let name = required(&n.field_name, path, "FieldName")?;
    if !(name.eq_ignore_ascii_case("level") || name.eq_ignore_ascii_case("limit")) {
        return Err(bad(
            &format!("{path}.FieldName"),
            WireErrorKind::UnknownNumberField(name.clone()),
        ));
    }
    let op = required(&n.comparison_type, path, "ComparisonType")?;
    let min = || required(&n.min_value, path, "MinValue").copied();
    let max = || required(&n.max_value, path, "MaxValue").copied();
    let op = NumberOp::from_aws_name(op).ok_or_else(|| {
        bad(
            &format!("{path}.ComparisonType"),
            WireErrorKind::UnknownNumberComparison(op.clone()),
        )
    })?;
    let test = match op {
        NumberOp::Range => NumberTest::range(min()?, max()?),
        op if op.reads_max() => NumberTest::compare(op, max()?),
        op => NumberTest::compare(op, min()?),
    };
    test.map_err(|v| violation(path, v))
}

/// The members every paged search request has: `InstanceId` (when given),
/// `MaxResults` (`limits`: its default and its largest value; out of range
/// is `too_many`) and the `NextToken`'s length. Returns the page size.
pub(crate) fn check_paging(
    instance_id: Option<&str>,
    max_results: Option<i64>,
    next_token: Option<&str>,
    (default, largest): (u32, u32),
    too_many: fn(i64) -> WireErrorKind,
) -> Result<u32, WireError> {
    if let Some(id) = instance_id {
        check_instance_id(id).map_err(|e| bad("InstanceId", WireErrorKind::InstanceId(e)))?;
    }
    let max_results = match max_results {
        None => default,
        Some(n) if (1..=i64::from(largest)).contains(&n) => n as u32,
        Some(n) => return Err(bad("MaxResults", too_many(n))),
    };
    if let Some(t) = next_token {
        let n = t.chars().count();
        if !(1..=MAX_NEXT_TOKEN_CHARS).contains(&n) {
            return Err(bad("NextToken", WireErrorKind::NextTokenLength(n)));
        }
    }
    Ok(max_results)
}

impl SearchUsersRequest {
    /// Validates the request against every docs/semantics.md §2 rule and lowers it
    /// into one [`Filter`] (`SearchCriteria` AND `SearchFilter`); the error
    /// as the service reports it ([`WireError`] converted).
    pub fn lower(&self) -> Result<Search, AwsError> {
        Ok(self.try_lower()?)
    }

    /// [`lower`](Self::lower), with the broken rule as data: its path and
    /// kind.
    pub fn try_lower(&self) -> Result<Search, WireError> {
        let max_results = check_paging(
            self.instance_id.as_deref(),
            self.max_results,
            self.next_token.as_deref(),
            (DEFAULT_MAX_RESULTS, MAX_MAX_RESULTS),
            WireErrorKind::MaxResults,
        )?;
        let mut lowering = Lowering::default();
        let mut parts = Vec::new();
        if let Some(c) = &self.search_criteria {
            parts.push(lowering.criteria(c, "SearchCriteria", 1)?);
        }
        if let Some(f) = &self.search_filter {
            if f.tag_filter.is_some() && f.user_attribute_filter.is_some() {
                return Err(bad("SearchFilter", WireErrorKind::BothFilters));
            }
            if let Some(t) = &f.tag_filter {
                parts.push(lowering.tag_filter(t, "SearchFilter.TagFilter")?);
            }
            if let Some(a) = &f.user_attribute_filter {
                parts.push(lowering.attribute_filter(a, "SearchFilter.UserAttributeFilter")?);
            }
        }
        Ok(Search {
            instance_id: self.instance_id.clone(),
            filter: Filter::and(parts),
            max_results,
            next_token: self.next_token.clone(),
        })
    }

    /// Builds the request that asks for `filter`: the tag-free part becomes
    /// `SearchCriteria`, the tag tests a `TagFilter` or `UserAttributeFilter`.
    /// Fails, naming the part, when AWS cannot express the filter (a tag test
    /// under an OR with a name condition, say).
    ///
    /// ```
    /// use rollcall::criteria::wire::SearchUsersRequest;
    /// let q = rollcall::syntax::parse(r#"username sw "jo" and tag.Team eq "blue""#).unwrap();
    /// let req = SearchUsersRequest::from_filter(&q).unwrap();
    /// assert!(req.search_filter.is_some() && req.search_criteria.is_some());
    /// let bad = rollcall::syntax::parse(r#"username sw "jo" or tag.Team"#).unwrap();
    /// assert!(SearchUsersRequest::from_filter(&bad).is_err());
    /// ```
    pub fn from_filter(filter: &Filter) -> Result<SearchUsersRequest, AwsError> {
        let mut criteria_parts = Vec::new();
        let mut tag_parts = Vec::new();
        split_conjuncts(filter, &mut criteria_parts, &mut tag_parts);
        let search_criteria = match criteria_parts.len() {
            0 if !tag_parts.is_empty() => None,
            _ => Some(raise_criteria(&Filter::and(criteria_parts))?),
        };
        let search_filter = if tag_parts.is_empty() {
            None
        } else {
            Some(raise_filter(&tag_parts)?)
        };
        let req = SearchUsersRequest {
            search_criteria,
            search_filter,
            ..SearchUsersRequest::default()
        };
        req.lower()?;
        Ok(req)
    }
}

/// Splits the top-level AND of `f` into tag-free parts and parts with tags,
/// descending into nested ANDs only where they hold tags.
fn split_conjuncts(f: &Filter, criteria: &mut Vec<Filter>, tags: &mut Vec<Filter>) {
    match f {
        _ if !f.has_tag() => criteria.push(f.clone()),
        Filter::And(children) => {
            for c in children {
                split_conjuncts(c, criteria, tags);
            }
        }
        _ => tags.push(f.clone()),
    }
}

fn cannot(part: &Filter, why: &str) -> AwsError {
    AwsError::invalid_parameter(format!(
        "'{part}' cannot be expressed as an AWS SearchUsersRequest: {why}"
    ))
}

fn raise_string(field: &str, op: StringOp, value: &str) -> WireStringCondition {
    WireStringCondition {
        field_name: Some(field.to_string()),
        value: Some(value.to_string()),
        comparison_type: Some(op.aws_name().to_string()),
    }
}

fn raise_hierarchy(h: &HierarchyCondition) -> HierarchyGroupCondition {
    HierarchyGroupCondition {
        value: Some(h.group().to_string()),
        hierarchy_group_match_type: Some(h.mode().aws_name().to_string()),
    }
}

impl From<NumberTest> for NumberCondition {
    /// The `NumberCondition` AWS reads for a test (field `level`, and only
    /// the bound its comparison reads).
    fn from(t: NumberTest) -> Self {
        raise_number(t)
    }
}

fn raise_number(t: NumberTest) -> NumberCondition {
    let (min, max) = t.aws_values();
    NumberCondition {
        field_name: Some("level".into()),
        min_value: min,
        max_value: max,
        comparison_type: Some(t.op().aws_name().into()),
    }
}

fn raise_criteria(f: &Filter) -> Result<UserSearchCriteria, AwsError> {
    let list = |children: &[Filter]| -> Result<Vec<UserSearchCriteria>, AwsError> {
        children.iter().map(raise_criteria).collect()
    };
    Ok(match f {
        Filter::And(children) => UserSearchCriteria {
            and_conditions: Some(list(children)?),
            ..Default::default()
        },
        Filter::Or(children) => UserSearchCriteria {
            or_conditions: Some(list(children)?),
            ..Default::default()
        },
        Filter::String(s) => UserSearchCriteria {
            string_condition: Some(raise_string(s.field().as_str(), s.op(), s.value())),
            ..Default::default()
        },
        Filter::Hierarchy(h) => UserSearchCriteria {
            hierarchy_group_condition: Some(raise_hierarchy(h)),
            ..Default::default()
        },
        Filter::Proficiency(items) => UserSearchCriteria {
            list_condition: Some(ListCondition {
                target_list_type: Some("PROFICIENCIES".into()),
                conditions: Some(
                    items
                        .iter()
                        .map(|item| match item {
                            ProficiencyCondition::String(p) => Condition {
                                string_condition: Some(raise_string(
                                    p.field().as_str(),
                                    p.op(),
                                    p.value(),
                                )),
                                number_condition: None,
                            },
                            ProficiencyCondition::Level(t) => Condition {
                                string_condition: None,
                                number_condition: Some(raise_number(*t)),
                            },
                        })
                        .collect(),
                ),
            }),
            ..Default::default()
        },
        Filter::Tag(_) => return Err(cannot(f, "a tag test cannot stand inside SearchCriteria")),
    })
}

fn raise_tag(t: &TagCondition) -> WireTagCondition {
    WireTagCondition {
        tag_key: Some(t.key().to_string()),
        tag_value: t.value().map(str::to_string),
    }
}

/// The tags of `f` if it is a tag or an AND of tags.
fn tag_conjunction(f: &Filter) -> Option<Vec<WireTagCondition>> {
    match f {
        Filter::Tag(t) => Some(vec![raise_tag(t)]),
        Filter::And(children) => children
            .iter()
            .map(|c| match c {
                Filter::Tag(t) => Some(raise_tag(t)),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// The tags and at most one hierarchy test of `f`, an attribute AND.
fn attribute_conjunction(f: &Filter) -> Option<AttributeAndCondition> {
    let items: &[Filter] = match f {
        Filter::And(children) => children,
        other => std::slice::from_ref(other),
    };
    let mut out = AttributeAndCondition::default();
    for item in items {
        match item {
            Filter::Tag(t) => out
                .tag_conditions
                .get_or_insert_with(Vec::new)
                .push(raise_tag(t)),
            Filter::Hierarchy(h) if out.hierarchy_group_condition.is_none() => {
                out.hierarchy_group_condition = Some(raise_hierarchy(h))
            }
            _ => return None,
        }
    }
    Some(out)
}

fn raise_filter(parts: &[Filter]) -> Result<UserSearchFilter, AwsError> {
    let mut and_tags = Vec::new();
    let mut ors = Vec::new();
    for p in parts {
        match p {
            Filter::Tag(t) => and_tags.push(raise_tag(t)),
            Filter::Or(children) => ors.push((p, children)),
            _ => {
                return Err(cannot(
                    p,
                    "tag tests combine only with other tag tests and hierarchy conditions",
                ))
            }
        }
    }
    let [(or_part, children)] = ors.as_slice() else {
        if ors.is_empty() {
            return Ok(UserSearchFilter {
                tag_filter: Some(tag_filter_of(and_tags, None)),
                user_attribute_filter: None,
            });
        }
        return Err(cannot(
            ors[1].0,
            "a SearchFilter holds at most one OR of tag tests",
        ));
    };
    if let Some(alternatives) = children
        .iter()
        .map(tag_conjunction)
        .collect::<Option<Vec<_>>>()
    {
        return Ok(UserSearchFilter {
            tag_filter: Some(tag_filter_of(and_tags, Some(alternatives))),
            user_attribute_filter: None,
        });
    }
    if !and_tags.is_empty() {
        return Err(cannot(
            or_part,
            "an OR mixing tags and hierarchy conditions must be the only tag condition",
        ));
    }
    let alternatives = children
        .iter()
        .map(attribute_conjunction)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            cannot(
                or_part,
                "each alternative of an OR with tags must be tag tests and at most one hierarchy condition",
            )
        })?;
    Ok(UserSearchFilter {
        tag_filter: None,
        user_attribute_filter: Some(UserAttributeFilter {
            or_conditions: Some(alternatives),
            ..Default::default()
        }),
    })
}

fn tag_filter_of(
    mut and_tags: Vec<WireTagCondition>,
    or: Option<Vec<Vec<WireTagCondition>>>,
) -> TagFilter {
    let mut f = TagFilter {
        or_conditions: or,
        ..TagFilter::default()
    };
    match and_tags.len() {
        0 => {}
        1 => f.tag_condition = and_tags.pop(),
        _ => f.and_conditions = Some(and_tags),
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The broken rule of a request body (which must parse).
    fn wire_error(body: &str) -> WireError {
        match parse_request(body).map(|r| r.try_lower()) {
            Ok(Err(e)) => e,
            other => panic!("not a wire error: {other:?}"),
        }
    }

    #[test]
    fn each_kind_shows_the_message_the_service_sends() {
        let sc = |members: &str| {
            format!(r#"{{"SearchCriteria": {{"StringCondition": {{{members}}}}}}}"#)
        };
        let level = |members: &str| {
            format!(
                r#"{{"SearchCriteria": {{"ListCondition": {{"TargetListType": "PROFICIENCIES", "Conditions": [{{"NumberCondition": {{{members}}}}}]}}}}}}"#
            )
        };
        let cases = [
            (
                sc(r#""FieldName": "Username", "ComparisonType": "EXACT""#),
                WireErrorKind::Required,
                "SearchCriteria.StringCondition.Value: is required",
            ),
            (
                sc(r#""FieldName": "Nickname", "Value": "a", "ComparisonType": "EXACT""#),
                WireErrorKind::UnknownField("Nickname".into()),
                "SearchCriteria.StringCondition.FieldName: unknown field 'Nickname'; expected one of \
                 username, firstname, lastname, routingProfileId, securityProfileId, resourceId",
            ),
            (
                sc(r#""FieldName": "Username", "Value": "a", "ComparisonType": "LIKE""#),
                WireErrorKind::UnknownStringComparison("LIKE".into()),
                "SearchCriteria.StringCondition.ComparisonType: unknown comparison 'LIKE'; \
                 expected EXACT, STARTS_WITH or CONTAINS",
            ),
            (
                level(r#""FieldName": "Level", "ComparisonType": "ABOUT", "MinValue": 1"#),
                WireErrorKind::UnknownNumberComparison("ABOUT".into()),
                "SearchCriteria.ListCondition.Conditions[0].NumberCondition.ComparisonType: \
                 unknown comparison 'ABOUT'; expected GREATER_OR_EQUAL, GREATER, LESSER_OR_EQUAL, \
                 LESSER, EQUAL, NOT_EQUAL, RANGE",
            ),
            (
                level(r#""FieldName": "height", "ComparisonType": "EQUAL", "MinValue": 1"#),
                WireErrorKind::UnknownNumberField("height".into()),
                "SearchCriteria.ListCondition.Conditions[0].NumberCondition.FieldName: \
                 unknown number field 'height'; expected level",
            ),
            (
                r#"{"NextToken": ""}"#.to_string(),
                WireErrorKind::NextTokenLength(0),
                "NextToken: must be 1..2500 characters, got 0",
            ),
            (
                r#"{"InstanceId": ""}"#.to_string(),
                WireErrorKind::InstanceId(InstanceIdLength { chars: 0 }),
                "InstanceId: must be 1..100 characters, got 0",
            ),
            (
                r#"{"SearchFilter": {"UserAttributeFilter": {"TagCondition": {"TagKey": "a"}, "HierarchyGroupCondition": {"Value": "g"}}}}"#.to_string(),
                WireErrorKind::OneMemberOnly(vec!["TagCondition", "HierarchyGroupCondition"]),
                "SearchFilter.UserAttributeFilter: only one member may be set, got TagCondition, \
                 HierarchyGroupCondition",
            ),
        ];
        for (body, kind, message) in cases {
            let e = wire_error(&body);
            assert_eq!(e.kind, kind, "{body}");
            assert_eq!(e.to_string(), message, "{body}");
            let aws = AwsError::from(e);
            assert_eq!(
                (aws.kind, aws.message.as_str()),
                (ErrorType::InvalidParameterException, message)
            );
        }
    }

    #[test]
    fn both_filters_is_an_invalid_request() {
        let e = wire_error(r#"{"SearchFilter": {"TagFilter": {}, "UserAttributeFilter": {}}}"#);
        assert_eq!(
            (e.path.as_str(), &e.kind),
            ("SearchFilter", &WireErrorKind::BothFilters)
        );
        let aws = AwsError::from(e);
        assert_eq!(aws.kind, ErrorType::InvalidRequestException);
        assert_eq!(
            aws.message,
            "SearchFilter: TagFilter and UserAttributeFilter cannot be used together"
        );
    }
}
