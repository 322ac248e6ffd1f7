//! A realistic, deterministic directory generator for tests, benchmarks and
//! the REPL's demo: users with names from several languages (non-ASCII,
//! case variants, missing first names), a 3-5 level hierarchy, tags,
//! security and routing profiles, and proficiencies.
//!
//! Takes in a user count and a seed; gives out [`HierarchyGroup`]s and a
//! stream of [`User`]s. The same `(count, seed)` always gives the same data.

use std::collections::{BTreeMap, HashSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::records::{
    GroupSummary, HierarchyGroup, HierarchyPath, IdentityInfo, PhoneConfig, PhoneType, Proficiency,
    User,
};

const INSTANCE_ARN: &str = "arn:aws:connect:us-east-1:123456789012:instance/demo";

const FIRST_NAMES: &[&str] = &[
    "Maria",
    "José",
    "John",
    "Joanna",
    "Jonas",
    "Anna",
    "Ann",
    "Hannah",
    "Ömer",
    "İsmail",
    "Ayşe",
    "Zoë",
    "Chloé",
    "François",
    "Björn",
    "Jürgen",
    "Łukasz",
    "Agnieszka",
    "Σωκράτης",
    "Ελένη",
    "Дмитрий",
    "Анна",
    "王芳",
    "李娜",
    "さくら",
    "Hiroshi",
    "Priya",
    "Rahul",
    "Fatima",
    "Mohammed",
    "Oluwaseun",
    "Chinedu",
    "Siobhán",
    "Seán",
    "Joaquín",
    "Núria",
    "Ingrid",
    "Søren",
    "Nguyễn",
    "Thảo",
    "Kwame",
    "Ama",
    "Lucía",
    "Mateo",
    "Emma",
    "Liam",
    "Olivia",
    "Noah",
    "Jonathan",
    "Joseph",
    "Johanna",
    "Dana",
    "Diana",
    "Andrea",
    "André",
];
const LAST_NAMES: &[&str] = &[
    "Garcia",
    "García",
    "Smith",
    "O'Neil",
    "Müller",
    "Straße",
    "Strasse",
    "Öztürk",
    "Yılmaz",
    "Dubois",
    "Lefèvre",
    "Kowalski",
    "Wiśniewska",
    "Παπαδόπουλος",
    "Иванов",
    "Смирнова",
    "王",
    "李",
    "佐藤",
    "Tanaka",
    "Sharma",
    "Patel",
    "Al-Farsi",
    "Okafor",
    "Adeyemi",
    "Ní Bhriain",
    "Jensen",
    "Nielsen",
    "Ólafsdóttir",
    "Nguyễn",
    "Mensah",
    "Johnson",
    "Jones",
    "Brown",
    "Anderson",
    "Annan",
    "Hansen",
    "Johansson",
    "Rossi",
    "Bianchi",
];
const TEAMS: &[&str] = &[
    "blue",
    "green",
    "red",
    "orange",
    "night-owls",
    "escalations",
    "vip",
    "onboarding",
];
const SKILLS: &[(&str, &[&str])] = &[
    (
        "Language",
        &[
            "English",
            "Spanish",
            "German",
            "French",
            "Japanese",
            "Portuguese",
            "Turkish",
            "Greek",
        ],
    ),
    (
        "Skill",
        &["Billing", "Technical", "Sales", "Retention", "Claims"],
    ),
    ("Product", &["Mobile", "Broadband", "TV", "Insurance"]),
];
const REGIONS: &[(&str, &[&str])] = &[
    ("EMEA", &["DE", "FR", "ES", "TR", "GR"]),
    ("AMER", &["US", "CA", "BR", "MX"]),
    ("APAC", &["JP", "IN", "AU", "SG"]),
];
const SITES: &[&str] = &["North", "South", "Central"];
const TEAM_NAMES: &[&str] = &["Tier 1", "Tier 2", "Specialists", "Supervisors"];

/// A generated hierarchy: every group, with the leaf groups users join.
#[derive(Debug, Clone)]
pub struct Hierarchy {
    /// All groups, parents before children.
    pub groups: Vec<HierarchyGroup>,
    /// The ids of groups users are placed in (levels 3 to 5).
    pub leaves: Vec<String>,
}

fn summary(id: &str, name: &str) -> GroupSummary {
    GroupSummary {
        id: Some(id.to_string()),
        arn: Some(format!("{INSTANCE_ARN}/agent-group/{id}")),
        name: Some(name.to_string()),
        last_modified_time: None,
        last_modified_region: None,
    }
}

fn group(path: &[(String, String)]) -> HierarchyGroup {
    let mut hp = HierarchyPath::default();
    let slots = [
        &mut hp.level_one,
        &mut hp.level_two,
        &mut hp.level_three,
        &mut hp.level_four,
        &mut hp.level_five,
    ];
    for (slot, (id, name)) in slots.into_iter().zip(path) {
        *slot = Some(summary(id, name));
    }
    let (id, name) = &path[path.len() - 1];
    HierarchyGroup {
        id: id.clone(),
        arn: Some(format!("{INSTANCE_ARN}/agent-group/{id}")),
        name: Some(name.clone()),
        level_id: Some(format!("level-{}", path.len())),
        hierarchy_path: Some(hp),
        tags: None,
        last_modified_time: None,
        last_modified_region: None,
    }
}

/// The fixed demo hierarchy: regions, countries, sites, teams, and for some
/// teams a fifth level of shifts. Group ids read like `g-emea-de-north-tier-1`.
///
/// ```
/// let h = rollcall::r#gen::hierarchy();
/// assert!(h.groups.iter().any(|g| g.id == "g-emea"));
/// assert!(h.groups.len() > 100);
/// ```
pub fn hierarchy() -> Hierarchy {
    let slug = |s: &str| s.to_lowercase().replace(' ', "-");
    let mut groups = Vec::new();
    let mut leaves = Vec::new();
    for (region, countries) in REGIONS {
        let l1 = (format!("g-{}", slug(region)), region.to_string());
        groups.push(group(std::slice::from_ref(&l1)));
        for country in *countries {
            let l2 = (format!("{}-{}", l1.0, slug(country)), country.to_string());
            groups.push(group(&[l1.clone(), l2.clone()]));
            for site in SITES {
                let l3 = (
                    format!("{}-{}", l2.0, slug(site)),
                    format!("{country} {site}"),
                );
                groups.push(group(&[l1.clone(), l2.clone(), l3.clone()]));
                leaves.push(l3.0.clone());
                for team in TEAM_NAMES {
                    let l4 = (format!("{}-{}", l3.0, slug(team)), team.to_string());
                    let path4 = [l1.clone(), l2.clone(), l3.clone(), l4.clone()];
                    groups.push(group(&path4));
                    leaves.push(l4.0.clone());
                    if *team == "Tier 1" {
                        for shift in ["Day", "Night"] {
                            let l5 = (
                                format!("{}-{}", l4.0, slug(shift)),
                                format!("{shift} shift"),
                            );
                            let mut path5 = path4.to_vec();
                            path5.push(l5.clone());
                            groups.push(group(&path5));
                            leaves.push(l5.0);
                        }
                    }
                }
            }
        }
    }
    Hierarchy { groups, leaves }
}

fn uuid(rng: &mut ChaCha8Rng) -> String {
    let b: [u8; 16] = rng.random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// A deterministic stream of `count` users placed in `hierarchy`.
///
/// Usernames are unique (exactly); about one in eight keeps the case of the
/// person's name (`Maria.Garcia` beside `maria.garcia7`), one in twenty has
/// no first name, and names come from a dozen scripts.
///
/// ```
/// let h = rollcall::r#gen::hierarchy();
/// let a: Vec<_> = rollcall::r#gen::users(50, 7, &h).collect();
/// let b: Vec<_> = rollcall::r#gen::users(50, 7, &h).collect();
/// assert_eq!(a, b);
/// assert!(a.iter().all(|u| u.validate().is_ok()));
/// ```
pub fn users(count: usize, seed: u64, hierarchy: &Hierarchy) -> impl Iterator<Item = User> + '_ {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut taken: HashSet<String> = HashSet::new();
    (0..count).map(move |_| user(&mut rng, &mut taken, hierarchy))
}

fn user(rng: &mut ChaCha8Rng, taken: &mut HashSet<String>, hierarchy: &Hierarchy) -> User {
    let id = uuid(rng);
    let first = *pick(rng, FIRST_NAMES);
    let last = *pick(rng, LAST_NAMES);
    let keep_case = rng.random_ratio(1, 8);
    let base = {
        let raw = format!("{first}.{last}").replace([' ', '\''], "");
        if keep_case {
            raw
        } else {
            raw.to_lowercase()
        }
    };
    let mut username = base.clone();
    let mut n = 1;
    while taken.contains(&username) {
        n += rng.random_range(1..=3);
        username = format!("{base}{n}");
    }
    taken.insert(username.clone());
    let identity_info = IdentityInfo {
        first_name: (!rng.random_ratio(1, 20)).then(|| first.to_string()),
        last_name: (!rng.random_ratio(1, 50)).then(|| last.to_string()),
        email: rng
            .random_ratio(3, 4)
            .then(|| format!("{}@example.com", username.to_lowercase())),
        secondary_email: None,
        mobile: None,
    };
    let desk = rng.random_ratio(1, 5);
    let phone_config = PhoneConfig {
        phone_type: Some(if desk {
            PhoneType::DeskPhone
        } else {
            PhoneType::SoftPhone
        }),
        auto_accept: Some(rng.random_bool(0.3)),
        after_contact_work_time_limit: Some(*pick(rng, &[0, 30, 60, 120, 300])),
        desk_phone_number: desk.then(|| format!("+1555{:07}", rng.random_range(0..10_000_000))),
        persistent_connection: None,
    };
    let mut security: Vec<String> = vec!["sp-agent".to_string()];
    for sp in ["sp-supervisor", "sp-qa", "sp-admin"] {
        if rng.random_ratio(1, 10) {
            security.push(sp.to_string());
        }
    }
    let routing = format!("rp-{:02}", rng.random_range(0..40));
    let group = (!rng.random_ratio(1, 50)).then(|| pick(rng, &hierarchy.leaves).clone());
    let mut tags = BTreeMap::new();
    if rng.random_ratio(4, 5) {
        tags.insert("Team".to_string(), pick(rng, TEAMS).to_string());
    }
    if rng.random_ratio(1, 2) {
        tags.insert(
            "Cost Center".to_string(),
            format!("{}", 40 + rng.random_range(0..12)),
        );
    }
    if rng.random_ratio(1, 6) {
        tags.insert(
            "Shift".to_string(),
            pick(rng, &["day", "night", "Day"]).to_string(),
        );
    }
    let mut proficiencies = Vec::new();
    for _ in 0..rng.random_range(0..=4) {
        let (name, values) = *pick(rng, SKILLS);
        let value = *pick(rng, values);
        if proficiencies
            .iter()
            .any(|p: &Proficiency| p.attribute_name == name && p.attribute_value == value)
        {
            continue;
        }
        let level = if rng.random_ratio(1, 10) {
            f64::from(rng.random_range(2..=9u8)) / 2.0
        } else {
            f64::from(rng.random_range(1..=5u8))
        };
        proficiencies.push(Proficiency {
            attribute_name: name.to_string(),
            attribute_value: value.to_string(),
            level,
        });
    }
    User {
        arn: Some(format!("{INSTANCE_ARN}/agent/{id}")),
        directory_user_id: Some(format!("d-{}", &id[..8])),
        identity_info: Some(identity_info),
        phone_config: Some(phone_config),
        security_profile_ids: Some(security),
        routing_profile_id: Some(routing),
        hierarchy_group_id: group,
        tags: (!tags.is_empty()).then_some(tags),
        proficiencies: (!proficiencies.is_empty()).then_some(proficiencies),
        id,
        username,
        auto_accept_configs: None,
        after_contact_work_configs: None,
        phone_number_configs: None,
        persistent_connection_configs: None,
        voice_enhancement_configs: None,
        last_modified_time: None,
        last_modified_region: None,
    }
}
