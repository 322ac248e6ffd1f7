//! proptest strategies for the directory engine: small random directories
//! (from `rollcall::gen`, with case variants, non-ASCII names, missing
//! fields and unknown groups mixed in) and random filters over a vocabulary
//! drawn from the directory itself, so that most conditions hit data.

use proptest::prelude::*;
use rollcall::criteria::{
    Filter, HierarchyCondition, HierarchyMatch, NumberOp, NumberTest, ProficiencyCondition,
    ProficiencyField, StringCondition, StringField, StringOp, TagCondition,
};
use rollcall::records::{Directory, Groups, HierarchyGroup, IdentityInfo, User};

/// A generated directory: its users (in the order they were added) and groups.
#[derive(Debug, Clone)]
pub struct Dir {
    /// The users.
    pub users: Vec<User>,
    /// The hierarchy groups.
    pub groups: Vec<HierarchyGroup>,
}

impl Dir {
    /// The reference evaluator's in-memory directory.
    pub fn directory(&self) -> Directory {
        let mut d = Directory::new(Groups::new(self.groups.clone()));
        for u in &self.users {
            d.upsert(u.clone()).expect("generated users are consistent");
        }
        d
    }
}

fn bare(id: &str, username: &str) -> User {
    serde_json::from_value(serde_json::json!({"Id": id, "Username": username}))
        .expect("a minimal user")
}

/// A directory of `n` generated users plus hand-made awkward ones chosen by
/// the bits of `extras`; `drop_groups` removes some groups so that users
/// point at unknown groups.
pub fn make_dir(n: usize, seed: u64, extras: u32, drop_groups: bool) -> Dir {
    let h = rollcall::r#gen::hierarchy();
    let mut users: Vec<User> = rollcall::r#gen::users(n, seed, &h).collect();
    let mut special = Vec::new();
    let with_names = |id: &str, uname: &str, first: Option<&str>, last: Option<&str>| {
        let mut u = bare(id, uname);
        u.identity_info = Some(IdentityInfo {
            first_name: first.map(str::to_string),
            last_name: last.map(str::to_string),
            ..IdentityInfo::default()
        });
        u
    };
    special.push(with_names("x-1", "straße", Some("Straße"), Some("STRASSE")));
    special.push(with_names("x-2", "STRASSE", None, Some("strasse")));
    special.push(with_names("x-3", "İsmail", Some("İsmail"), Some("Yılmaz")));
    special.push(with_names("x-4", "ismail", Some("ismail"), None));
    special.push(with_names(
        "x-5",
        "ΣΊΣΥΦΟΣ",
        Some("σίσυφος"),
        Some("Σίσυφος"),
    ));
    special.push(with_names(
        "x-6",
        "maria.garcia",
        Some("María"),
        Some("García"),
    ));
    special.push(with_names(
        "x-7",
        "Maria.Garcia",
        Some("Maria"),
        Some("Garcia"),
    ));
    special.push(bare("x-8", "a"));
    special.push(bare("x-9", "nul\0name"));
    special.push(bare("x-10", "nul"));
    let mut tagged = bare("x-11", "tagged");
    tagged.tags = Some([("Team".to_string(), String::new())].into_iter().collect());
    tagged.hierarchy_group_id = Some("g-unknown".to_string());
    tagged.routing_profile_id = Some("rp-07".to_string());
    special.push(tagged);
    special.push(with_names("X-1", "Straße", Some("ß"), Some("ss")));
    for (i, u) in special.into_iter().enumerate() {
        if extras & (1 << i) != 0 {
            users.push(u);
        }
    }
    let mut groups = h.groups;
    if drop_groups {
        groups.retain(|g| g.id.len() % 3 != 0);
    }
    let mut d = Directory::new(Groups::default());
    users.retain(|u| d.upsert(u.clone()).is_ok());
    Dir { users, groups }
}

/// A random small directory (0..60 generated users plus awkward extras).
pub fn arb_dir() -> impl Strategy<Value = Dir> {
    (0usize..60, any::<u64>(), any::<u32>(), any::<bool>())
        .prop_map(|(n, seed, extras, drop)| make_dir(n, seed, extras, drop))
}

fn case_variants(s: &str) -> Vec<String> {
    vec![s.to_string(), s.to_uppercase(), s.to_lowercase()]
}

/// Strings a name condition may use: whole names, prefixes and substrings
/// of the directory's names in several cases, and fixed awkward values.
fn name_vocab(dir: &Dir) -> Vec<String> {
    let mut out: Vec<String> = [
        "jo",
        "Jo",
        "an",
        "ann",
        "anna",
        "STRASSE",
        "straße",
        "ss",
        "SS",
        "i̇",
        "İs",
        "ism",
        "ös",
        "öz",
        "gar",
        "garcía",
        "GARCIA",
        "σ",
        "ΣΊΣ",
        "σίσυφοσ",
        "ma",
        "ria",
        "ria.g",
        "nul\0",
        "\0n",
        "oneil",
        "o'n",
        "a",
        "zz",
        "ﬁ",
        "ǅ",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for u in dir.users.iter().take(12) {
        for v in [Some(u.username.as_str()), u.first_name(), u.last_name()]
            .into_iter()
            .flatten()
        {
            let chars: Vec<char> = v.chars().collect();
            out.extend(case_variants(v));
            if chars.len() > 3 {
                out.extend(case_variants(&chars[..3].iter().collect::<String>()));
                out.push(chars[1..chars.len().min(6)].iter().collect());
            }
        }
    }
    out
}

fn id_vocab(dir: &Dir) -> Vec<String> {
    let mut out: Vec<String> = [
        "rp-07", "rp-0", "rp-", "sp-agent", "sp-", "agent", "-", "a", "x-1", "X-1", "x-",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for u in dir.users.iter().take(6) {
        out.push(u.id.clone());
        out.push(u.id.chars().take(4).collect());
        out.push(u.id.chars().skip(9).take(5).collect());
        out.extend(u.arn.clone());
        out.extend(u.routing_profile_id.clone());
    }
    out
}

fn group_vocab(dir: &Dir) -> Vec<String> {
    let mut out = vec![
        "g-emea".to_string(),
        "g-unknown".to_string(),
        "g-nope".to_string(),
    ];
    for g in dir.groups.iter().step_by(17) {
        out.push(g.id.clone());
    }
    for u in dir.users.iter().take(4) {
        out.extend(u.hierarchy_group_id.clone());
    }
    out
}

fn pick(v: Vec<String>) -> impl Strategy<Value = String> {
    proptest::sample::select(v)
}

fn arb_op() -> impl Strategy<Value = StringOp> {
    prop_oneof![
        Just(StringOp::Exact),
        Just(StringOp::StartsWith),
        Just(StringOp::Contains)
    ]
}

fn arb_level() -> impl Strategy<Value = NumberTest> {
    prop_oneof![
        (0i32..7).prop_map(|v| NumberTest::compare(NumberOp::GreaterOrEqual, v).unwrap()),
        (0i32..7).prop_map(|v| NumberTest::compare(NumberOp::Greater, v).unwrap()),
        (0i32..7).prop_map(|v| NumberTest::compare(NumberOp::LesserOrEqual, v).unwrap()),
        (0i32..7).prop_map(|v| NumberTest::compare(NumberOp::Lesser, v).unwrap()),
        (0i32..7).prop_map(|v| NumberTest::compare(NumberOp::Equal, v).unwrap()),
        (0i32..7).prop_map(|v| NumberTest::compare(NumberOp::NotEqual, v).unwrap()),
        (0i32..7, 0i32..4).prop_map(|(a, d)| NumberTest::range(a, a + d).unwrap()),
    ]
}

fn arb_prof_item() -> impl Strategy<Value = ProficiencyCondition> {
    let names = vec!["Language", "Skill", "Product", "Lang", "language"];
    let values = vec![
        "English", "Spanish", "German", "Span", "Billing", "TV", "Mobile", "an", "e",
    ];
    prop_oneof![
        (proptest::sample::select(names), arb_op()).prop_map(|(v, op)| {
            ProficiencyCondition::string(ProficiencyField::Name, op, v).expect("non-empty")
        }),
        (proptest::sample::select(values), arb_op()).prop_map(|(v, op)| {
            ProficiencyCondition::string(ProficiencyField::Value, op, v).expect("non-empty")
        }),
        arb_level().prop_map(ProficiencyCondition::Level),
    ]
}

/// A random leaf condition drawing its values from `dir`.
pub fn arb_leaf(dir: &Dir) -> BoxedStrategy<Filter> {
    let names = name_vocab(dir);
    let ids = id_vocab(dir);
    let groups = group_vocab(dir);
    let name_field = prop_oneof![
        Just(StringField::Username),
        Just(StringField::FirstName),
        Just(StringField::LastName)
    ];
    let id_field = prop_oneof![
        Just(StringField::RoutingProfileId),
        Just(StringField::SecurityProfileId),
        Just(StringField::ResourceId)
    ];
    let tag_keys = vec!["Team", "Cost Center", "Shift", "team"];
    let tag_values = vec![
        "blue",
        "red",
        "vip",
        "40",
        "41",
        "day",
        "Day",
        "",
        "night-owls",
    ];
    prop_oneof![
        4 => (name_field, arb_op(), pick(names)).prop_filter_map("invalid condition", |(f, op, v)| {
            StringCondition::new(f, op, v).ok().map(Filter::String)
        }),
        2 => (id_field, arb_op(), pick(ids)).prop_filter_map("invalid condition", |(f, op, v)| {
            StringCondition::new(f, op, v).ok().map(Filter::String)
        }),
        2 => (pick(groups), any::<bool>()).prop_map(|(g, under)| {
            let mode = if under { HierarchyMatch::WithChildGroups } else { HierarchyMatch::Exact };
            Filter::Hierarchy(HierarchyCondition::new(g, mode).expect("non-empty"))
        }),
        2 => (proptest::sample::select(tag_keys), proptest::option::of(proptest::sample::select(tag_values)))
            .prop_map(|(k, v)| Filter::Tag(TagCondition::new(k, v.map(str::to_string)).expect("non-empty"))),
        2 => proptest::collection::vec(arb_prof_item(), 0..4).prop_map(Filter::Proficiency),
        1 => Just(Filter::all()),
    ]
    .boxed()
}

/// A random filter tree (nested `And`/`Or` up to depth 4) over `dir`'s vocabulary.
pub fn arb_filter(dir: &Dir) -> BoxedStrategy<Filter> {
    arb_leaf(dir)
        .prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Filter::And),
                proptest::collection::vec(inner, 1..4).prop_map(|v| Filter::or(v).unwrap()),
            ]
        })
        .boxed()
}

/// A directory with a filter over it and a page size.
pub fn arb_case() -> impl Strategy<Value = (Dir, Filter, u32)> {
    arb_dir().prop_flat_map(|dir| {
        let f = arb_filter(&dir);
        (Just(dir), f, prop_oneof![1u32..8, Just(100u32)])
    })
}
