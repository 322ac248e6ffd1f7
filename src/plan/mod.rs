//! The query planner: a [`Filter`] in, a [`Plan`] out.
//!
//! Takes in the criteria tree (from the AWS codec or the text language);
//! gives out a normalised tree whose every leaf names **one index access
//! path** and, where the index alone cannot decide, a **residual check** run
//! on the candidates it yields. The planner knows the index *layout* (the
//! [`IndexField`]s and how values are encoded into terms) but not tantivy:
//! the executor in `crate::directory` turns a plan into tantivy queries.
//!
//! Normalisation: nested `And`/`Or` are flattened, neutral `AndConditions:
//! []` children are dropped from an `And` (and make an `Or` match everything),
//! identical siblings are kept once, and single-child groups collapse.
//!
//! ```
//! use rollcall::criteria::{Filter, StringCondition, StringField, StringOp};
//! let leaf = |v: &str| Filter::String(StringCondition::new(StringField::Username, StringOp::StartsWith, v).unwrap());
//! let q = Filter::And(vec![Filter::all(), Filter::And(vec![leaf("Jo"), leaf("Jo")])]);
//! let plan = rollcall::plan::compile(&q);
//! assert!(plan.explain().contains("INDEX  prefix sk:\"jo\""));
//! ```

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::criteria::{
    Filter, HierarchyMatch, ProficiencyCondition, ProficiencyField, StringCondition, StringField,
    StringOp,
};

/// The indexed fields of a user document (see `crate::directory` for the schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IndexField {
    /// `Id`, exact.
    Id,
    /// `Arn`, exact.
    Arn,
    /// `Username`, exact (duplicate checks).
    Username,
    /// The sort key `escape(fold(Username)) \0\0 Id` ([`sort_key_bytes`]),
    /// indexed and fast: username EXACT and STARTS_WITH are ranges of it.
    SortKey,
    /// `fold(FirstName)`.
    FirstNameFolded,
    /// `fold(LastName)`.
    LastNameFolded,
    /// Bigrams and trigrams of the folded names, tagged `u:`, `f:`, `l:`.
    Grams,
    /// `RoutingProfileId`, exact.
    RoutingProfile,
    /// Each of `SecurityProfileIds`, exact.
    SecurityProfile,
    /// `HierarchyGroupId`, exact.
    Group,
    /// `key \0\0 value` for each tag ([`tag_term`]).
    TagKeyValue,
    /// Each tag key.
    TagKey,
    /// `name \0\0 value \0\0 level` for each proficiency ([`proficiency_term`]).
    Proficiency,
}

impl IndexField {
    /// Every field, in declaration order ([`IndexField::index`] is the
    /// position here).
    pub const ALL: [IndexField; 13] = [
        IndexField::Id,
        IndexField::Arn,
        IndexField::Username,
        IndexField::SortKey,
        IndexField::FirstNameFolded,
        IndexField::LastNameFolded,
        IndexField::Grams,
        IndexField::RoutingProfile,
        IndexField::SecurityProfile,
        IndexField::Group,
        IndexField::TagKeyValue,
        IndexField::TagKey,
        IndexField::Proficiency,
    ];

    /// The field's position in [`IndexField::ALL`].
    ///
    /// ```
    /// use rollcall::plan::IndexField;
    /// assert!(IndexField::ALL.iter().enumerate().all(|(i, f)| f.index() == i));
    /// ```
    pub fn index(self) -> usize {
        self as usize
    }

    /// True for the fields that also have a fast (columnar) copy: a prefix
    /// on them runs as a scan of ordinal ranges of the column instead of a
    /// union of one posting list per distinct term.
    pub fn is_fast(self) -> bool {
        matches!(
            self,
            IndexField::SortKey | IndexField::FirstNameFolded | IndexField::LastNameFolded
        )
    }

    /// The tantivy field name.
    pub fn name(self) -> &'static str {
        match self {
            IndexField::Id => "id",
            IndexField::Arn => "arn",
            IndexField::Username => "uname",
            IndexField::SortKey => "sk",
            IndexField::FirstNameFolded => "first_f",
            IndexField::LastNameFolded => "last_f",
            IndexField::Grams => "grams",
            IndexField::RoutingProfile => "rp",
            IndexField::SecurityProfile => "sp",
            IndexField::Group => "group",
            IndexField::TagKeyValue => "tag_kv",
            IndexField::TagKey => "tag_k",
            IndexField::Proficiency => "prof",
        }
    }
}

/// How a leaf finds its users in the index.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// Every user.
    All,
    /// Users holding `term` in `field`.
    Term {
        /// The field.
        field: IndexField,
        /// The exact term.
        term: String,
    },
    /// Users holding any of several (field, term) pairs.
    AnyTerm(Vec<(IndexField, String)>),
    /// Users holding a term of `field` in the range `[prefix, prefix + 1)`.
    Prefix {
        /// The field.
        field: IndexField,
        /// The prefix.
        prefix: String,
    },
    /// Users holding every one of these [`IndexField::Grams`] terms.
    Grams(Vec<String>),
    /// A scan of the term dictionary of `field` for terms containing
    /// `needle`; users holding any of them (exact: no residual needed).
    DictionaryScan {
        /// The field.
        field: IndexField,
        /// The substring.
        needle: String,
    },
    /// `group` and every group whose `HierarchyPath` names it, expanded
    /// against the instance's current groups when the query runs.
    Subtree {
        /// The group id.
        group: String,
    },
    /// A scan of the proficiency tuples (those under `prefix`) for tuples
    /// that satisfy every item; users holding any of them. One tuple is one
    /// proficiency, so this is exact.
    ProficiencyTuples {
        /// The dictionary range to scan (a name, or a name and a value).
        prefix: String,
        /// The items one proficiency must satisfy.
        items: Vec<ProficiencyCondition>,
    },
}

/// A check run on each candidate after the index access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Residual {
    /// The folded-name field read (a fast field).
    pub field: IndexField,
    /// The comparison ([`StringOp::test`]).
    pub op: StringOp,
    /// The folded needle.
    pub needle: String,
}

/// One leaf of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    /// The condition as the caller wrote it.
    pub source: Filter,
    /// The index access path.
    pub access: Access,
    /// The confirming check, when the access yields only candidates.
    pub residual: Option<Residual>,
}

/// A node of the plan tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// All children must match.
    And(Vec<Node>),
    /// At least one child must match.
    Or(Vec<Node>),
    /// A leaf condition.
    Leaf(Leaf),
}

/// A compiled query: the normalised tree of access paths.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The root node.
    pub root: Node,
}

/// A range `[lo, hi)` of sort keys ([`sort_key_bytes`]); `hi: None` is unbounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    /// Inclusive lower bound.
    pub lo: String,
    /// Exclusive upper bound.
    pub hi: Option<String>,
}

/// The smallest string greater than every string starting with `prefix`,
/// or `None` when there is none (empty prefix, or only `U+10FFFF`).
///
/// ```
/// assert_eq!(rollcall::plan::successor("ab").as_deref(), Some("ac"));
/// assert_eq!(rollcall::plan::successor(""), None);
/// ```
pub fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if next == 0xD800 {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Escapes a term part so that `\0\0` can separate parts and byte order is
/// kept: `\0` becomes `\0\x01`.
///
/// ```
/// assert_eq!(rollcall::plan::escape("a\0b"), "a\0\u{1}b");
/// ```
pub fn escape(s: &str) -> String {
    s.replace('\0', "\0\u{1}")
}

/// The inverse of [`escape`].
pub fn unescape(s: &str) -> String {
    s.replace("\0\u{1}", "\0")
}

/// Joins escaped parts with the `\0\0` separator.
pub fn join_parts(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| escape(p))
        .collect::<Vec<_>>()
        .join("\0\0")
}

/// Splits a term built by [`join_parts`] back into its parts.
///
/// ```
/// let t = rollcall::plan::join_parts(&["a\0", "b"]);
/// assert_eq!(rollcall::plan::split_parts(&t), vec!["a\0".to_string(), "b".to_string()]);
/// ```
pub fn split_parts(term: &str) -> Vec<String> {
    term.split("\0\0").map(unescape).collect()
}

/// The [`IndexField::TagKeyValue`] term of a tag.
pub fn tag_term(key: &str, value: &str) -> String {
    join_parts(&[key, value])
}

/// The [`IndexField::Proficiency`] term of a proficiency: name, value and
/// level (printed so that it reads back as the same `f64`).
pub fn proficiency_term(name: &str, value: &str, level: f64) -> String {
    join_parts(&[name, value, &level.to_string()])
}

/// The sort key of a user as bytes: `escape(fold(username)) \0\0 id`. Byte
/// order of these keys is exactly the order of
/// [`SortKey`](crate::criteria::SortKey).
///
/// ```
/// use rollcall::plan::sort_key_bytes;
/// assert!(sort_key_bytes("ann", "2") < sort_key_bytes("ann\0", "1"));
/// assert!(sort_key_bytes("Ann", "1") < sort_key_bytes("ann", "2"));
/// ```
pub fn sort_key_bytes(folded: &str, id: &str) -> String {
    let mut s = escape(folded);
    s.push_str("\0\0");
    s.push_str(id);
    s
}

/// The tag that marks a name field's grams in [`IndexField::Grams`].
pub fn gram_tag(field: StringField) -> Option<char> {
    match field {
        StringField::Username => Some('u'),
        StringField::FirstName => Some('f'),
        StringField::LastName => Some('l'),
        _ => None,
    }
}

/// The gram terms indexed for a folded name: every 2- and 3-character window.
///
/// ```
/// let g = rollcall::plan::grams('u', "anna");
/// assert_eq!(g, vec!["u:an", "u:nn", "u:na", "u:ann", "u:nna"]);
/// ```
pub fn grams(tag: char, folded: &str) -> Vec<String> {
    let chars: Vec<char> = folded.chars().collect();
    let mut out = Vec::new();
    for n in [2, 3] {
        for w in chars.windows(n) {
            let mut s = String::with_capacity(2 + 4 * n);
            s.push(tag);
            s.push(':');
            s.extend(w);
            out.push(s);
        }
    }
    out
}

/// Compiles a filter into a plan.
pub fn compile(filter: &Filter) -> Plan {
    Plan {
        root: node(&normalise(filter)),
    }
}

/// Flattens nested groups, drops neutral `And([])` children, removes
/// duplicate siblings and collapses single-child groups.
///
/// ```
/// use rollcall::criteria::{Filter, TagCondition};
/// use rollcall::plan::normalise;
/// let t = Filter::Tag(TagCondition::new("Team", None).unwrap());
/// let q = Filter::And(vec![t.clone(), Filter::And(vec![t.clone()])]);
/// assert_eq!(normalise(&q), t);
/// assert_eq!(normalise(&Filter::or(vec![t, Filter::all()]).unwrap()), Filter::all());
/// ```
pub fn normalise(filter: &Filter) -> Filter {
    match filter {
        Filter::And(children) => {
            let mut out = Vec::new();
            for c in children.iter().map(normalise) {
                match c {
                    Filter::And(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            Filter::and(dedupe(out))
        }
        Filter::Or(children) => {
            let mut out = Vec::new();
            for c in children.iter().map(normalise) {
                match c {
                    Filter::And(inner) if inner.is_empty() => return Filter::all(),
                    Filter::Or(inner) => out.extend(inner.into_vec()),
                    other => out.push(other),
                }
            }
            // Alternatives are never empty, so neither is what they become.
            Filter::or(dedupe(out))
                .unwrap_or_else(|_| unreachable!("an Or of alternatives has alternatives"))
        }
        leaf => leaf.clone(),
    }
}

fn dedupe(items: Vec<Filter>) -> Vec<Filter> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|f| seen.insert(f.clone()))
        .collect()
}

fn node(filter: &Filter) -> Node {
    match filter {
        Filter::And(children) if children.is_empty() => Node::Leaf(Leaf {
            source: filter.clone(),
            access: Access::All,
            residual: None,
        }),
        Filter::And(children) => Node::And(children.iter().map(node).collect()),
        Filter::Or(children) => Node::Or(children.iter().map(node).collect()),
        leaf => Node::Leaf(leaf_plan(leaf)),
    }
}

fn leaf_plan(filter: &Filter) -> Leaf {
    let (access, residual) = match filter {
        Filter::String(s) => string_access(s),
        Filter::Hierarchy(h) => match h.mode() {
            HierarchyMatch::Exact => (
                Access::Term {
                    field: IndexField::Group,
                    term: h.group().to_string(),
                },
                None,
            ),
            HierarchyMatch::WithChildGroups => (
                Access::Subtree {
                    group: h.group().to_string(),
                },
                None,
            ),
        },
        Filter::Tag(t) => match t.value() {
            Some(v) => (
                Access::Term {
                    field: IndexField::TagKeyValue,
                    term: tag_term(t.key(), v),
                },
                None,
            ),
            None => (
                Access::Term {
                    field: IndexField::TagKey,
                    term: t.key().to_string(),
                },
                None,
            ),
        },
        Filter::Proficiency(items) => (
            Access::ProficiencyTuples {
                prefix: proficiency_prefix(items),
                items: items.clone(),
            },
            None,
        ),
        Filter::And(_) | Filter::Or(_) => (Access::All, None),
    };
    Leaf {
        source: filter.clone(),
        access,
        residual,
    }
}

fn exact_item(items: &[ProficiencyCondition], want: ProficiencyField) -> Option<&str> {
    items.iter().find_map(|i| match i {
        ProficiencyCondition::String(s) if s.op() == StringOp::Exact && s.field() == want => {
            Some(s.value())
        }
        _ => None,
    })
}

/// The narrowest dictionary range of proficiency tuples the items allow.
fn proficiency_prefix(items: &[ProficiencyCondition]) -> String {
    match (
        exact_item(items, ProficiencyField::Name),
        exact_item(items, ProficiencyField::Value),
    ) {
        (Some(n), Some(v)) => format!("{}\0\0", join_parts(&[n, v])),
        (Some(n), None) => format!("{}\0\0", escape(n)),
        _ => String::new(),
    }
}

fn string_access(s: &StringCondition) -> (Access, Option<Residual>) {
    let (field, op, needle) = (s.field(), s.op(), s.needle().to_string());
    let index_field = match field {
        StringField::Username => IndexField::SortKey,
        StringField::FirstName => IndexField::FirstNameFolded,
        StringField::LastName => IndexField::LastNameFolded,
        StringField::RoutingProfileId => IndexField::RoutingProfile,
        StringField::SecurityProfileId => IndexField::SecurityProfile,
        StringField::ResourceId => IndexField::Id,
    };
    match (op, gram_tag(field)) {
        (StringOp::Exact | StringOp::StartsWith, _) if field == StringField::Username => {
            let mut prefix = escape(&needle);
            if op == StringOp::Exact {
                prefix.push_str("\0\0");
            }
            (
                Access::Prefix {
                    field: IndexField::SortKey,
                    prefix,
                },
                None,
            )
        }
        (StringOp::Exact, _) if field == StringField::ResourceId => (
            Access::AnyTerm(vec![
                (IndexField::Id, needle.clone()),
                (IndexField::Arn, needle),
            ]),
            None,
        ),
        (StringOp::Exact, _) => (
            Access::Term {
                field: index_field,
                term: needle,
            },
            None,
        ),
        (StringOp::StartsWith, _) => (
            Access::Prefix {
                field: index_field,
                prefix: needle,
            },
            None,
        ),
        (StringOp::Contains, Some(tag)) => {
            let n = needle.chars().count();
            if n <= 3 {
                // A 2- or 3-character needle is itself an indexed gram: exact.
                (Access::Grams(vec![format!("{tag}:{needle}")]), None)
            } else {
                let mut terms = grams(tag, &needle);
                terms.retain(|g| g.chars().count() == 5);
                let mut seen = HashSet::new();
                terms.retain(|g| seen.insert(g.clone()));
                (
                    Access::Grams(terms),
                    Some(Residual {
                        field: index_field,
                        op: StringOp::Contains,
                        needle,
                    }),
                )
            }
        }
        (StringOp::Contains, None) => (
            Access::DictionaryScan {
                field: index_field,
                needle,
            },
            None,
        ),
    }
}

impl Access {
    /// One line describing the access path.
    pub fn describe(&self) -> String {
        match self {
            Access::All => "all users".to_string(),
            Access::Term { field, term } => format!("term {}:{}", field.name(), show(term)),
            Access::AnyTerm(terms) => {
                let parts: Vec<String> = terms
                    .iter()
                    .map(|(f, t)| format!("{}:{}", f.name(), show(t)))
                    .collect();
                format!("any term {}", parts.join(" | "))
            }
            Access::Prefix { field, prefix } if field.is_fast() => {
                format!(
                    "prefix {}:{} (fast-field ordinal range)",
                    field.name(),
                    show(prefix)
                )
            }
            Access::Prefix { field, prefix } => {
                format!("prefix {}:{}", field.name(), show(prefix))
            }
            Access::Grams(g) => {
                let parts: Vec<String> = g.iter().map(|t| show(t)).collect();
                format!("grams {}", parts.join(" & "))
            }
            Access::DictionaryScan { field, needle } => {
                format!(
                    "dictionary scan {} terms containing {}",
                    field.name(),
                    show(needle)
                )
            }
            Access::Subtree { group } => format!("subtree of group {}", show(group)),
            Access::ProficiencyTuples { prefix, items } => format!(
                "proficiency tuples{} satisfying all {} item(s)",
                if prefix.is_empty() {
                    String::new()
                } else {
                    format!(" under {}", show(&split_parts(prefix).join("/")))
                },
                items.len()
            ),
        }
    }
}

fn show(s: &str) -> String {
    format!("{s:?}")
}

impl Residual {
    /// One line describing the check.
    pub fn describe(&self) -> String {
        format!(
            "{} {} {}",
            self.field.name(),
            self.op.keyword(),
            show(&self.needle)
        )
    }
}

impl Plan {
    /// Set when the whole query is one range of the sort key (everything,
    /// or a username `EXACT` / `STARTS_WITH`): the executor then reads the
    /// page straight from the sorted key dictionary and the count from its
    /// ordinals, without visiting the other matches.
    pub fn walk(&self) -> Option<KeyRange> {
        let Node::Leaf(leaf) = &self.root else {
            return None;
        };
        if leaf.residual.is_some() {
            return None;
        }
        match &leaf.access {
            Access::All => Some(KeyRange {
                lo: String::new(),
                hi: None,
            }),
            Access::Prefix {
                field: IndexField::SortKey,
                prefix,
            } => Some(KeyRange {
                lo: prefix.clone(),
                hi: successor(prefix),
            }),
            _ => None,
        }
    }

    /// The nodes in pre-order; the executor reports counts by this index.
    pub fn nodes(&self) -> Vec<&Node> {
        fn walk<'a>(n: &'a Node, out: &mut Vec<&'a Node>) {
            out.push(n);
            if let Node::And(c) | Node::Or(c) = n {
                for child in c {
                    walk(child, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out
    }

    /// The plan tree, one node a line, without counts.
    pub fn explain(&self) -> String {
        self.render(|_| String::new())
    }

    /// The plan tree with a note after each node (`note(i)` for the node
    /// with pre-order index `i`, e.g. estimated and actual counts).
    pub fn render(&self, note: impl Fn(usize) -> String) -> String {
        fn walk(
            n: &Node,
            depth: usize,
            next: &mut usize,
            note: &dyn Fn(usize) -> String,
            out: &mut String,
        ) {
            let i = *next;
            *next += 1;
            let indent = "  ".repeat(depth);
            let extra = note(i);
            let extra = if extra.is_empty() {
                String::new()
            } else {
                format!("  [{extra}]")
            };
            match n {
                Node::And(c) | Node::Or(c) => {
                    let word = if matches!(n, Node::And(_)) {
                        "AND"
                    } else {
                        "OR"
                    };
                    let _ = writeln!(out, "{indent}{word}{extra}");
                    for child in c {
                        walk(child, depth + 1, next, note, out);
                    }
                }
                Node::Leaf(leaf) => {
                    let _ = writeln!(
                        out,
                        "{indent}INDEX  {}  <- {}{extra}",
                        leaf.access.describe(),
                        leaf.source
                    );
                    if let Some(r) = &leaf.residual {
                        let _ = writeln!(out, "{indent}  RESIDUAL  {}", r.describe());
                    }
                }
            }
        }
        let mut out = String::new();
        if let Some(k) = self.walk() {
            let _ = writeln!(
                out,
                "ORDERED WALK  sort keys in [{}, {}): page and count from the key dictionary",
                show(&k.lo),
                k.hi.as_deref().map_or("end".to_string(), show)
            );
        }
        let mut next = 0;
        walk(&self.root, 0, &mut next, &note, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::criteria::{StringCondition, TagCondition};

    fn s(field: StringField, op: StringOp, v: &str) -> Filter {
        Filter::String(StringCondition::new(field, op, v).unwrap())
    }

    #[test]
    fn nested_groups_flatten_and_neutral_and_drops() {
        let a = s(StringField::Username, StringOp::Exact, "a");
        let b = s(StringField::FirstName, StringOp::Exact, "b");
        let q = Filter::And(vec![
            a.clone(),
            Filter::all(),
            Filter::And(vec![b.clone(), a.clone()]),
        ]);
        assert_eq!(normalise(&q), Filter::And(vec![a, b]));
    }

    #[test]
    fn contains_routes_by_folded_length() {
        // "ßa" is two characters as given and three once folded.
        let p = compile(&s(StringField::FirstName, StringOp::Contains, "ßa"));
        let Node::Leaf(l) = p.root else { panic!() };
        assert_eq!(l.access, Access::Grams(vec!["f:ssa".into()]));
        assert!(l.residual.is_none());
        let p = compile(&s(StringField::LastName, StringOp::Contains, "Garcí"));
        let Node::Leaf(l) = p.root else { panic!() };
        assert_eq!(
            l.access,
            Access::Grams(vec!["l:gar".into(), "l:arc".into(), "l:rcí".into()])
        );
        assert!(l.residual.is_some());
    }

    #[test]
    fn ids_compare_exactly_and_contains_scans_the_dictionary() {
        let p = compile(&s(StringField::RoutingProfileId, StringOp::Contains, "P"));
        let Node::Leaf(l) = p.root else { panic!() };
        assert_eq!(
            l.access,
            Access::DictionaryScan {
                field: IndexField::RoutingProfile,
                needle: "P".into()
            }
        );
    }

    #[test]
    fn explain_names_index_and_residual_parts() {
        let q = Filter::or(vec![
            s(StringField::Username, StringOp::Contains, "anna"),
            Filter::Tag(TagCondition::new("Team", Some("blue".into())).unwrap()),
        ])
        .unwrap();
        let text = compile(&q).explain();
        assert!(text.starts_with("OR\n"), "{text}");
        assert!(text.contains("RESIDUAL  sk co \"anna\""), "{text}");
        assert!(text.contains("term tag_kv:"), "{text}");
    }
}
