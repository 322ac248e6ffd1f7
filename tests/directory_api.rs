//! The Connect write operations of the library (`directory::Engine::call`):
//! their shapes, limits and errors, and that what they write is what
//! `SearchUsers` finds, in this process and after a reopen.

use rollcall::criteria::wire::parse_request;
use rollcall::directory::Engine;
use rollcall::ErrorType;
use serde_json::{json, Value};

fn call(e: &Engine, op: &str, input: Value) -> Result<Value, rollcall::AwsError> {
    e.call(op, &input.to_string()).expect("a known operation")
}

fn ok(e: &Engine, op: &str, input: Value) -> Value {
    call(e, op, input.clone()).unwrap_or_else(|err| panic!("{op} {input}: {err}"))
}

fn err(e: &Engine, op: &str, input: Value) -> (ErrorType, String) {
    let err = call(e, op, input.clone()).expect_err(&format!("{op} {input} fails"));
    (err.kind, err.message)
}

fn search(e: &Engine, request: Value) -> Value {
    let req = parse_request(&request.to_string()).expect("request");
    let page = e.search_users(&req).expect("search");
    serde_json::to_value(page).expect("json")
}

fn usernames(page: &Value) -> Vec<String> {
    page["Users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["Username"].as_str().expect("username").to_string())
        .collect()
}

fn new_user(instance: &str, name: &str) -> Value {
    json!({"InstanceId": instance, "Username": name, "SecurityProfileIds": ["sp-1"], "RoutingProfileId": "rp-1"})
}

#[test]
fn the_whole_write_flow_is_searchable_at_once_and_after_a_reopen() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let e = Engine::open(tmp.path()).expect("engine");
    let created = ok(
        &e,
        "CreateInstance",
        json!({"IdentityManagementType": "CONNECT_MANAGED", "InstanceAlias": "test-one",
               "InboundCallsEnabled": true, "OutboundCallsEnabled": false, "Tags": {"env": "ci"}}),
    );
    let i = created["Id"].as_str().expect("id").to_string();
    assert_eq!(
        created["Arn"],
        json!(format!(
            "arn:aws:connect:us-east-1:123456789012:instance/{i}"
        ))
    );
    let described = ok(&e, "DescribeInstance", json!({"InstanceId": i}));
    assert_eq!(described["Instance"]["InstanceAlias"], "test-one");
    assert_eq!(described["Instance"]["OutboundCallsEnabled"], false);
    assert_eq!(described["Instance"]["Tags"], json!({"env": "ci"}));
    let dup_alias = err(
        &e,
        "CreateInstance",
        json!({"IdentityManagementType": "SAML", "InstanceAlias": "test-one",
               "InboundCallsEnabled": true, "OutboundCallsEnabled": true}),
    );
    assert_eq!(dup_alias.0, ErrorType::InvalidRequestException);

    // Groups: two levels, the path maintained, names unique per level.
    let emea = ok(
        &e,
        "CreateUserHierarchyGroup",
        json!({"InstanceId": i, "Name": "EMEA"}),
    );
    let emea_id = emea["HierarchyGroupId"].as_str().expect("id").to_string();
    let de = ok(
        &e,
        "CreateUserHierarchyGroup",
        json!({"InstanceId": i, "Name": "DE", "ParentGroupId": emea_id}),
    );
    let de_id = de["HierarchyGroupId"].as_str().expect("id").to_string();
    let inst = e.instance(&i).expect("instance");
    let de_group = inst.groups().get(&de_id).cloned().expect("group");
    let path = de_group.hierarchy_path.expect("path");
    assert_eq!(path.level_one.and_then(|s| s.id), Some(emea_id.clone()));
    assert_eq!(path.level_two.and_then(|s| s.name), Some("DE".to_string()));
    assert_eq!(de_group.level_id.as_deref(), Some("level-2"));
    let (kind, _) = err(
        &e,
        "CreateUserHierarchyGroup",
        json!({"InstanceId": i, "Name": "EMEA"}),
    );
    assert_eq!(kind, ErrorType::DuplicateResourceException);
    let (kind, _) = err(
        &e,
        "CreateUserHierarchyGroup",
        json!({"InstanceId": i, "Name": "X", "ParentGroupId": "nope"}),
    );
    assert_eq!(kind, ErrorType::ResourceNotFoundException);

    // Users: created, found by every kind of condition at once.
    let mut ann = new_user(&i, "ann");
    ann["IdentityInfo"] = json!({"FirstName": "Ann", "LastName": "Lee"});
    ann["HierarchyGroupId"] = json!(de_id);
    ann["Tags"] = json!({"Team": "blue"});
    ann["Password"] = json!("Secret123");
    let ann = ok(&e, "CreateUser", ann);
    let ann_id = ann["UserId"].as_str().expect("id").to_string();
    ok(&e, "CreateUser", new_user(&i, "bob"));
    let (kind, msg) = err(&e, "CreateUser", new_user(&i, "ann"));
    assert_eq!(kind, ErrorType::DuplicateResourceException, "{msg}");
    let mut weak = new_user(&i, "carl");
    weak["Password"] = json!("password");
    assert_eq!(
        err(&e, "CreateUser", weak).0,
        ErrorType::InvalidParameterException
    );
    let stored = e
        .instance(&i)
        .expect("instance")
        .user(&ann_id)
        .expect("read")
        .expect("ann");
    assert!(
        !serde_json::to_string(&stored)
            .expect("json")
            .contains("Secret123"),
        "the password is never stored"
    );
    let mut missing = new_user(&i, "dan");
    missing
        .as_object_mut()
        .expect("object")
        .remove("RoutingProfileId");
    assert_eq!(
        err(&e, "CreateUser", missing).0,
        ErrorType::SerializationException
    );
    let mut unknown = new_user(&i, "dan");
    unknown["Nickname"] = json!("d");
    assert_eq!(
        err(&e, "CreateUser", unknown).0,
        ErrorType::SerializationException
    );

    ok(
        &e,
        "AssociateUserProficiencies",
        json!({"InstanceId": i, "UserId": ann_id, "UserProficiencies": [
            {"AttributeName": "Language", "AttributeValue": "Spanish", "Level": 4.0}]}),
    );
    let (kind, _) = err(
        &e,
        "AssociateUserProficiencies",
        json!({"InstanceId": i, "UserId": ann_id, "UserProficiencies": [
            {"AttributeName": "Language", "AttributeValue": "Spanish", "Level": 6.0}]}),
    );
    assert_eq!(kind, ErrorType::InvalidParameterException);
    let arn = format!("arn:aws:connect:us-east-1:123456789012:instance/{i}/agent/{ann_id}");
    ok(
        &e,
        "TagResource",
        json!({"resourceArn": arn, "tags": {"Shift": "day"}}),
    );
    let q = json!({"InstanceId": i, "SearchCriteria": {"AndConditions": [
        {"StringCondition": {"FieldName": "FirstName", "Value": "an", "ComparisonType": "CONTAINS"}},
        {"HierarchyGroupCondition": {"Value": emea_id, "HierarchyGroupMatchType": "WITH_CHILD_GROUPS"}},
        {"ListCondition": {"TargetListType": "PROFICIENCIES", "Conditions": [
            {"StringCondition": {"FieldName": "Name", "Value": "Language", "ComparisonType": "EXACT"}},
            {"NumberCondition": {"FieldName": "Level", "MinValue": 3, "MaxValue": 5, "ComparisonType": "RANGE"}}]}}]},
        "SearchFilter": {"TagFilter": {"AndConditions": [{"TagKey": "Shift", "TagValue": "day"}]}}});
    assert_eq!(usernames(&search(&e, q.clone())), ["ann"]);
    assert_eq!(
        ok(&e, "ListTagsForResource", json!({"resourceArn": arn}))["tags"],
        json!({"Team": "blue", "Shift": "day"})
    );

    // In use: a group with a child group or a user.
    assert_eq!(
        err(
            &e,
            "DeleteUserHierarchyGroup",
            json!({"InstanceId": i, "HierarchyGroupId": emea_id})
        )
        .0,
        ErrorType::ResourceInUseException
    );
    assert_eq!(
        err(
            &e,
            "DeleteUserHierarchyGroup",
            json!({"InstanceId": i, "HierarchyGroupId": de_id})
        )
        .0,
        ErrorType::ResourceInUseException
    );
    ok(
        &e,
        "UpdateUserHierarchyGroupName",
        json!({"InstanceId": i, "HierarchyGroupId": emea_id, "Name": "Europe"}),
    );
    let renamed = e
        .instance(&i)
        .expect("instance")
        .groups()
        .get(&de_id)
        .cloned()
        .expect("group");
    assert_eq!(
        renamed
            .hierarchy_path
            .and_then(|p| p.level_one)
            .and_then(|s| s.name),
        Some("Europe".into())
    );
    ok(
        &e,
        "UpdateUserHierarchyStructure",
        json!({"InstanceId": i, "HierarchyStructure": {"LevelOne": {"Name": "Region"}, "LevelTwo": {"Name": "Country"}}}),
    );
    assert_eq!(
        e.instance(&i)
            .expect("instance")
            .info()
            .expect("info")
            .level_names,
        [Some("Region".to_string()), Some("Country".to_string())]
    );

    // Reopened (as another process would), everything is there.
    drop(inst);
    let e2 = Engine::open(tmp.path()).expect("engine");
    assert_eq!(usernames(&search(&e2, q.clone())), ["ann"]);
    ok(
        &e2,
        "UpdateUserHierarchy",
        json!({"InstanceId": i, "UserId": ann_id}),
    );
    ok(
        &e2,
        "UntagResource",
        json!({"resourceArn": arn, "tagKeys": ["Shift"]}),
    );
    assert_eq!(usernames(&search(&e, q)), Vec::<String>::new());
    ok(
        &e,
        "UpdateUserIdentityInfo",
        json!({"InstanceId": i, "UserId": ann_id, "IdentityInfo": {"FirstName": "Anne"}}),
    );
    ok(
        &e,
        "UpdateUserRoutingProfile",
        json!({"InstanceId": i, "UserId": ann_id, "RoutingProfileId": "rp-9"}),
    );
    ok(
        &e,
        "UpdateUserSecurityProfiles",
        json!({"InstanceId": i, "UserId": ann_id, "SecurityProfileIds": ["sp-2", "sp-3"]}),
    );
    ok(
        &e,
        "UpdateUserPhoneConfig",
        json!({"InstanceId": i, "UserId": ann_id, "PhoneConfig": {"PhoneType": "DESK_PHONE", "DeskPhoneNumber": "+15555550100"}}),
    );
    ok(
        &e,
        "UpdateUserProficiencies",
        json!({"InstanceId": i, "UserId": ann_id, "UserProficiencies": [
        {"AttributeName": "Language", "AttributeValue": "Spanish", "Level": 2.5}]}),
    );
    let u = e2
        .instance(&i)
        .expect("instance")
        .user(&ann_id)
        .expect("read")
        .expect("ann");
    assert_eq!(u.first_name(), Some("Anne"));
    assert_eq!(u.routing_profile_id.as_deref(), Some("rp-9"));
    assert_eq!(
        u.security_profile_ids,
        Some(vec!["sp-2".to_string(), "sp-3".to_string()])
    );
    assert_eq!(u.proficiencies.as_ref().map(|p| p[0].level), Some(2.5));
    assert_eq!(u.hierarchy_group_id, None);
    ok(
        &e,
        "DisassociateUserProficiencies",
        json!({"InstanceId": i, "UserId": ann_id, "UserProficiencies": [
        {"AttributeName": "Language", "AttributeValue": "Spanish"}]}),
    );
    ok(
        &e,
        "DeleteUserHierarchyGroup",
        json!({"InstanceId": i, "HierarchyGroupId": de_id}),
    );
    ok(&e, "DeleteUser", json!({"InstanceId": i, "UserId": ann_id}));
    assert_eq!(
        err(&e, "DeleteUser", json!({"InstanceId": i, "UserId": ann_id})).0,
        ErrorType::ResourceNotFoundException
    );
    let all = search(&e2, json!({"InstanceId": i}));
    assert_eq!(usernames(&all), ["bob"]);
    assert_eq!(all["ApproximateTotalCount"], 1);

    ok(&e, "DeleteInstance", json!({"InstanceId": i}));
    assert_eq!(
        err(&e, "DescribeInstance", json!({"InstanceId": i})).0,
        ErrorType::ResourceNotFoundException
    );
    assert_eq!(
        err(&e2, "CreateUser", new_user(&i, "x")).0,
        ErrorType::ResourceNotFoundException
    );
}

#[test]
fn list_instances_pages_and_shows_imported_instances() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let e = Engine::open(tmp.path()).expect("engine");
    e.import(
        "imported",
        &b"{\"Id\":\"1\",\"Username\":\"ann\"}\n"[..],
        None,
    )
    .expect("import");
    for _ in 0..11 {
        ok(
            &e,
            "CreateInstance",
            json!({"IdentityManagementType": "CONNECT_MANAGED", "InboundCallsEnabled": true, "OutboundCallsEnabled": true}),
        );
    }
    let mut seen = Vec::new();
    let mut input = json!({"MaxResults": 5});
    loop {
        let page = ok(&e, "ListInstances", input.clone());
        let list = page["InstanceSummaryList"].as_array().expect("list");
        assert!(list.len() <= 5);
        seen.extend(
            list.iter()
                .map(|s| s["Id"].as_str().expect("id").to_string()),
        );
        match page.get("NextToken") {
            Some(t) => input["NextToken"] = t.clone(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 12);
    assert!(seen.contains(&"imported".to_string()));
    assert_eq!(
        err(&e, "ListInstances", json!({"MaxResults": 11})).0,
        ErrorType::InvalidParameterException
    );
    assert_eq!(
        err(&e, "ListInstances", json!({"NextToken": "bogus"})).0,
        ErrorType::InvalidParameterException
    );
    let tags = ok(
        &e,
        "ListTagsForResource",
        json!({"resourceArn": "arn:aws:connect:us-east-1:123456789012:instance/imported"}),
    );
    assert_eq!(tags["tags"], json!({}));
    assert_eq!(err(&e, "TagResource", json!({"resourceArn": "arn:aws:connect:us-east-1:123456789012:instance/imported", "tags": {"aws:x": "1"}})).0, ErrorType::InvalidParameterException);
    assert_eq!(
        err(
            &e,
            "ListTagsForResource",
            json!({"resourceArn": "arn:aws:other"})
        )
        .0,
        ErrorType::ResourceNotFoundException
    );
}

/// A hierarchy group of the plain model of `SearchUserHierarchyGroups`:
/// what the create and rename calls said, nothing derived by the engine.
#[derive(Debug, Clone)]
struct ModelGroup {
    id: String,
    arn: String,
    name: String,
    parent: Option<String>,
    level: usize,
    tags: std::collections::BTreeMap<String, String>,
}

/// A group write: create (name, parent among the groups so far, tags),
/// rename (a group, a name) or delete (a group).
#[derive(Debug, Clone)]
enum GroupStep {
    Create(usize, Option<usize>, Vec<(usize, usize)>),
    Rename(usize, usize),
    Delete(usize),
}

/// A value a string condition compares with: a fixed text, or the id, the
/// ARN or an id prefix of the n-th group made.
#[derive(Debug, Clone)]
enum GroupValue {
    Text(&'static str),
    Id(usize),
    Arn(usize),
    IdPrefix(usize),
}

#[derive(Debug, Clone)]
enum GroupCriteria {
    Leaf(&'static str, &'static str, GroupValue),
    Or(Vec<GroupCriteria>),
    And(Vec<GroupCriteria>),
}

/// `ControlPlaneAttributeFilter`: one tag, one AND, or an OR of ANDs.
#[derive(Debug, Clone)]
enum GroupTags {
    One((usize, usize)),
    And(Vec<(usize, usize)>),
    Or(Vec<Vec<(usize, usize)>>),
}

const GROUP_NAMES: [&str; 6] = ["EMEA", "emea", "Straße", "STRASSE", "de", "DE-North"];
const TAG_KEYS: [&str; 2] = ["Team", "Shift"];
/// Tag values; the last stands for a condition without `TagValue`.
const TAG_VALUES: [&str; 4] = ["blue", "Blue", "", "(any)"];

fn arb_group_criteria() -> impl proptest::strategy::Strategy<Value = GroupCriteria> {
    use proptest::prelude::*;
    let value = prop_oneof![
        proptest::sample::select(vec![
            "em", "EMEA", "strasse", "de", "level-1", "level-2", "e"
        ])
        .prop_map(GroupValue::Text),
        any::<usize>().prop_map(GroupValue::Id),
        any::<usize>().prop_map(GroupValue::Arn),
        any::<usize>().prop_map(GroupValue::IdPrefix),
    ];
    let leaf = (
        proptest::sample::select(vec!["name", "NAME", "parentId", "levelId", "resourceID"]),
        proptest::sample::select(vec!["EXACT", "STARTS_WITH", "CONTAINS"]),
        value,
    )
        .prop_map(|(f, o, v)| GroupCriteria::Leaf(f, o, v));
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..3).prop_map(GroupCriteria::Or),
            proptest::collection::vec(inner, 0..3).prop_map(GroupCriteria::And),
        ]
    })
}

fn arb_group_tags() -> impl proptest::strategy::Strategy<Value = GroupTags> {
    use proptest::prelude::*;
    let tag = (0..TAG_KEYS.len(), 0..TAG_VALUES.len());
    prop_oneof![
        tag.clone().prop_map(GroupTags::One),
        proptest::collection::vec(tag.clone(), 0..3).prop_map(GroupTags::And),
        proptest::collection::vec(proptest::collection::vec(tag, 0..3), 1..3)
            .prop_map(GroupTags::Or),
    ]
}

fn arb_group_steps() -> impl proptest::strategy::Strategy<Value = Vec<GroupStep>> {
    use proptest::prelude::*;
    let tags = proptest::collection::vec((0..TAG_KEYS.len(), 0..3usize), 0..3);
    let step = prop_oneof![
        5 => (0..GROUP_NAMES.len(), proptest::option::of(any::<usize>()), tags)
            .prop_map(|(n, p, t)| GroupStep::Create(n, p, t)),
        1 => (any::<usize>(), 0..GROUP_NAMES.len()).prop_map(|(g, n)| GroupStep::Rename(g, n)),
        1 => any::<usize>().prop_map(GroupStep::Delete),
    ];
    proptest::collection::vec(step, 1..10)
}

fn resolve(v: &GroupValue, made: &[(String, String)]) -> String {
    let pick = |i: &usize| made.get(i % made.len().max(1)).cloned();
    match v {
        GroupValue::Text(t) => (*t).to_string(),
        GroupValue::Id(i) => pick(i).map_or("none".into(), |g| g.0),
        GroupValue::Arn(i) => pick(i).map_or("none".into(), |g| g.1),
        GroupValue::IdPrefix(i) => pick(i).map_or("none".into(), |g| g.0[..8].to_string()),
    }
}

fn criteria_json(c: &GroupCriteria, made: &[(String, String)]) -> Value {
    match c {
        GroupCriteria::Leaf(f, o, v) => json!({"StringCondition":
            {"FieldName": f, "ComparisonType": o, "Value": resolve(v, made)}}),
        GroupCriteria::Or(cs) => {
            json!({"OrConditions": cs.iter().map(|c| criteria_json(c, made)).collect::<Vec<_>>()})
        }
        GroupCriteria::And(cs) => {
            json!({"AndConditions": cs.iter().map(|c| criteria_json(c, made)).collect::<Vec<_>>()})
        }
    }
}

fn tag_json(&(k, v): &(usize, usize)) -> Value {
    match TAG_VALUES[v] {
        "(any)" => json!({"TagKey": TAG_KEYS[k]}),
        value => json!({"TagKey": TAG_KEYS[k], "TagValue": value}),
    }
}

fn tags_json(t: &GroupTags) -> Value {
    let and = |list: &[(usize, usize)]| json!({"TagConditions": list.iter().map(tag_json).collect::<Vec<_>>()});
    match t {
        GroupTags::One(tag) => json!({"TagCondition": tag_json(tag)}),
        GroupTags::And(list) => json!({"AndCondition": and(list)}),
        GroupTags::Or(lists) => {
            json!({"OrConditions": lists.iter().map(|l| and(l)).collect::<Vec<_>>()})
        }
    }
}

/// The plain model's answer to a criteria tree.
fn model_matches(c: &GroupCriteria, g: &ModelGroup, made: &[(String, String)]) -> bool {
    match c {
        GroupCriteria::Or(cs) => cs.iter().any(|c| model_matches(c, g, made)),
        GroupCriteria::And(cs) => cs.iter().all(|c| model_matches(c, g, made)),
        GroupCriteria::Leaf(field, op, v) => {
            let value = resolve(v, made);
            let test = |have: &str, want: &str| match *op {
                "EXACT" => have == want,
                "STARTS_WITH" => have.starts_with(want),
                _ => have.contains(want),
            };
            match *field {
                "name" | "NAME" => test(
                    &rollcall::criteria::fold(&g.name),
                    &rollcall::criteria::fold(&value),
                ),
                "parentId" => g.parent.as_deref().is_some_and(|p| test(p, &value)),
                "levelId" => test(&format!("level-{}", g.level), &value),
                _ => test(&g.id, &value) || (*op == "EXACT" && g.arn == value),
            }
        }
    }
}

fn model_tag(&(k, v): &(usize, usize), g: &ModelGroup) -> bool {
    match (g.tags.get(TAG_KEYS[k]), TAG_VALUES[v]) {
        (None, _) => false,
        (Some(_), "(any)") => true,
        (Some(have), want) => have == want,
    }
}

fn model_tags(t: &GroupTags, g: &ModelGroup) -> bool {
    match t {
        GroupTags::One(tag) => model_tag(tag, g),
        GroupTags::And(list) => list.iter().all(|t| model_tag(t, g)),
        GroupTags::Or(lists) => lists.iter().any(|l| l.iter().all(|t| model_tag(t, g))),
    }
}

/// Applies the steps to the engine and to the model; the engine must
/// accept exactly the writes the model's rules allow (names unique per
/// level, at most five levels, no delete of a group with groups below).
fn run_group_steps(e: &Engine, i: &str, steps: &[GroupStep]) -> Vec<ModelGroup> {
    let mut model: Vec<ModelGroup> = Vec::new();
    let taken = |model: &[ModelGroup], level: usize, name: &str, except: Option<&str>| {
        model
            .iter()
            .any(|g| g.level == level && g.name == name && Some(g.id.as_str()) != except)
    };
    for step in steps {
        match step {
            GroupStep::Create(n, parent, tags) => {
                let name = GROUP_NAMES[*n];
                let parent = parent
                    .and_then(|p| model.get(p % model.len().max(1)))
                    .cloned();
                let level = parent.as_ref().map_or(1, |p| p.level + 1);
                let tags: std::collections::BTreeMap<String, String> = tags
                    .iter()
                    .map(|&(k, v)| (TAG_KEYS[k].to_string(), TAG_VALUES[v].to_string()))
                    .collect();
                let mut input = json!({"InstanceId": i, "Name": name});
                if let Some(p) = &parent {
                    input["ParentGroupId"] = json!(p.id);
                }
                if !tags.is_empty() {
                    input["Tags"] = json!(tags);
                }
                let out = call(e, "CreateUserHierarchyGroup", input);
                let allowed = level <= 5 && !taken(&model, level, name, None);
                assert_eq!(out.is_ok(), allowed, "{step:?}: {out:?}");
                if let Ok(out) = out {
                    model.push(ModelGroup {
                        id: out["HierarchyGroupId"].as_str().expect("id").into(),
                        arn: out["HierarchyGroupArn"].as_str().expect("arn").into(),
                        name: name.into(),
                        parent: parent.map(|p| p.id),
                        level,
                        tags,
                    });
                }
            }
            GroupStep::Rename(g, n) if !model.is_empty() => {
                let at = g % model.len();
                let (id, level, name) = (model[at].id.clone(), model[at].level, GROUP_NAMES[*n]);
                let out = call(
                    e,
                    "UpdateUserHierarchyGroupName",
                    json!({"InstanceId": i, "HierarchyGroupId": id, "Name": name}),
                );
                assert_eq!(
                    out.is_ok(),
                    !taken(&model, level, name, Some(&id)),
                    "{step:?}: {out:?}"
                );
                if out.is_ok() {
                    model[at].name = name.into();
                }
            }
            GroupStep::Delete(g) if !model.is_empty() => {
                let at = g % model.len();
                let id = model[at].id.clone();
                let out = call(
                    e,
                    "DeleteUserHierarchyGroup",
                    json!({"InstanceId": i, "HierarchyGroupId": id}),
                );
                let has_child = model
                    .iter()
                    .any(|c| c.parent.as_deref() == Some(id.as_str()));
                assert_eq!(out.is_ok(), !has_child, "{step:?}: {out:?}");
                if out.is_ok() {
                    model.remove(at);
                }
            }
            _ => {}
        }
    }
    model
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]

    /// `SearchUserHierarchyGroups` after random group writes, paged with
    /// random page sizes, gives exactly the plain model's matches in
    /// (folded name, id) order, with the exact count on every page.
    #[test]
    fn group_search_pages_match_a_plain_model(
        steps in arb_group_steps(),
        criteria in proptest::option::of(arb_group_criteria()),
        tags in proptest::option::of(arb_group_tags()),
        max in 1..4u32,
    ) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let e = Engine::open(tmp.path()).expect("engine");
        let created = ok(
            &e,
            "CreateInstance",
            json!({"IdentityManagementType": "CONNECT_MANAGED", "InboundCallsEnabled": true, "OutboundCallsEnabled": true}),
        );
        let i = created["Id"].as_str().expect("id").to_string();
        let model = run_group_steps(&e, &i, &steps);
        let made: Vec<(String, String)> = model.iter().map(|g| (g.id.clone(), g.arn.clone())).collect();
        let mut request = json!({"InstanceId": i, "MaxResults": max});
        if let Some(c) = &criteria {
            request["SearchCriteria"] = criteria_json(c, &made);
        }
        if let Some(t) = &tags {
            request["SearchFilter"] = json!({"AttributeFilter": tags_json(t)});
        }
        let mut want: Vec<&ModelGroup> = model
            .iter()
            .filter(|g| criteria.as_ref().is_none_or(|c| model_matches(c, g, &made)))
            .filter(|g| tags.as_ref().is_none_or(|t| model_tags(t, g)))
            .collect();
        want.sort_by_key(|g| (rollcall::criteria::fold(&g.name), g.id.clone()));
        let want: Vec<&str> = want.iter().map(|g| g.id.as_str()).collect();
        let mut got: Vec<String> = Vec::new();
        for _ in 0..=model.len() {
            let page = ok(&e, "SearchUserHierarchyGroups", request.clone());
            proptest::prop_assert_eq!(&page["ApproximateTotalCount"], &json!(want.len()));
            let list = page["UserHierarchyGroups"].as_array().expect("list");
            proptest::prop_assert!(list.len() <= max as usize);
            got.extend(list.iter().map(|g| g["Id"].as_str().expect("id").to_string()));
            match page.get("NextToken") {
                Some(t) => request["NextToken"] = t.clone(),
                None => break,
            }
        }
        proptest::prop_assert_eq!(got, want);
    }
}

/// `DeleteUserHierarchyGroup` answers "has users" from the delta and the
/// index's group term: a member in the delta, a member in the index after
/// a fold, and an indexed member the delta moved out (which no longer
/// counts).
#[test]
fn a_group_in_use_is_seen_in_the_delta_and_in_the_index() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let e = Engine::open(tmp.path()).expect("engine");
    let created = ok(
        &e,
        "CreateInstance",
        json!({"IdentityManagementType": "CONNECT_MANAGED", "InboundCallsEnabled": true, "OutboundCallsEnabled": true}),
    );
    let i = created["Id"].as_str().expect("id").to_string();
    let g = ok(
        &e,
        "CreateUserHierarchyGroup",
        json!({"InstanceId": i, "Name": "EMEA"}),
    )["HierarchyGroupId"]
        .as_str()
        .expect("group")
        .to_string();
    let mut user = new_user(&i, "ann");
    user["HierarchyGroupId"] = json!(g);
    let u = ok(&e, "CreateUser", user)["UserId"]
        .as_str()
        .expect("user")
        .to_string();
    let delete = json!({"InstanceId": i, "HierarchyGroupId": g});
    assert_eq!(
        err(&e, "DeleteUserHierarchyGroup", delete.clone()).0,
        ErrorType::ResourceInUseException
    );
    let inst = e.shared(&i).expect("instance");
    inst.fold().expect("fold");
    assert_eq!(inst.pending().expect("pending"), 0);
    assert_eq!(
        err(&e, "DeleteUserHierarchyGroup", delete.clone()).0,
        ErrorType::ResourceInUseException
    );
    ok(
        &e,
        "UpdateUserHierarchy",
        json!({"InstanceId": i, "UserId": u}),
    );
    ok(&e, "DeleteUserHierarchyGroup", delete);
}

/// The model's limits on members the fuzzer found unchecked: contact
/// details, proficiency keys to remove, `DirectoryId`, `ClientToken`.
#[test]
fn write_members_keep_the_model_limits() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let e = Engine::open(tmp.path()).expect("engine");
    let instance = |extra: Value| {
        let mut input = json!({"IdentityManagementType": "EXISTING_DIRECTORY", "InboundCallsEnabled": true, "OutboundCallsEnabled": true});
        input
            .as_object_mut()
            .expect("object")
            .extend(extra.as_object().expect("object").clone());
        call(&e, "CreateInstance", input)
    };
    let i = instance(json!({"DirectoryId": "d-0123456789"})).expect("created")["Id"]
        .as_str()
        .expect("id")
        .to_string();
    for bad in [
        json!({"DirectoryId": "d-0123456789a"}),
        json!({"DirectoryId": "d-012345678G"}),
        json!({"ClientToken": "x".repeat(501)}),
    ] {
        assert_eq!(
            instance(bad.clone()).expect_err("refused").kind,
            ErrorType::InvalidParameterException,
            "{bad}"
        );
    }
    let mut user = new_user(&i, "ann");
    user["IdentityInfo"] = json!({"Mobile": "+4915112345678", "FirstName": "A".repeat(255)});
    let u = ok(&e, "CreateUser", user)["UserId"]
        .as_str()
        .expect("id")
        .to_string();
    for (op, member) in [
        (
            "UpdateUserIdentityInfo",
            json!({"IdentityInfo": {"Mobile": "555-1234"}}),
        ),
        (
            "UpdateUserIdentityInfo",
            json!({"IdentityInfo": {"Mobile": "+0123"}}),
        ),
        (
            "UpdateUserIdentityInfo",
            json!({"IdentityInfo": {"FirstName": "A".repeat(256)}}),
        ),
        (
            "UpdateUserIdentityInfo",
            json!({"IdentityInfo": {"LastName": "A".repeat(301)}}),
        ),
        (
            "UpdateUserPhoneConfig",
            json!({"PhoneConfig": {"PhoneType": "DESK_PHONE", "DeskPhoneNumber": "+1234567890123456"}}),
        ),
        (
            "DisassociateUserProficiencies",
            json!({"UserProficiencies": [{"AttributeName": "L", "AttributeValue": "x".repeat(65)}]}),
        ),
    ] {
        let mut input = json!({"InstanceId": i, "UserId": u});
        input
            .as_object_mut()
            .expect("object")
            .extend(member.as_object().expect("object").clone());
        assert_eq!(
            err(&e, op, input.clone()).0,
            ErrorType::InvalidParameterException,
            "{input}"
        );
    }
}
