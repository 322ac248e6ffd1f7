//! The criteria model: one typed tree for everything `SearchUsers` can ask.
//!
//! Takes in nothing by itself: the AWS JSON codec ([`wire`]) and the text
//! language (`crate::syntax`) both lower their input into a [`Filter`], and
//! every rule of docs/semantics.md §2 that concerns a single condition lives here,
//! in the smart constructors ([`StringCondition::new`], [`NumberTest`] ...),
//! so that both front ends enforce it the same way. Gives out the tree that
//! the reference evaluator ([`eval`]) and the planner run.
//!
//! The tree keeps the structure the caller wrote: `(a and b) and c` is an
//! `And` inside an `And`. Singleton groups are collapsed by the front ends
//! (an `OrConditions` list of one is that one condition), so the text
//! language can print every tree and read it back unchanged.

pub mod eval;
pub mod groups;
pub(crate) mod paging;
mod print;
pub mod wire;

pub use paging::SortKey;
pub(crate) use print::is_word_byte;

use std::fmt;

/// The deepest nesting of criteria a request may hold (docs/semantics.md §2).
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
/// `And(vec![])` matches every user (text: `*`). An `Or` always has at
/// least one alternative ([`Alternatives`] can only be built non-empty), so
/// every tree prints as text that parses back. Build groups with
/// [`Filter::and`] and [`Filter::or`], which also collapse a single part.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Filter {
    /// `a and b and c`; `AndConditions` in AWS. Empty: `*`, every user.
    And(Vec<Filter>),
    /// `a or b or c`; `OrConditions` in AWS. Never empty.
    Or(Alternatives),
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

/// The alternatives of an [`Filter::Or`]: at least one (the only
/// constructor, [`Filter::or`], refuses none). Reads as a slice.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Alternatives(Vec<Filter>);

impl std::ops::Deref for Alternatives {
    type Target = [Filter];

    fn deref(&self) -> &[Filter] {
        &self.0
    }
}

impl Alternatives {
    /// The alternatives, owned.
    pub fn into_vec(self) -> Vec<Filter> {
        self.0
    }
}

impl Filter {
    /// The filter that matches every user (`*`, `AndConditions: []`).
    pub fn all() -> Filter {
        Filter::And(Vec::new())
    }

    /// The AND of `parts`; a single part stands for itself (never a
    /// one-child group), none is [`Filter::all`].
    ///
    /// ```
    /// use rollcall::criteria::{Filter, TagCondition};
    /// let t = Filter::Tag(TagCondition::new("Team", None).unwrap());
    /// assert_eq!(Filter::and(vec![t.clone()]), t);
    /// assert_eq!(Filter::and(vec![]), Filter::all());
    /// ```
    pub fn and(mut parts: Vec<Filter>) -> Filter {
        match parts.len() {
            1 => parts.pop().unwrap_or_else(Filter::all),
            _ => Filter::And(parts),
        }
    }

    /// The OR of `parts`; a single part stands for itself; none is a rule
    /// violation (an empty `OrConditions` matches no one and AWS refuses it).
    ///
    /// ```
    /// use rollcall::criteria::{Filter, TagCondition};
    /// let t = Filter::Tag(TagCondition::new("Team", None).unwrap());
    /// assert_eq!(Filter::or(vec![t.clone()]).unwrap(), t);
    /// assert!(Filter::or(vec![]).is_err());
    /// ```
    pub fn or(mut parts: Vec<Filter>) -> Result<Filter, RuleViolation> {
        match parts.len() {
            0 => Err(RuleViolation::new(
                "OrConditions",
                "must not be empty (an empty OR matches no user)",
            )),
            1 => Ok(parts.pop().unwrap_or_else(Filter::all)),
            _ => Ok(Filter::Or(Alternatives(parts))),
        }
    }

    /// The groups' children; empty for a leaf.
    pub fn children(&self) -> &[Filter] {
        match self {
            Filter::And(c) => c,
            Filter::Or(c) => c,
            _ => &[],
        }
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
            Filter::And(_) | Filter::Or(_) => {
                1 + self.children().iter().map(Filter::depth).max().unwrap_or(0)
            }
            _ => 1,
        }
    }

    /// Number of leaf conditions (a proficiency list counts as one).
    pub fn leaves(&self) -> usize {
        match self {
            Filter::And(_) | Filter::Or(_) => self.children().iter().map(Filter::leaves).sum(),
            _ => 1,
        }
    }

    /// Checks the leaf-count limit of docs/semantics.md §2 (at most 100 leaf
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
            Filter::And(_) | Filter::Or(_) => self.children().iter().any(Filter::has_tag),
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
    /// `value` as compared: case-folded on a caseless field, folded once
    /// here instead of once per user tested.
    needle: String,
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

/// The one rule that a compared value is never empty (docs/semantics.md §2).
fn non_empty(part: &'static str, value: impl Into<String>) -> Result<String, RuleViolation> {
    let value = value.into();
    if value.is_empty() {
        return Err(RuleViolation::new(part, "must not be empty"));
    }
    Ok(value)
}

impl StringCondition {
    /// Builds a string condition, enforcing docs/semantics.md §2: the value is not
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
        let needle = if field.is_caseless() {
            fold(&value)
        } else {
            value.clone()
        };
        Ok(StringCondition {
            field,
            op,
            value,
            needle,
        })
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
    /// The value as users' fields are compared with it: case-folded
    /// ([`fold`]) when the field is caseless, else as given.
    ///
    /// ```
    /// use rollcall::criteria::{StringCondition, StringField, StringOp};
    /// let c = StringCondition::new(StringField::Username, StringOp::Exact, "STRASSE").unwrap();
    /// assert_eq!(c.needle(), rollcall::criteria::fold("straße"));
    /// ```
    pub fn needle(&self) -> &str {
        &self.needle
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

/// How a numeric test on a proficiency's `Level` compares: the one place
/// for its AWS `ComparisonType` and its text keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NumberOp {
    /// `level ge 3`: `GREATER_OR_EQUAL`, reads `MinValue`.
    GreaterOrEqual,
    /// `level gt 3`: `GREATER`, reads `MinValue`.
    Greater,
    /// `level le 3`: `LESSER_OR_EQUAL`, reads `MaxValue`.
    LesserOrEqual,
    /// `level lt 3`: `LESSER`, reads `MaxValue`.
    Lesser,
    /// `level eq 3`: `EQUAL`, reads `MinValue`.
    Equal,
    /// `level ne 3`: `NOT_EQUAL`, reads `MinValue`.
    NotEqual,
    /// `level in 2..4`: `RANGE`, inclusive, reads both.
    Range,
}

impl NumberOp {
    /// Every comparison, in the order AWS lists them.
    pub const ALL: [NumberOp; 7] = [
        NumberOp::GreaterOrEqual,
        NumberOp::Greater,
        NumberOp::LesserOrEqual,
        NumberOp::Lesser,
        NumberOp::Equal,
        NumberOp::NotEqual,
        NumberOp::Range,
    ];

    /// The AWS `ComparisonType` spelling.
    ///
    /// ```
    /// use rollcall::criteria::NumberOp;
    /// assert_eq!(NumberOp::LesserOrEqual.aws_name(), "LESSER_OR_EQUAL");
    /// assert_eq!(NumberOp::from_aws_name("RANGE"), Some(NumberOp::Range));
    /// ```
    pub fn aws_name(self) -> &'static str {
        match self {
            NumberOp::GreaterOrEqual => "GREATER_OR_EQUAL",
            NumberOp::Greater => "GREATER",
            NumberOp::LesserOrEqual => "LESSER_OR_EQUAL",
            NumberOp::Lesser => "LESSER",
            NumberOp::Equal => "EQUAL",
            NumberOp::NotEqual => "NOT_EQUAL",
            NumberOp::Range => "RANGE",
        }
    }

    /// The text-language keyword (`level ge 3`, `level in 2..4`).
    pub fn keyword(self) -> &'static str {
        match self {
            NumberOp::GreaterOrEqual => "ge",
            NumberOp::Greater => "gt",
            NumberOp::LesserOrEqual => "le",
            NumberOp::Lesser => "lt",
            NumberOp::Equal => "eq",
            NumberOp::NotEqual => "ne",
            NumberOp::Range => "in",
        }
    }

    /// The comparison an AWS `ComparisonType` names (exact spelling).
    pub fn from_aws_name(name: &str) -> Option<NumberOp> {
        NumberOp::ALL.into_iter().find(|op| op.aws_name() == name)
    }

    /// True when AWS reads the bound from `MaxValue` (`LESSER*`); the
    /// others read `MinValue` (and `RANGE` both).
    pub fn reads_max(self) -> bool {
        matches!(self, NumberOp::LesserOrEqual | NumberOp::Lesser)
    }
}

impl fmt::Display for NumberOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// A numeric test on a proficiency's `Level`: a comparison with one bound,
/// or an inclusive range whose `min <= max` (the constructors enforce it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NumberTest {
    op: NumberOp,
    /// The bound; the lower one of a range.
    min: i32,
    /// The upper bound of a range; `min` otherwise.
    max: i32,
}

impl NumberTest {
    /// A one-bound test (`level ge 3`); `RANGE` needs [`NumberTest::range`].
    ///
    /// ```
    /// use rollcall::criteria::{NumberOp, NumberTest};
    /// assert!(NumberTest::compare(NumberOp::Greater, 3).unwrap().test(4.0));
    /// assert!(NumberTest::compare(NumberOp::Range, 3).is_err());
    /// ```
    pub fn compare(op: NumberOp, value: i32) -> Result<NumberTest, RuleViolation> {
        if op == NumberOp::Range {
            return Err(RuleViolation::new(
                "MaxValue",
                "RANGE needs both MinValue and MaxValue",
            ));
        }
        Ok(NumberTest {
            op,
            min: value,
            max: value,
        })
    }

    /// A `RANGE` test; needs `min <= max`.
    ///
    /// ```
    /// use rollcall::criteria::NumberTest;
    /// assert!(NumberTest::range(2, 4).unwrap().test(4.0));
    /// assert!(NumberTest::range(4, 2).is_err());
    /// ```
    pub fn range(min: i32, max: i32) -> Result<NumberTest, RuleViolation> {
        if min > max {
            return Err(RuleViolation::new(
                "MinValue",
                format!("RANGE needs MinValue <= MaxValue, got {min} > {max}"),
            ));
        }
        Ok(NumberTest {
            op: NumberOp::Range,
            min,
            max,
        })
    }

    /// The comparison.
    pub fn op(&self) -> NumberOp {
        self.op
    }

    /// The bounds: `(lo, hi)` of a range, `(v, v)` of a one-bound test.
    pub fn bounds(&self) -> (i32, i32) {
        (self.min, self.max)
    }

    /// The `MinValue` and `MaxValue` AWS reads for this test.
    pub fn aws_values(&self) -> (Option<i32>, Option<i32>) {
        match self.op {
            NumberOp::Range => (Some(self.min), Some(self.max)),
            op if op.reads_max() => (None, Some(self.max)),
            _ => (Some(self.min), None),
        }
    }

    /// True when a proficiency `level` passes the test.
    ///
    /// ```
    /// use rollcall::criteria::{NumberOp, NumberTest};
    /// assert!(NumberTest::range(2, 4).unwrap().test(4.0));
    /// assert!(!NumberTest::compare(NumberOp::Greater, 4).unwrap().test(4.0));
    /// ```
    pub fn test(self, level: f64) -> bool {
        let (lo, hi) = (f64::from(self.min), f64::from(self.max));
        match self.op {
            NumberOp::GreaterOrEqual => level >= lo,
            NumberOp::Greater => level > lo,
            NumberOp::LesserOrEqual => level <= hi,
            NumberOp::Lesser => level < hi,
            NumberOp::Equal => level == lo,
            NumberOp::NotEqual => level != lo,
            NumberOp::Range => lo <= level && level <= hi,
        }
    }
}

/// One item of a `proficiency[...]` list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProficiencyCondition {
    /// `name eq "Language"` / `value sw "Span"`: exact case, no length rule.
    String(ProficiencyString),
    /// `level ge 3`, `level in 2..4`.
    Level(NumberTest),
}

/// `name eq "Language"`: a string test on a proficiency, with a value that
/// is never empty (the constructor enforces it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProficiencyString {
    field: ProficiencyField,
    op: StringOp,
    value: String,
}

impl ProficiencyString {
    /// Which string of the proficiency.
    pub fn field(&self) -> ProficiencyField {
        self.field
    }
    /// How it compares.
    pub fn op(&self) -> StringOp {
        self.op
    }
    /// The value, exactly.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl ProficiencyCondition {
    /// A string item; the value must not be empty.
    ///
    /// ```
    /// use rollcall::criteria::{ProficiencyCondition, ProficiencyField, StringOp};
    /// assert!(ProficiencyCondition::string(ProficiencyField::Name, StringOp::Exact, "").is_err());
    /// ```
    pub fn string(
        field: ProficiencyField,
        op: StringOp,
        value: impl Into<String>,
    ) -> Result<Self, RuleViolation> {
        let value = non_empty("Value", value)?;
        Ok(ProficiencyCondition::String(ProficiencyString {
            field,
            op,
            value,
        }))
    }
}
