//! The criteria of `SearchUserHierarchyGroups`: its AWS JSON request
//! (`UserHierarchyGroupSearchCriteria`, `UserHierarchyGroupSearchFilter`
//! with its `ControlPlaneAttributeFilter` of tags), the lowering of that
//! request into a [`GroupFilter`] under the rules `SearchUsers` follows
//! (nesting depth, leaf count, non-empty values, one member of an
//! attribute filter, errors naming the JSON path), and the search itself.
//!
//! Takes in request JSON; gives out a validated [`GroupSearch`], and for a
//! set of groups the page [`search`] finds. Groups are few (thousands an
//! instance), so there is no planner: every group is tested. Results are
//! ordered like users, by [`SortKey`] of (`Name`, `Id`), and paged with the
//! same kind of token, bound to the query.

use serde::{Deserialize, Serialize};

use super::paging::{encode_str, encode_string_test, seal_key, unseal_key, SortKey};
use super::wire::{
    bad, check_paging, required, string_op, violation, Lowering, WireError, WireErrorKind,
    WireStringCondition, WireTagCondition,
};
use super::{
    fold, non_empty, RuleViolation, StringOp, TagCondition, MAX_ATTRIBUTE_TAGS, MAX_DEPTH,
};
use crate::records::HierarchyGroup;
use crate::{AwsError, ErrorType};

/// Default and largest `MaxResults` of `SearchUserHierarchyGroups` (the
/// model's `MaxResult100`).
pub const MAX_GROUP_RESULTS: u32 = 100;

/// `SearchUserHierarchyGroupsRequest`. `InstanceId` is optional here, as
/// in [`super::wire::SearchUsersRequest`]; the engine requires it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SearchUserHierarchyGroupsRequest {
    /// The Connect instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// The paging token of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Page size, 1..100 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    /// The tag filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_filter: Option<GroupSearchFilter>,
    /// The recursive criteria.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_criteria: Option<GroupSearchCriteria>,
}

/// `UserHierarchyGroupSearchCriteria`: every member set is ANDed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GroupSearchCriteria {
    /// OR of the listed criteria.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub or_conditions: Option<Vec<GroupSearchCriteria>>,
    /// AND of the listed criteria.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub and_conditions: Option<Vec<GroupSearchCriteria>>,
    /// A string test on `name`, `parentId`, `levelId` or `resourceID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_condition: Option<WireStringCondition>,
}

/// `UserHierarchyGroupSearchFilter`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GroupSearchFilter {
    /// Tag tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_filter: Option<ControlPlaneAttributeFilter>,
}

/// `ControlPlaneAttributeFilter`: only one member may be set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ControlPlaneAttributeFilter {
    /// OR of tag ANDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub or_conditions: Option<Vec<CommonAttributeAndCondition>>,
    /// One tag AND.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub and_condition: Option<CommonAttributeAndCondition>,
    /// One tag test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_condition: Option<WireTagCondition>,
}

/// `CommonAttributeAndCondition`: its tag tests ANDed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CommonAttributeAndCondition {
    /// Tag tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_conditions: Option<Vec<WireTagCondition>>,
}

/// The four group fields a `StringCondition` may test (AWS documents
/// `name`, `parentId`, `levelId` and `resourceID`; read ignoring ASCII
/// case, like the user fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupField {
    /// `name`: the group's `Name`, compared after case folding.
    Name,
    /// `parentId`: the `Id` of the group one level above (a level-one
    /// group has none), compared exactly.
    ParentId,
    /// `levelId`: `LevelId`, compared exactly.
    LevelId,
    /// `resourceID`: `Id` (or `Arn`, for `EXACT`), compared exactly.
    ResourceId,
}

impl GroupField {
    /// Every field, in the order AWS lists them.
    pub const ALL: [GroupField; 4] = [
        GroupField::Name,
        GroupField::ParentId,
        GroupField::LevelId,
        GroupField::ResourceId,
    ];

    /// The spelling AWS documents.
    ///
    /// ```
    /// use rollcall::criteria::groups::GroupField;
    /// assert_eq!(GroupField::parse("RESOURCEID"), Some(GroupField::ResourceId));
    /// assert_eq!(GroupField::ResourceId.as_str(), "resourceID");
    /// assert_eq!(GroupField::parse("username"), None);
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            GroupField::Name => "name",
            GroupField::ParentId => "parentId",
            GroupField::LevelId => "levelId",
            GroupField::ResourceId => "resourceID",
        }
    }

    /// Reads a field name, ignoring ASCII case.
    pub fn parse(name: &str) -> Option<GroupField> {
        GroupField::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(name))
    }
}

/// `name sw "EM"`: one string test on a group field, with a value that is
/// never empty (the constructor enforces it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupStringCondition {
    field: GroupField,
    op: StringOp,
    value: String,
}

impl GroupStringCondition {
    /// Builds a string test; an empty value is a rule violation.
    ///
    /// ```
    /// use rollcall::criteria::groups::{GroupField, GroupStringCondition};
    /// use rollcall::criteria::StringOp;
    /// assert!(GroupStringCondition::new(GroupField::Name, StringOp::Contains, "").is_err());
    /// assert!(GroupStringCondition::new(GroupField::Name, StringOp::Contains, "e").is_ok());
    /// ```
    pub fn new(
        field: GroupField,
        op: StringOp,
        value: impl Into<String>,
    ) -> Result<Self, RuleViolation> {
        let value = non_empty("Value", value)?;
        Ok(GroupStringCondition { field, op, value })
    }

    /// The field tested.
    pub fn field(&self) -> GroupField {
        self.field
    }
    /// The comparison.
    pub fn op(&self) -> StringOp {
        self.op
    }
    /// The value exactly as given.
    pub fn value(&self) -> &str {
        &self.value
    }

    fn matches(&self, g: &HierarchyGroup) -> bool {
        let mut values: Vec<&str> = match self.field {
            GroupField::Name => g.name.as_deref().into_iter().collect(),
            GroupField::ParentId => parent_id(g).into_iter().collect(),
            GroupField::LevelId => g.level_id.as_deref().into_iter().collect(),
            GroupField::ResourceId => vec![g.id.as_str()],
        };
        if self.field == GroupField::ResourceId && self.op == StringOp::Exact {
            values.extend(g.arn.as_deref());
        }
        if self.field == GroupField::Name {
            let needle = fold(&self.value);
            values.iter().any(|v| self.op.test(&fold(v), &needle))
        } else {
            values.iter().any(|v| self.op.test(v, &self.value))
        }
    }
}

/// The `Id` of the group one level above `g`: the last group its
/// `HierarchyPath` names other than `g` itself (`None` at level one).
///
/// ```
/// use rollcall::criteria::groups::parent_id;
/// let g: rollcall::records::HierarchyGroup = serde_json::from_value(serde_json::json!({
///     "Id": "de", "HierarchyPath": {"LevelOne": {"Id": "emea"}, "LevelTwo": {"Id": "de"}}
/// })).unwrap();
/// assert_eq!(parent_id(&g), Some("emea"));
/// ```
pub fn parent_id(g: &HierarchyGroup) -> Option<&str> {
    g.hierarchy_path
        .iter()
        .flat_map(|p| p.levels())
        .filter_map(|s| s.id.as_deref())
        .filter(|id| *id != g.id)
        .last()
}

/// A search over hierarchy groups: string and tag tests combined with
/// `and` / `or`, the structure the request wrote (single-part groups
/// collapsed). `And(vec![])` matches every group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupFilter {
    /// `AndConditions`, the members of one criteria object, a tag AND.
    And(Vec<GroupFilter>),
    /// `OrConditions`; never empty (the lowering refuses an empty one).
    Or(Vec<GroupFilter>),
    /// A `StringCondition`.
    String(GroupStringCondition),
    /// A `TagCondition`: the group has tag `TagKey` (with `TagValue`,
    /// when given, exactly).
    Tag(TagCondition),
}

impl GroupFilter {
    /// The AND of `parts`; a single part stands for itself.
    fn and(mut parts: Vec<GroupFilter>) -> GroupFilter {
        match parts.len() {
            1 => parts.pop().unwrap_or(GroupFilter::And(Vec::new())),
            _ => GroupFilter::And(parts),
        }
    }

    /// The OR of `parts` at `path` (an `OrConditions` member); none is an
    /// error (an empty OR matches no group, and AWS refuses it).
    fn or(mut parts: Vec<GroupFilter>, path: &str) -> Result<GroupFilter, WireError> {
        match parts.len() {
            0 => Err(bad(
                path,
                WireErrorKind::Rule("must not be empty (an empty OR matches no group)".into()),
            )),
            1 => Ok(parts.pop().unwrap_or(GroupFilter::And(Vec::new()))),
            _ => Ok(GroupFilter::Or(parts)),
        }
    }

    /// True when the group passes the filter.
    ///
    /// ```
    /// use rollcall::criteria::groups::parse_request;
    /// let g: rollcall::records::HierarchyGroup = serde_json::from_value(serde_json::json!({
    ///     "Id": "g1", "Name": "EMEA", "LevelId": "level-1", "Tags": {"Team": "blue"}
    /// })).unwrap();
    /// let req = parse_request(r#"{"SearchCriteria": {"StringCondition":
    ///     {"FieldName": "name", "Value": "em", "ComparisonType": "STARTS_WITH"}},
    ///     "SearchFilter": {"AttributeFilter": {"TagCondition": {"TagKey": "Team"}}}}"#).unwrap();
    /// assert!(req.lower().unwrap().filter.matches(&g));
    /// ```
    pub fn matches(&self, g: &HierarchyGroup) -> bool {
        match self {
            GroupFilter::And(parts) => parts.iter().all(|p| p.matches(g)),
            GroupFilter::Or(parts) => parts.iter().any(|p| p.matches(g)),
            GroupFilter::String(s) => s.matches(g),
            GroupFilter::Tag(t) => match g.tags.as_ref().and_then(|tags| tags.get(t.key())) {
                None => false,
                Some(v) => t.value().is_none_or(|want| want == v),
            },
        }
    }

    /// The canonical binary encoding tokens are bound to: a version tag
    /// (distinct from the users' query encoding, so no `SearchUsers` token
    /// is taken here), then the tree, each node a tag byte and its parts,
    /// as [`super::paging`] encodes a user query.
    fn encoding(&self) -> Vec<u8> {
        fn walk(f: &GroupFilter, out: &mut Vec<u8>) {
            let group = |tag: u8, parts: &[GroupFilter], out: &mut Vec<u8>| {
                out.push(tag);
                out.extend_from_slice(&(parts.len() as u32).to_le_bytes());
                for p in parts {
                    walk(p, out);
                }
            };
            match f {
                GroupFilter::And(parts) => group(b'&', parts, out),
                GroupFilter::Or(parts) => group(b'|', parts, out),
                GroupFilter::String(s) => encode_string_test(s.field.as_str(), s.op, &s.value, out),
                GroupFilter::Tag(t) => {
                    out.push(b't');
                    encode_str(t.key(), out);
                    match t.value() {
                        Some(v) => {
                            out.push(1);
                            encode_str(v, out);
                        }
                        None => out.push(0),
                    }
                }
            }
        }
        let mut out = b"rollcall/GroupFilter/v1\0".to_vec();
        walk(self, &mut out);
        out
    }
}

/// A validated `SearchUserHierarchyGroups` request.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSearch {
    /// The instance named by the request, if any.
    pub instance_id: Option<String>,
    /// `SearchCriteria` AND `SearchFilter` as one tree.
    pub filter: GroupFilter,
    /// Page size, 1..=100.
    pub max_results: u32,
    /// The token of the previous page, still opaque.
    pub next_token: Option<String>,
}

/// Reads a `SearchUserHierarchyGroupsRequest` from JSON text; a body of
/// the wrong shape is a `SerializationException` naming the JSON path.
pub fn parse_request(json: &str) -> Result<SearchUserHierarchyGroupsRequest, AwsError> {
    crate::json::from_str(json)
        .map_err(|e| AwsError::new(ErrorType::SerializationException, e.to_string()))
}

impl SearchUserHierarchyGroupsRequest {
    /// Validates the request and lowers it into one [`GroupFilter`]; the
    /// error as the service reports it.
    pub fn lower(&self) -> Result<GroupSearch, AwsError> {
        Ok(self.try_lower()?)
    }

    /// [`lower`](Self::lower), with the broken rule as data.
    ///
    /// ```
    /// use rollcall::criteria::groups::parse_request;
    /// use rollcall::criteria::wire::WireErrorKind;
    /// let e = parse_request(r#"{"MaxResults": 101}"#).unwrap().try_lower().unwrap_err();
    /// assert_eq!(e.kind, WireErrorKind::GroupMaxResults(101));
    /// assert_eq!(e.to_string(), "MaxResults: must be 1..100, got 101");
    /// ```
    pub fn try_lower(&self) -> Result<GroupSearch, WireError> {
        let max_results = check_paging(
            self.instance_id.as_deref(),
            self.max_results,
            self.next_token.as_deref(),
            (MAX_GROUP_RESULTS, MAX_GROUP_RESULTS),
            WireErrorKind::GroupMaxResults,
        )?;
        let mut lowering = Lowering::default();
        let mut parts = Vec::new();
        if let Some(c) = &self.search_criteria {
            parts.push(criteria(&mut lowering, c, "SearchCriteria", 1)?);
        }
        if let Some(a) = self
            .search_filter
            .as_ref()
            .and_then(|f| f.attribute_filter.as_ref())
        {
            parts.push(attribute_filter(
                &mut lowering,
                a,
                "SearchFilter.AttributeFilter",
            )?);
        }
        Ok(GroupSearch {
            instance_id: self.instance_id.clone(),
            filter: GroupFilter::and(parts),
            max_results,
            next_token: self.next_token.clone(),
        })
    }
}

fn criteria(
    lowering: &mut Lowering,
    c: &GroupSearchCriteria,
    path: &str,
    depth: usize,
) -> Result<GroupFilter, WireError> {
    if depth > MAX_DEPTH {
        return Err(bad(path, WireErrorKind::TooDeep));
    }
    let mut list = |list: &[GroupSearchCriteria], p: &str| -> Result<Vec<_>, WireError> {
        list.iter()
            .enumerate()
            .map(|(i, c)| criteria(lowering, c, &format!("{p}[{i}]"), depth + 1))
            .collect()
    };
    let mut parts = Vec::new();
    if let Some(l) = &c.or_conditions {
        let p = format!("{path}.OrConditions");
        let children = list(l, &p)?;
        parts.push(GroupFilter::or(children, &p)?);
    }
    if let Some(l) = &c.and_conditions {
        let children = list(l, &format!("{path}.AndConditions"))?;
        parts.push(GroupFilter::and(children));
    }
    if let Some(s) = &c.string_condition {
        let p = format!("{path}.StringCondition");
        lowering.leaf(&p)?;
        let name = required(&s.field_name, &p, "FieldName")?;
        let field = GroupField::parse(name).ok_or_else(|| {
            bad(
                &format!("{p}.FieldName"),
                WireErrorKind::UnknownGroupField(name.clone()),
            )
        })?;
        let op = string_op(s, &p)?;
        let value = required(&s.value, &p, "Value")?;
        let cond =
            GroupStringCondition::new(field, op, value.clone()).map_err(|v| violation(&p, v))?;
        parts.push(GroupFilter::String(cond));
    }
    Ok(GroupFilter::and(parts))
}

fn attribute_filter(
    lowering: &mut Lowering,
    f: &ControlPlaneAttributeFilter,
    path: &str,
) -> Result<GroupFilter, WireError> {
    let set: Vec<&'static str> = [
        ("OrConditions", f.or_conditions.is_some()),
        ("AndCondition", f.and_condition.is_some()),
        ("TagCondition", f.tag_condition.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    if set.len() > 1 {
        return Err(bad(path, WireErrorKind::OneMemberOnly(set)));
    }
    let mut count = 0;
    let mut and = |a: &CommonAttributeAndCondition, p: &str| -> Result<GroupFilter, WireError> {
        let mut parts = Vec::new();
        for (i, t) in a.tag_conditions.iter().flatten().enumerate() {
            count += 1;
            let tp = format!("{p}.TagConditions[{i}]");
            parts.push(GroupFilter::Tag(lowering.tag_condition(t, &tp)?));
        }
        Ok(GroupFilter::and(parts))
    };
    let filter = if let Some(ors) = &f.or_conditions {
        let p = format!("{path}.OrConditions");
        let mut alternatives = Vec::new();
        for (i, a) in ors.iter().enumerate() {
            alternatives.push(and(a, &format!("{p}[{i}]"))?);
        }
        GroupFilter::or(alternatives, &p)?
    } else if let Some(a) = &f.and_condition {
        and(a, &format!("{path}.AndCondition"))?
    } else if let Some(t) = &f.tag_condition {
        count += 1;
        GroupFilter::Tag(lowering.tag_condition(t, &format!("{path}.TagCondition"))?)
    } else {
        GroupFilter::And(Vec::new())
    };
    if count > MAX_ATTRIBUTE_TAGS {
        return Err(bad(path, WireErrorKind::TooManyTags(count)));
    }
    Ok(filter)
}

/// One page of a group search.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPage<'a> {
    /// The matching groups of this page, in (folded `Name`, `Id`) order.
    pub groups: Vec<&'a HierarchyGroup>,
    /// Present exactly when more groups match.
    pub next_token: Option<String>,
    /// The exact number of matches of the whole query.
    pub total: u64,
}

/// The order of groups: the folded `Name` (a group without one first),
/// then the `Id`.
fn key(g: &HierarchyGroup) -> SortKey {
    SortKey::new(g.name.as_deref().unwrap_or(""), &g.id)
}

/// Answers a search by testing every group: the matches after the token's
/// key, one page of them, the exact total and the token for the next page.
/// A token not issued for this query is an `InvalidParameterException`.
///
/// ```
/// use rollcall::criteria::groups::{parse_request, search};
/// let groups: Vec<rollcall::records::HierarchyGroup> = serde_json::from_value(serde_json::json!([
///     {"Id": "2", "Name": "b"}, {"Id": "1", "Name": "A"}, {"Id": "3", "Name": "c"}
/// ])).unwrap();
/// let s = parse_request(r#"{"MaxResults": 2}"#).unwrap().lower().unwrap();
/// let page = search(&groups, &s).unwrap();
/// assert_eq!(page.groups.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(), ["1", "2"]);
/// assert_eq!(page.total, 3);
/// assert!(page.next_token.is_some());
/// ```
pub fn search<'a>(
    groups: impl IntoIterator<Item = &'a HierarchyGroup>,
    search: &GroupSearch,
) -> Result<GroupPage<'a>, AwsError> {
    let context = search.filter.encoding();
    let after = match &search.next_token {
        Some(t) => Some(unseal_key(&context, t)?),
        None => None,
    };
    let mut hits: Vec<(SortKey, &HierarchyGroup)> = groups
        .into_iter()
        .filter(|g| search.filter.matches(g))
        .map(|g| (key(g), g))
        .collect();
    let total = hits.len() as u64;
    hits.sort_by(|a, b| a.0.cmp(&b.0));
    let rest: Vec<(SortKey, &HierarchyGroup)> = hits
        .into_iter()
        .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
        .collect();
    let max = search.max_results as usize;
    let next_token = match rest.get(max.saturating_sub(1)) {
        Some((last, _)) if rest.len() > max => Some(seal_key(&context, last)),
        _ => None,
    };
    Ok(GroupPage {
        groups: rest.into_iter().take(max).map(|(_, g)| g).collect(),
        next_token,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lower(v: serde_json::Value) -> Result<GroupSearch, WireError> {
        parse_request(&v.to_string()).expect("request").try_lower()
    }

    fn rejected(v: serde_json::Value) -> (String, String) {
        let e = lower(v).expect_err("rejected");
        (e.path.clone(), e.to_string())
    }

    fn string(field: &str, value: &str, op: &str) -> serde_json::Value {
        json!({"StringCondition": {"FieldName": field, "Value": value, "ComparisonType": op}})
    }

    #[test]
    fn requests_break_the_rules_search_users_has() {
        let cases = [
            (json!({"MaxResults": 0}), "MaxResults: must be 1..100, got 0"),
            (json!({"MaxResults": 101}), "MaxResults: must be 1..100, got 101"),
            (
                json!({"NextToken": ""}),
                "NextToken: must be 1..2500 characters, got 0",
            ),
            (
                json!({"InstanceId": ""}),
                "InstanceId: must be 1..100 characters, got 0",
            ),
            (
                json!({"SearchCriteria": string("nickname", "x", "EXACT")}),
                "SearchCriteria.StringCondition.FieldName: unknown field 'nickname'; expected one of name, parentId, levelId, resourceID",
            ),
            (
                json!({"SearchCriteria": string("name", "x", "LIKE")}),
                "SearchCriteria.StringCondition.ComparisonType: unknown comparison 'LIKE'; expected EXACT, STARTS_WITH or CONTAINS",
            ),
            (
                json!({"SearchCriteria": string("name", "", "EXACT")}),
                "SearchCriteria.StringCondition.Value: must not be empty",
            ),
            (
                json!({"SearchCriteria": {"StringCondition": {"FieldName": "name", "ComparisonType": "EXACT"}}}),
                "SearchCriteria.StringCondition.Value: is required",
            ),
            (
                json!({"SearchCriteria": {"OrConditions": []}}),
                "SearchCriteria.OrConditions: must not be empty (an empty OR matches no group)",
            ),
            (
                json!({"SearchFilter": {"AttributeFilter": {"TagCondition": {"TagKey": "a"}, "AndCondition": {}}}}),
                "SearchFilter.AttributeFilter: only one member may be set, got AndCondition, TagCondition",
            ),
            (
                json!({"SearchFilter": {"AttributeFilter": {"OrConditions": []}}}),
                "SearchFilter.AttributeFilter.OrConditions: must not be empty (an empty OR matches no group)",
            ),
            (
                json!({"SearchFilter": {"AttributeFilter": {"TagCondition": {"TagValue": "a"}}}}),
                "SearchFilter.AttributeFilter.TagCondition.TagKey: is required",
            ),
            (
                json!({"SearchFilter": {"AttributeFilter": {"AndCondition": {"TagConditions":
                    (0..26).map(|i| json!({"TagKey": format!("k{i}")})).collect::<Vec<_>>()}}}}),
                "SearchFilter.AttributeFilter: 26 tag conditions; at most 25 are allowed",
            ),
        ];
        for (request, message) in cases {
            assert_eq!(rejected(request.clone()).1, message, "{request}");
        }
    }

    #[test]
    fn depth_and_leaves_are_limited_as_for_users() {
        let mut deep = string("name", "x", "EXACT");
        for _ in 0..9 {
            deep = json!({ "AndConditions": [deep] });
        }
        assert!(lower(json!({ "SearchCriteria": deep.clone() })).is_ok());
        let (path, message) = rejected(json!({"SearchCriteria": {"OrConditions": [deep]}}));
        assert!(
            message.ends_with("nested more than 10 levels deep"),
            "{path}: {message}"
        );
        let leaves: Vec<_> = (0..101)
            .map(|i| string("name", &format!("n{i}"), "EXACT"))
            .collect();
        let (_, message) = rejected(json!({"SearchCriteria": {"OrConditions": leaves}}));
        assert!(
            message.ends_with("more than 100 leaf conditions in one request"),
            "{message}"
        );
    }

    #[test]
    fn fields_compare_as_documented() {
        let g: HierarchyGroup = serde_json::from_value(json!({
            "Id": "de", "Arn": "arn:x/agent-group/de", "Name": "Straße", "LevelId": "level-2",
            "HierarchyPath": {"LevelOne": {"Id": "emea"}, "LevelTwo": {"Id": "de"}},
            "Tags": {"Team": ""}
        }))
        .expect("group");
        let hit = |criteria: serde_json::Value| {
            lower(json!({ "SearchCriteria": criteria }))
                .expect("lowers")
                .filter
                .matches(&g)
        };
        assert!(hit(string("NAME", "STRASSE", "EXACT")));
        assert!(hit(string("name", "sse", "CONTAINS")));
        assert!(hit(string("parentId", "emea", "EXACT")));
        assert!(!hit(string("parentId", "de", "EXACT")));
        assert!(hit(string("levelId", "level-", "STARTS_WITH")));
        assert!(!hit(string("levelId", "LEVEL-2", "EXACT")));
        assert!(hit(string("resourceID", "arn:x/agent-group/de", "EXACT")));
        assert!(!hit(string("resourceID", "arn:", "STARTS_WITH")));
        let tagged = |t: serde_json::Value| {
            lower(json!({"SearchFilter": {"AttributeFilter": {"TagCondition": t}}}))
                .expect("lowers")
                .filter
                .matches(&g)
        };
        assert!(tagged(json!({"TagKey": "Team"})));
        assert!(tagged(json!({"TagKey": "Team", "TagValue": ""})));
        assert!(!tagged(json!({"TagKey": "Team", "TagValue": "blue"})));
    }

    #[test]
    fn tokens_are_bound_to_the_query_and_not_taken_from_search_users() {
        let groups: Vec<HierarchyGroup> = (0..3)
            .map(|i| {
                serde_json::from_value(json!({"Id": format!("g{i}"), "Name": "n"})).expect("g")
            })
            .collect();
        let mut all = lower(json!({"MaxResults": 1})).expect("lowers");
        let first = search(&groups, &all).expect("page");
        all.next_token = first.next_token.clone();
        assert_eq!(search(&groups, &all).expect("page").groups[0].id, "g1");
        let mut other =
            lower(json!({"MaxResults": 1, "SearchCriteria": string("name", "n", "EXACT")}))
                .expect("lowers");
        other.next_token = first.next_token;
        assert!(search(&groups, &other).is_err());
        let users = super::super::paging::encode_token(
            &super::super::Filter::all(),
            &SortKey::new("n", "g0"),
        );
        all.next_token = Some(users);
        let e = search(&groups, &all).expect_err("a SearchUsers token");
        assert_eq!(e.kind, ErrorType::InvalidParameterException);
    }
}
