//! The Connect write operations over the wire and from the command line:
//! each on its model `requestUri` and method, path and query members
//! bound, AWS error shapes, and writes seen at once by every connection
//! and by another process.

use crate::util::process::rollcall;
use crate::util::serve::{query_escape, Server};

const JSON: [(&str, &str); 1] = [("Content-Type", "application/json")];

#[test]
fn every_write_operation_is_routed_on_its_request_uri() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(dir.path(), &[]);
    let call = |m: &str, p: &str, body: &str| s.call(m, p, &JSON, body.as_bytes());
    let r = call(
        "PUT",
        "/instance",
        r#"{"IdentityManagementType":"CONNECT_MANAGED","InboundCallsEnabled":true,"OutboundCallsEnabled":true,"InstanceAlias":"wire"}"#,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let i = r.json()["Id"].as_str().expect("id").to_string();
    assert_eq!(
        call("GET", &format!("/instance/{i}"), "").json()["Instance"]["InstanceAlias"],
        "wire"
    );
    assert_eq!(
        call("GET", "/instance?maxResults=1", "").json()["InstanceSummaryList"][0]["Id"],
        i.as_str()
    );

    let r = call(
        "PUT",
        &format!("/user-hierarchy-groups/{i}"),
        r#"{"Name":"EMEA"}"#,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let g = r.json()["HierarchyGroupId"]
        .as_str()
        .expect("group")
        .to_string();
    let user = format!(
        r#"{{"Username":"ann","SecurityProfileIds":["sp"],"RoutingProfileId":"rp","HierarchyGroupId":"{g}","Tags":{{"Team":"blue"}}}}"#
    );
    let r = call("PUT", &format!("/users/{i}"), &user);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let (u, arn) = (
        r.json()["UserId"].as_str().expect("id").to_string(),
        r.json()["UserArn"].as_str().expect("arn").to_string(),
    );
    // The duplicate: 409 with the AWS error header.
    let r = call("PUT", &format!("/users/{i}"), &user);
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (409, "DuplicateResourceException")
    );
    // Read your writes on another connection, at once.
    let search = format!(
        r#"{{"InstanceId":"{i}","SearchFilter":{{"TagFilter":{{"TagCondition":{{"TagKey":"Team","TagValue":"blue"}}}}}}}}"#
    );
    let r = s.call("POST", "/search-users", &JSON, search.as_bytes());
    assert_eq!(
        r.json()["ApproximateTotalCount"],
        1,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    for (path, body) in [
        ("identity-info", r#"{"IdentityInfo":{"FirstName":"Ann"}}"#),
        (
            "phone-config",
            r#"{"PhoneConfig":{"PhoneType":"SOFT_PHONE"}}"#,
        ),
        ("routing-profile", r#"{"RoutingProfileId":"rp-2"}"#),
        ("security-profiles", r#"{"SecurityProfileIds":["sp-2"]}"#),
        ("hierarchy", "{}"),
        (
            "associate-proficiencies",
            r#"{"UserProficiencies":[{"AttributeName":"L","AttributeValue":"es","Level":3}]}"#,
        ),
        (
            "proficiencies",
            r#"{"UserProficiencies":[{"AttributeName":"L","AttributeValue":"es","Level":4}]}"#,
        ),
    ] {
        let r = call("POST", &format!("/users/{i}/{u}/{path}"), body);
        assert_eq!(
            r.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    let described = call("GET", &format!("/users/{i}/{u}"), "").json();
    assert_eq!(described["User"]["IdentityInfo"]["FirstName"], "Ann");
    assert_eq!(described["User"]["RoutingProfileId"], "rp-2");
    let profs = call("GET", &format!("/users/{i}/{u}/proficiencies"), "").json();
    assert_eq!(profs["UserProficiencyList"][0]["Level"], 4.0);
    let r = call(
        "POST",
        &format!("/users/{i}/{u}/disassociate-proficiencies"),
        r#"{"UserProficiencies":[{"AttributeName":"L","AttributeValue":"es"}]}"#,
    );
    assert_eq!(r.status, 200);

    // Tags: the ARN percent-encoded in one path segment; keys in the query.
    let tags = format!("/tags/{}", query_escape(&arn));
    assert_eq!(
        call("POST", &tags, r#"{"tags":{"Shift":"day","Floor":"2"}}"#).status,
        200
    );
    assert_eq!(
        call("DELETE", &format!("{tags}?tagKeys=Floor&tagKeys=Team"), "").status,
        200
    );
    assert_eq!(
        call("GET", &tags, "").json()["tags"],
        serde_json::json!({"Shift": "day"})
    );
    let r = call(
        "GET",
        "/tags/arn%3Aaws%3Aconnect%3Aus-east-1%3A123456789012%3Ainstance%2Fnope",
        "",
    );
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (404, "ResourceNotFoundException")
    );

    // Groups: rename, the structure, in use, delete.
    assert_eq!(
        call(
            "POST",
            &format!("/user-hierarchy-groups/{i}/{g}/name"),
            r#"{"Name":"Europe"}"#
        )
        .status,
        200
    );
    assert_eq!(
        call("GET", &format!("/user-hierarchy-groups/{i}/{g}"), "").json()["HierarchyGroup"]
            ["Name"],
        "Europe"
    );
    assert_eq!(
        call(
            "POST",
            &format!("/user-hierarchy-structure/{i}"),
            r#"{"HierarchyStructure":{"LevelOne":{"Name":"Region"}}}"#
        )
        .status,
        200
    );
    assert_eq!(
        call("GET", &format!("/user-hierarchy-structure/{i}"), "").json()["HierarchyStructure"]
            ["LevelOne"]["Name"],
        "Region"
    );
    assert_eq!(
        call(
            "POST",
            &format!("/users/{i}/{u}/hierarchy"),
            &format!(r#"{{"HierarchyGroupId":"{g}"}}"#)
        )
        .status,
        200
    );
    let r = call("DELETE", &format!("/user-hierarchy-groups/{i}/{g}"), "");
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (409, "ResourceInUseException")
    );
    assert_eq!(call("DELETE", &format!("/users/{i}/{u}"), "").status, 200);
    assert_eq!(
        call("DELETE", &format!("/user-hierarchy-groups/{i}/{g}"), "").status,
        200
    );
    let r = call("DELETE", &format!("/users/{i}/{u}"), "");
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (404, "ResourceNotFoundException")
    );

    // Error shapes: a bad body, a bad member, a wrong method.
    let r = call("PUT", &format!("/users/{i}"), "[1]");
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (400, "SerializationException")
    );
    let r = call(
        "PUT",
        &format!("/users/{i}"),
        r#"{"Username":"x","SecurityProfileIds":[],"RoutingProfileId":"rp"}"#,
    );
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (400, "InvalidParameterException")
    );
    let r = call("PATCH", &format!("/users/{i}"), "{}");
    assert_eq!(r.status, 405);
    let r = call("GET", "/instance?maxResults=x", "");
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (400, "InvalidParameterException")
    );

    // A write from the command line (another process) is seen at once.
    let req = format!(
        r#"{{"InstanceId":"{i}","Username":"cli.user","SecurityProfileIds":["sp"],"RoutingProfileId":"rp"}}"#
    );
    let data = dir.path().to_str().expect("utf-8 path");
    let out = rollcall(
        &["connect", "create-user", "--data", data, "--input", "-"],
        &req,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(created["UserId"].is_string());
    let r = s.call("GET", &format!("/users-summary/{i}"), &[], b"");
    assert_eq!(r.json()["UserSummaryList"][0]["Username"], "cli.user");
    // And its errors are AWS-shaped on stderr, exit code 1.
    let out = rollcall(
        &["connect", "CreateUser", "--data", data, "--input", "-"],
        &req,
    );
    assert_eq!(out.status.code(), Some(1));
    let e: serde_json::Value = serde_json::from_slice(&out.stderr).expect("json error");
    assert_eq!(e["__type"], "DuplicateResourceException");

    assert_eq!(call("DELETE", &format!("/instance/{i}"), "").status, 200);
    let r = call("GET", &format!("/instance/{i}"), "");
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (404, "ResourceNotFoundException")
    );
    s.stop();
}

/// `SearchUserHierarchyGroups` on `POST /search-user-hierarchy-groups`:
/// the body binds every member, pages follow the token, and each broken
/// rule has its AWS error shape.
#[test]
fn search_user_hierarchy_groups_is_routed_pages_and_fails_in_aws_shapes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(dir.path(), &[]);
    let call = |m: &str, p: &str, body: &str| s.call(m, p, &JSON, body.as_bytes());
    let r = call(
        "PUT",
        "/instance",
        r#"{"IdentityManagementType":"CONNECT_MANAGED","InboundCallsEnabled":true,"OutboundCallsEnabled":true}"#,
    );
    let i = r.json()["Id"].as_str().expect("id").to_string();
    let group = |body: String| {
        let r = call("PUT", &format!("/user-hierarchy-groups/{i}"), &body);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()["HierarchyGroupId"]
            .as_str()
            .expect("group")
            .to_string()
    };
    // A tag whose key is the name of a timestamp member stays as it is.
    let emea = group(r#"{"Name":"EMEA","Tags":{"LastModifiedTime":"never"}}"#.into());
    let de = group(format!(r#"{{"Name":"DE","ParentGroupId":"{emea}"}}"#));
    let fr = group(format!(r#"{{"Name":"FR","ParentGroupId":"{emea}"}}"#));
    let search =
        |body: serde_json::Value| call("POST", "/search-user-hierarchy-groups", &body.to_string());
    let below = serde_json::json!({"InstanceId": i, "MaxResults": 1, "SearchCriteria":
        {"StringCondition": {"FieldName": "parentId", "Value": emea, "ComparisonType": "EXACT"}}});
    let first = search(below.clone());
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let first = first.json();
    assert_eq!(first["ApproximateTotalCount"], 2);
    assert_eq!(first["UserHierarchyGroups"][0]["Id"], de.as_str());
    assert_eq!(first["UserHierarchyGroups"][0]["LevelId"], "level-2");
    assert!(first["UserHierarchyGroups"][0]["LastModifiedTime"].is_number());
    assert_eq!(
        first["UserHierarchyGroups"][0]["HierarchyPath"]["LevelOne"]["Id"],
        emea.as_str()
    );
    let mut next = below.clone();
    next["NextToken"] = first["NextToken"].clone();
    let second = search(next.clone()).json();
    assert_eq!(second["UserHierarchyGroups"][0]["Id"], fr.as_str());
    assert!(second.get("NextToken").is_none());
    let tagged = search(
        serde_json::json!({"InstanceId": i, "SearchFilter": {"AttributeFilter":
        {"TagCondition": {"TagKey": "LastModifiedTime", "TagValue": "never"}}}}),
    )
    .json();
    assert_eq!(tagged["ApproximateTotalCount"], 1);
    assert_eq!(
        tagged["UserHierarchyGroups"][0]["Tags"],
        serde_json::json!({"LastModifiedTime": "never"})
    );

    let mut other_query = next;
    other_query["SearchCriteria"]["StringCondition"]["ComparisonType"] = "STARTS_WITH".into();
    let cases = [
        (other_query, 400, "InvalidParameterException"),
        (
            serde_json::json!({"InstanceId": i, "MaxResults": 101}),
            400,
            "InvalidParameterException",
        ),
        (
            serde_json::json!({"InstanceId": i, "SearchCriteria": {"StringCondition":
                {"FieldName": "username", "Value": "x", "ComparisonType": "EXACT"}}}),
            400,
            "InvalidParameterException",
        ),
        (
            serde_json::json!({"InstanceId": i, "SearchCriteria": {"HierarchyGroupCondition": {}}}),
            400,
            "SerializationException",
        ),
        (serde_json::json!({}), 400, "InvalidParameterException"),
        (
            serde_json::json!({"InstanceId": "nope"}),
            404,
            "ResourceNotFoundException",
        ),
    ];
    for (body, status, kind) in cases {
        let r = search(body.clone());
        assert_eq!(
            (r.status, r.error_type().as_str()),
            (status, kind),
            "{body}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    let r = call("GET", "/search-user-hierarchy-groups", "");
    assert_eq!(r.status, 405);
    s.stop();
}
