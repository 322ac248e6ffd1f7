//! The criteria model: one typed tree for everything `SearchUsers` can ask.
//!
//! Takes in nothing by itself: the AWS JSON codec ([`wire`]) and the text
//! language (`crate::syntax`) both lower their input into a [`Filter`], and
//! every rule of SPEC section 2 that concerns a single condition lives here,
//! in the smart constructors ([`StringCondition::new`], [`NumberTest`] ...),
//! so that both front ends enforce it the same way. Gives out the tree that
//! the reference evaluator ([`eval`]) and the planner run.
//!
//! The tree keeps the structure the caller wrote: `(a and b) and c` is an
//! `And` inside an `And`. Singleton groups are collapsed by the front ends
//! (an `OrConditions` list of one is that one condition), so the text
//! language can print every tree and read it back unchanged.

pub mod eval;
pub mod paging;
pub mod wire;

use std::fmt;

/// The deepest nesting of criteria a request may hold (SPEC section 2).
pub const MAX_DEPTH: usize = 10;
/// The most leaf conditions one request may hold, over criteria and filter.
pub const MAX_LEAVES: usize = 100;
/// Shortest `CONTAINS` value on Username, FirstName or LastName (characters).
pub const CONTAINS_MIN_CHARS: usize = 2;
/// Longest `CONTAINS` value on Username, FirstName or LastName (characters).
pub const CONTAINS_MAX_CHARS: usize = 25;
/// The most tag conditions a `UserAttributeFilter` may hold.
pub const MAX_ATTRIBUTE_TAGS: usize = 25;
/// The most hierarchy conditions a `UserAttributeFilter` may hold.
pub const MAX_ATTRIBUTE_HIERARCHIES: usize = 20;

/// A search over users: conditions combined with `and` / `or`.
///
/// `And(vec![])` matches every user (text: `*`); `Or(vec![])` can never be
/// built by the front ends (it is rejected as `InvalidParameterException`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Filter {
    /// `a and b and c`; `AndConditions` in AWS. Empty: `*`, every user.
    And(Vec<Filter>),
    /// `a or b or c`; `OrConditions` in AWS.
    Or(Vec<Filter>),
    /// `username sw "jo"`; a `StringCondition`.
    String(StringCondition),
    /// `hierarchy under g-emea`; a `HierarchyGroupCondition`.
    Hierarchy(HierarchyCondition),
    /// `tag.Team eq "blue"` or `tag.Team`; a `TagCondition` of the `SearchFilter`.
    Tag(TagCondition),
    /// `proficiency[name eq "Language" and level ge 3]`; a `ListCondition`:
    /// one single proficiency of the user must satisfy every item.
    Proficiency(Vec<ProficiencyCondition>),
}

impl Filter {
    /// The filter that matches every user (`*`, `AndConditions: []`).
    pub fn all() -> Filter {
        Filter::And(Vec::new())
    }

    /// Nesting depth: a leaf is 1, a group is one more than its deepest child.
    ///
    /// ```
    /// use rollcall::criteria::Filter;
    /// let q = rollcall::syntax::parse("username eq a and (firstname eq b or lastname eq c)").unwrap();
    /// assert_eq!(q.depth(), 3);
    /// ```
    pub fn depth(&self) -> usize {
        match self {
            Filter::And(children) | Filter::Or(children) => {
                1 + children.iter().map(Filter::depth).max().unwrap_or(0)
            }
            _ => 1,
        }
    }

    /// Number of leaf conditions (a proficiency list counts as one).
    pub fn leaves(&self) -> usize {
        match self {
            Filter::And(children) | Filter::Or(children) => {
                children.iter().map(Filter::leaves).sum()
            }
            _ => 1,
        }
    }

    /// Checks the leaf-count limit of SPEC section 2 (at most 100 leaf
    /// conditions), naming `what` (for example `the query`) in the message.
    ///
    /// The 10-level depth limit is not checked here: it is a property of the
    /// AWS request's nesting (several members of one criteria object share a
    /// level), so the AWS codec checks it on the request, and a text query is
    /// checked when it is converted to a request.
    pub fn check_leaf_limit(&self, what: &str) -> Result<(), crate::AwsError> {
        let leaves = self.leaves();
        if leaves > MAX_LEAVES {
            return Err(crate::AwsError::invalid_parameter(format!(
                "{what}: {leaves} leaf conditions; at most {MAX_LEAVES} are allowed in one request"
            )));
        }
        Ok(())
    }

    /// True when the filter contains a tag test anywhere.
    pub fn has_tag(&self) -> bool {
        match self {
            Filter::And(c) | Filter::Or(c) => c.iter().any(Filter::has_tag),
            Filter::Tag(_) => true,
            _ => false,
        }
    }
}

/// The six user fields a `StringCondition` may test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StringField {
    /// `username`: the user's `Username`, compared case-insensitively.
    Username,
    /// `firstname`: `IdentityInfo.FirstName`, compared case-insensitively.
    FirstName,
    /// `lastname`: `IdentityInfo.LastName`, compared case-insensitively.
    LastName,
    /// `routingProfileId`: `RoutingProfileId`, compared exactly.
    RoutingProfileId,
    /// `securityProfileId`: any of `SecurityProfileIds`, compared exactly.
    SecurityProfileId,
    /// `resourceId`: `Id` (or `Arn` for EXACT), compared exactly.
    ResourceId,
}

impl StringField {
    /// Every field, in a fixed order.
    pub const ALL: [StringField; 6] = [
        StringField::Username,
        StringField::FirstName,
        StringField::LastName,
        StringField::RoutingProfileId,
        StringField::SecurityProfileId,
        StringField::ResourceId,
    ];

    /// The spelling AWS documents for `FieldName`, which is also the
    /// canonical text spelling.
    ///
    /// ```
    /// use rollcall::criteria::StringField;
    /// assert_eq!(StringField::parse("ROUTINGPROFILEID"), Some(StringField::RoutingProfileId));
    /// assert_eq!(StringField::RoutingProfileId.as_str(), "routingProfileId");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            StringField::Username => "username",
            StringField::FirstName => "firstname",
            StringField::LastName => "lastname",
            StringField::RoutingProfileId => "routingProfileId",
            StringField::SecurityProfileId => "securityProfileId",
            StringField::ResourceId => "resourceId",
        }
    }

    /// Reads a field name, ignoring ASCII case.
    pub fn parse(name: &str) -> Option<StringField> {
        StringField::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(name))
    }

    /// True for the name fields, which compare after Unicode case folding.
    pub fn is_caseless(self) -> bool {
        matches!(
            self,
            StringField::Username | StringField::FirstName | StringField::LastName
        )
    }
}

impl fmt::Display for StringField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a string condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StringOp {
    /// `eq`: `EXACT`.
    Exact,
    /// `sw`: `STARTS_WITH`.
    StartsWith,
    /// `co`: `CONTAINS`.
    Contains,
}

impl StringOp {
    /// The AWS `ComparisonType` spelling.
    pub fn aws_name(self) -> &'static str {
        match self {
            StringOp::Exact => "EXACT",
            StringOp::StartsWith => "STARTS_WITH",
            StringOp::Contains => "CONTAINS",
        }
    }

    /// The text-language keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            StringOp::Exact => "eq",
            StringOp::StartsWith => "sw",
            StringOp::Contains => "co",
        }
    }

    /// True when `value` (already folded where the field folds) passes this
    /// comparison against `needle` (folded likewise).
    pub fn test(self, value: &str, needle: &str) -> bool {
        match self {
            StringOp::Exact => value == needle,
            StringOp::StartsWith => value.starts_with(needle),
            StringOp::Contains => value.contains(needle),
        }
    }
}

/// Unicode default case folding (full folding, no Turkic mappings, no
/// normalisation), the one rule for comparing Username, FirstName and LastName
/// and for the result order.
///
/// ```
/// assert_eq!(rollcall::criteria::fold("STRASSE"), rollcall::criteria::fold("straße"));
/// assert_eq!(rollcall::criteria::fold("İ"), "i\u{307}");
/// ```
pub fn fold(s: &str) -> String {
    caseless::default_case_fold_str(s)
}

/// `username sw "jo"`: one string test on a user field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StringCondition {
    field: StringField,
    op: StringOp,
    value: String,
}

/// A rule a single condition breaks; the front end adds where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleViolation {
    /// The part of the condition at fault, as a path suffix (`Value`, `MinValue`).
    pub part: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl RuleViolation {
    fn new(part: &'static str, message: impl Into<String>) -> Self {
        RuleViolation {
            part,
            message: message.into(),
        }
    }
}

/// The one rule that a compared value is never empty (SPEC section 2).
fn non_empty(part: &'static str, value: impl Into<String>) -> Result<String, RuleViolation> {
    let value = value.into();
    if value.is_empty() {
        return Err(RuleViolation::new(part, "must not be empty"));
    }
    Ok(value)
}

impl StringCondition {
    /// Builds a string condition, enforcing SPEC section 2: the value is not
    /// empty, and `CONTAINS` on a name field needs 2..25 characters.
    ///
    /// ```
    /// use rollcall::criteria::{StringCondition, StringField, StringOp};
    /// assert!(StringCondition::new(StringField::Username, StringOp::Contains, "j").is_err());
    /// assert!(StringCondition::new(StringField::ResourceId, StringOp::Contains, "j").is_ok());
    /// ```
    pub fn new(
        field: StringField,
        op: StringOp,
        value: impl Into<String>,
    ) -> Result<Self, RuleViolation> {
        let value = non_empty("Value", value)?;
        if op == StringOp::Contains && field.is_caseless() {
            let chars = value.chars().count();
            if !(CONTAINS_MIN_CHARS..=CONTAINS_MAX_CHARS).contains(&chars) {
                return Err(RuleViolation::new(
                    "Value",
                    format!(
                        "CONTAINS on {field} needs {CONTAINS_MIN_CHARS}..{CONTAINS_MAX_CHARS} characters, got {chars}"
                    ),
                ));
            }
        }
        Ok(StringCondition { field, op, value })
    }

    /// The field tested.
    pub fn field(&self) -> StringField {
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
}

/// How a hierarchy condition matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HierarchyMatch {
    /// `hierarchy eq G`: the user's group is `G`.
    Exact,
    /// `hierarchy under G`: the user's group is `G` or below it.
    WithChildGroups,
}

impl HierarchyMatch {
    /// The AWS `HierarchyGroupMatchType` spelling.
    pub fn aws_name(self) -> &'static str {
        match self {
            HierarchyMatch::Exact => "EXACT",
            HierarchyMatch::WithChildGroups => "WITH_CHILD_GROUPS",
        }
    }
}

/// `hierarchy under g-emea`: a test on the user's hierarchy group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HierarchyCondition {
    group: String,
    mode: HierarchyMatch,
}

impl HierarchyCondition {
    /// Builds a hierarchy condition; the group id must not be empty.
    pub fn new(group: impl Into<String>, mode: HierarchyMatch) -> Result<Self, RuleViolation> {
        let group = non_empty("Value", group)?;
        Ok(HierarchyCondition { group, mode })
    }
    /// The hierarchy group id.
    pub fn group(&self) -> &str {
        &self.group
    }
    /// How it matches.
    pub fn mode(&self) -> HierarchyMatch {
        self.mode
    }
}

/// `tag.Team eq "blue"` (key and value) or `tag.Team` (key only).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TagCondition {
    key: String,
    value: Option<String>,
}

impl TagCondition {
    /// Builds a tag test; the key must not be empty. Values compare exactly
    /// and may be empty (AWS tag values may be empty strings).
    pub fn new(key: impl Into<String>, value: Option<String>) -> Result<Self, RuleViolation> {
        let key = non_empty("TagKey", key)?;
        Ok(TagCondition { key, value })
    }
    /// The tag key.
    pub fn key(&self) -> &str {
        &self.key
    }
    /// The value the tag must have, or `None` for "has the key".
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }
}

/// The two string fields of a proficiency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProficiencyField {
    /// `name`: the proficiency's `AttributeName`.
    Name,
    /// `value`: the proficiency's `AttributeValue`.
    Value,
}

impl ProficiencyField {
    /// The AWS `FieldName` spelling (also the text spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            ProficiencyField::Name => "name",
            ProficiencyField::Value => "value",
        }
    }
}

/// A numeric test on a proficiency's `Level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberTest {
    /// `level ge 3`: `GREATER_OR_EQUAL`, reads `MinValue`.
    GreaterOrEqual(i32),
    /// `level gt 3`: `GREATER`, reads `MinValue`.
    Greater(i32),
    /// `level le 3`: `LESSER_OR_EQUAL`, reads `MaxValue`.
    LesserOrEqual(i32),
    /// `level lt 3`: `LESSER`, reads `MaxValue`.
    Lesser(i32),
    /// `level eq 3`: `EQUAL`, reads `MinValue`.
    Equal(i32),
    /// `level ne 3`: `NOT_EQUAL`, reads `MinValue`.
    NotEqual(i32),
    /// `level in 2..4`: `RANGE`, inclusive, reads both.
    Range(i32, i32),
}

impl NumberTest {
    /// A `RANGE` test; needs `min <= max`.
    pub fn range(min: i32, max: i32) -> Result<NumberTest, RuleViolation> {
        if min > max {
            return Err(RuleViolation::new(
                "MinValue",
                format!("RANGE needs MinValue <= MaxValue, got {min} > {max}"),
            ));
        }
        Ok(NumberTest::Range(min, max))
    }

    /// True when a proficiency `level` passes the test.
    ///
    /// ```
    /// use rollcall::criteria::NumberTest;
    /// assert!(NumberTest::Range(2, 4).test(4.0));
    /// assert!(!NumberTest::Greater(4).test(4.0));
    /// ```
    pub fn test(self, level: f64) -> bool {
        match self {
            NumberTest::GreaterOrEqual(v) => level >= f64::from(v),
            NumberTest::Greater(v) => level > f64::from(v),
            NumberTest::LesserOrEqual(v) => level <= f64::from(v),
            NumberTest::Lesser(v) => level < f64::from(v),
            NumberTest::Equal(v) => level == f64::from(v),
            NumberTest::NotEqual(v) => level != f64::from(v),
            NumberTest::Range(lo, hi) => f64::from(lo) <= level && level <= f64::from(hi),
        }
    }
}

/// One item of a `proficiency[...]` list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProficiencyCondition {
    /// `name eq "Language"` / `value sw "Span"`: exact case, no length rule.
    String {
        /// Which string of the proficiency.
        field: ProficiencyField,
        /// How it compares.
        op: StringOp,
        /// The value, exactly.
        value: String,
    },
    /// `level ge 3`, `level in 2..4`.
    Level(NumberTest),
}

impl ProficiencyCondition {
    /// A string item; the value must not be empty.
    pub fn string(
        field: ProficiencyField,
        op: StringOp,
        value: impl Into<String>,
    ) -> Result<Self, RuleViolation> {
        let value = non_empty("Value", value)?;
        Ok(ProficiencyCondition::String { field, op, value })
    }
}
