//! The reference evaluator: plain, obviously correct Rust that answers a
//! [`Search`] over an in-memory [`Directory`] by testing every user.
//!
//! It is the oracle the index engine, the text language and the AWS codec are
//! checked against, and a library user can run it on small data. Each rule of
//! docs/semantics.md §2 is one `match` arm below.

use super::paging::{decode_token, encode_token, SortKey};
use super::wire::{Search, SearchUsersResponse, UserSearchSummary};
use super::{
    fold, Filter, HierarchyCondition, HierarchyMatch, ProficiencyCondition, ProficiencyField,
    StringCondition, StringField, StringOp, TagCondition,
};
use crate::records::{Directory, Groups, Proficiency, User};
use crate::AwsError;

/// True when `user` satisfies `filter`.
///
/// ```
/// use rollcall::criteria::eval::matches;
/// use rollcall::records::{Groups, User};
/// let user: User = serde_json::from_value(serde_json::json!({
///     "Id": "u1", "Username": "Straße", "Tags": {"Team": "blue"}
/// })).unwrap();
/// let q = rollcall::syntax::parse(r#"username eq "STRASSE" and tag.Team"#).unwrap();
/// assert!(matches(&q, &user, &Groups::default()));
/// ```
pub fn matches(filter: &Filter, user: &User, groups: &Groups) -> bool {
    matches_folded(filter, user, &Folded::of(user), groups)
}

/// A user's caseless fields (Username, FirstName, LastName) case-folded
/// with [`fold`]: what every string test on them compares. A store that
/// tests the same user against many searches folds it once.
///
/// ```
/// use rollcall::criteria::eval::Folded;
/// use rollcall::records::User;
/// let user: User = serde_json::from_value(serde_json::json!({
///     "Id": "u1", "Username": "Straße", "IdentityInfo": {"FirstName": "ANN"}
/// })).unwrap();
/// let f = Folded::of(&user);
/// assert_eq!((f.username.as_str(), f.first_name.as_deref(), f.last_name.as_deref()),
///            ("strasse", Some("ann"), None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    /// `fold(Username)`.
    pub username: String,
    /// `fold(FirstName)`, when the user has one.
    pub first_name: Option<String>,
    /// `fold(LastName)`, when the user has one.
    pub last_name: Option<String>,
}

impl Folded {
    /// Folds the caseless fields of `user`.
    pub fn of(user: &User) -> Folded {
        Folded {
            username: fold(&user.username),
            first_name: user.first_name().map(fold),
            last_name: user.last_name().map(fold),
        }
    }

    /// The folded value of a caseless field (`None` for one the user lacks
    /// and for a field that does not fold).
    pub fn get(&self, field: StringField) -> Option<&str> {
        match field {
            StringField::Username => Some(&self.username),
            StringField::FirstName => self.first_name.as_deref(),
            StringField::LastName => self.last_name.as_deref(),
            _ => None,
        }
    }
}

/// [`matches()`] with the user's caseless fields already folded (`folded`
/// must be [`Folded::of`] `user`).
///
/// ```
/// use rollcall::criteria::eval::{matches_folded, Folded};
/// use rollcall::records::{Groups, User};
/// let user: User = serde_json::from_value(serde_json::json!({"Id": "u1", "Username": "Jo"})).unwrap();
/// let q = rollcall::syntax::parse(r#"username sw "J""#).unwrap();
/// assert!(matches_folded(&q, &user, &Folded::of(&user), &Groups::default()));
/// ```
pub fn matches_folded(filter: &Filter, user: &User, folded: &Folded, groups: &Groups) -> bool {
    match filter {
        Filter::And(children) => children
            .iter()
            .all(|c| matches_folded(c, user, folded, groups)),
        Filter::Or(children) => children
            .iter()
            .any(|c| matches_folded(c, user, folded, groups)),
        Filter::String(s) => string_matches(s, user, folded),
        Filter::Hierarchy(h) => hierarchy_matches(h, user, groups),
        Filter::Tag(t) => tag_matches(t, user),
        Filter::Proficiency(items) => user
            .proficiencies
            .iter()
            .flatten()
            .any(|p| items.iter().all(|item| proficiency_matches(item, p))),
    }
}

/// The values of a user field (several for `securityProfileId`, none when absent).
pub fn field_values(user: &User, field: StringField) -> Vec<&str> {
    match field {
        StringField::Username => vec![user.username.as_str()],
        StringField::FirstName => user.first_name().into_iter().collect(),
        StringField::LastName => user.last_name().into_iter().collect(),
        StringField::RoutingProfileId => user.routing_profile_id.as_deref().into_iter().collect(),
        StringField::SecurityProfileId => user
            .security_profile_ids
            .iter()
            .flatten()
            .map(String::as_str)
            .collect(),
        StringField::ResourceId => vec![user.id.as_str()],
    }
}

fn string_matches(s: &StringCondition, user: &User, folded: &Folded) -> bool {
    let (op, needle) = (s.op(), s.needle());
    if s.field().is_caseless() {
        return folded.get(s.field()).is_some_and(|v| op.test(v, needle));
    }
    if s.field() == StringField::ResourceId && op == StringOp::Exact {
        // An exact resource id names the user by Id or by ARN.
        return user.id == needle || user.arn.as_deref() == Some(needle);
    }
    field_values(user, s.field())
        .iter()
        .any(|v| op.test(v, needle))
}

fn hierarchy_matches(h: &HierarchyCondition, user: &User, groups: &Groups) -> bool {
    let Some(group) = user.hierarchy_group_id.as_deref() else {
        return false;
    };
    match h.mode() {
        HierarchyMatch::Exact => group == h.group(),
        HierarchyMatch::WithChildGroups => groups.is_under(group, h.group()),
    }
}

fn tag_matches(t: &TagCondition, user: &User) -> bool {
    match user.tags.as_ref().and_then(|tags| tags.get(t.key())) {
        None => false,
        Some(v) => t.value().is_none_or(|want| want == v),
    }
}

/// True when one proficiency passes one item of a `proficiency[...]` list
/// (the index engine tests its proficiency tuples with this).
pub fn proficiency_matches(item: &ProficiencyCondition, p: &Proficiency) -> bool {
    match item {
        ProficiencyCondition::String(s) => {
            let (field, op, value) = (&s.field(), &s.op(), s.value());
            let have = match field {
                ProficiencyField::Name => &p.attribute_name,
                ProficiencyField::Value => &p.attribute_value,
            };
            op.test(have, value)
        }
        ProficiencyCondition::Level(t) => t.test(p.level),
    }
}

/// Answers a search by scanning every user: the matches in (folded
/// username, id) order, one page of them, the exact total and the token
/// for the next page.
///
/// ```
/// use rollcall::criteria::{eval::search, wire::Search};
/// use rollcall::records::Directory;
/// let users = "{\"Id\":\"2\",\"Username\":\"bob\"}\n{\"Id\":\"1\",\"Username\":\"Ann\"}\n";
/// let dir = Directory::load(users.as_bytes(), None::<&[u8]>).unwrap();
/// let mut s = Search::new(rollcall::syntax::parse("*").unwrap());
/// s.max_results = 1;
/// let page = search(&dir, &s).unwrap();
/// assert_eq!(page.users[0].username.as_deref(), Some("Ann"));
/// assert_eq!(page.approximate_total_count, 2);
/// assert!(page.next_token.is_some());
/// ```
pub fn search(dir: &Directory, search: &Search) -> Result<SearchUsersResponse, AwsError> {
    let after = match &search.next_token {
        Some(t) => Some(decode_token(&search.filter, t)?),
        None => None,
    };
    let mut hits: Vec<(SortKey, &User)> = dir
        .users()
        .filter(|u| matches(&search.filter, u, &dir.groups))
        .map(|u| (SortKey::new(&u.username, &u.id), u))
        .collect();
    hits.sort_by(|a, b| a.0.cmp(&b.0));
    let total = hits.len() as u64;
    let rest: Vec<&(SortKey, &User)> = hits
        .iter()
        .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
        .collect();
    let page: Vec<&(SortKey, &User)> = rest
        .iter()
        .take(search.max_results as usize)
        .copied()
        .collect();
    let next_token = match page.last() {
        Some((last, _)) if rest.len() > page.len() => Some(encode_token(&search.filter, last)),
        _ => None,
    };
    Ok(SearchUsersResponse {
        users: page
            .iter()
            .map(|(_, u)| UserSearchSummary::from(*u))
            .collect(),
        next_token,
        approximate_total_count: total,
    })
}

#[cfg(test)]
mod tests {
    //! `proficiency_matches` is the one test of a proficiency against a
    //! list item, used by this evaluator *and* by the index engine's tuple
    //! scan, so the engine-vs-evaluator property tests cannot catch a bug
    //! in it. It is checked here against a brute-force table written from
    //! the AWS definitions alone.

    use super::*;
    use crate::criteria::{NumberOp, NumberTest};

    fn proficiency(name: &str, value: &str, level: f64) -> Proficiency {
        Proficiency {
            attribute_name: name.into(),
            attribute_value: value.into(),
            level,
        }
    }

    /// Every string of `a` and `b` up to `n` characters.
    fn words(n: usize) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..n {
            last = last
                .iter()
                .flat_map(|w| [format!("{w}a"), format!("{w}b")])
                .collect();
            out.extend(last.iter().cloned());
        }
        out
    }

    /// The AWS string comparisons, by character positions.
    fn expected_string(op: &str, have: &str, needle: &str) -> bool {
        let (h, n): (Vec<char>, Vec<char>) = (have.chars().collect(), needle.chars().collect());
        let at = |i: usize| i + n.len() <= h.len() && (0..n.len()).all(|j| h[i + j] == n[j]);
        match op {
            "EXACT" => h.len() == n.len() && at(0),
            "STARTS_WITH" => at(0),
            "CONTAINS" => (0..=h.len()).any(at),
            other => panic!("no comparison {other}"),
        }
    }

    #[test]
    fn string_items_match_the_brute_force_table() {
        let ops = [StringOp::Exact, StringOp::StartsWith, StringOp::Contains];
        for have in words(3) {
            for needle in words(2).into_iter().filter(|w| !w.is_empty()) {
                for op in ops {
                    let want = expected_string(op.aws_name(), &have, &needle);
                    let name =
                        ProficiencyCondition::string(ProficiencyField::Name, op, &*needle).unwrap();
                    let value = ProficiencyCondition::string(ProficiencyField::Value, op, &*needle)
                        .unwrap();
                    let on_name = proficiency(&have, "-", 3.0);
                    let on_value = proficiency("-", &have, 3.0);
                    assert_eq!(
                        proficiency_matches(&name, &on_name),
                        want,
                        "{op:?} {have} {needle}"
                    );
                    assert_eq!(
                        proficiency_matches(&value, &on_value),
                        want,
                        "{op:?} {have} {needle}"
                    );
                    assert!(!proficiency_matches(&name, &on_value) || needle == "-");
                }
            }
        }
    }

    #[test]
    fn level_items_match_the_brute_force_table() {
        let levels: Vec<f64> = (0..=12).map(|i| f64::from(i) / 2.0).collect();
        for min in 0..=6 {
            for max in 0..=6 {
                for &level in &levels {
                    let (lo, hi) = (f64::from(min), f64::from(max));
                    let table = [
                        ("GREATER_OR_EQUAL", level >= lo),
                        ("GREATER", level > lo),
                        ("LESSER_OR_EQUAL", level <= hi),
                        ("LESSER", level < hi),
                        ("EQUAL", level == lo),
                        ("NOT_EQUAL", level != lo),
                        ("RANGE", lo <= level && level <= hi),
                    ];
                    for (name, want) in table {
                        let op = NumberOp::from_aws_name(name).unwrap();
                        let test = match op {
                            NumberOp::Range if min > max => continue,
                            NumberOp::Range => NumberTest::range(min, max),
                            op if op.reads_max() => NumberTest::compare(op, max),
                            op => NumberTest::compare(op, min),
                        }
                        .unwrap();
                        let item = ProficiencyCondition::Level(test);
                        let got = proficiency_matches(&item, &proficiency("n", "v", level));
                        assert_eq!(got, want, "{name} min {min} max {max} level {level}");
                    }
                }
            }
        }
    }
}
