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
