"""The Connect write operations through boto3, with botocore's parameter
validation on: the whole write flow, every error it can give, the
paginators of the new list operations, and a test written the way a
user's pytest fixture sets up its directory (create, then search)."""

import uuid

import pytest
from botocore.exceptions import ClientError


def code(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def instance(connect):
    """A fresh instance, deleted afterwards, as a user's suite would make one."""
    out = connect.create_instance(
        IdentityManagementType="CONNECT_MANAGED",
        InstanceAlias=f"t-{uuid.uuid4().hex[:12]}",
        InboundCallsEnabled=True,
        OutboundCallsEnabled=True,
    )
    yield out["Id"]
    connect.delete_instance(InstanceId=out["Id"])


@pytest.fixture
def team(connect, instance):
    """A user's fixture: two groups and a few users with tags and proficiencies."""
    emea = connect.create_user_hierarchy_group(InstanceId=instance, Name="EMEA")["HierarchyGroupId"]
    de = connect.create_user_hierarchy_group(InstanceId=instance, Name="DE", ParentGroupId=emea)["HierarchyGroupId"]
    ids = {}
    for name, group, team_tag in [("ann", de, "blue"), ("bob", emea, "red"), ("anton", de, "blue")]:
        out = connect.create_user(
            InstanceId=instance,
            Username=name,
            Password="Secret123",
            IdentityInfo={"FirstName": name.title(), "LastName": "Tester"},
            PhoneConfig={"PhoneType": "SOFT_PHONE"},
            SecurityProfileIds=["agent"],
            RoutingProfileId="basic",
            HierarchyGroupId=group,
            Tags={"Team": team_tag},
        )
        ids[name] = out["UserId"]
    connect.associate_user_proficiencies(
        InstanceId=instance, UserId=ids["ann"],
        UserProficiencies=[{"AttributeName": "Language", "AttributeValue": "Spanish", "Level": 4.0}],
    )
    return {"instance": instance, "emea": emea, "de": de, "users": ids}


def test_a_fixture_made_directory_is_searchable_at_once(connect, team):
    page = connect.search_users(
        InstanceId=team["instance"],
        SearchCriteria={"AndConditions": [
            {"StringCondition": {"FieldName": "Username", "Value": "an", "ComparisonType": "STARTS_WITH"}},
            {"HierarchyGroupCondition": {"Value": team["emea"], "HierarchyGroupMatchType": "WITH_CHILD_GROUPS"}},
        ]},
        SearchFilter={"TagFilter": {"TagCondition": {"TagKey": "Team", "TagValue": "blue"}}},
    )
    assert [u["Username"] for u in page["Users"]] == ["ann", "anton"]
    assert page["ApproximateTotalCount"] == 2
    spanish = connect.search_users(
        InstanceId=team["instance"],
        SearchCriteria={"ListCondition": {"TargetListType": "PROFICIENCIES", "Conditions": [
            {"StringCondition": {"FieldName": "Name", "Value": "Language", "ComparisonType": "EXACT"}}]}},
    )
    assert [u["Username"] for u in spanish["Users"]] == ["ann"]


def test_updates_deletes_and_tags(connect, team):
    i, ann = team["instance"], team["users"]["ann"]
    connect.update_user_identity_info(InstanceId=i, UserId=ann, IdentityInfo={"FirstName": "Anne"})
    connect.update_user_phone_config(InstanceId=i, UserId=ann, PhoneConfig={"PhoneType": "DESK_PHONE", "DeskPhoneNumber": "+15555550100"})
    connect.update_user_routing_profile(InstanceId=i, UserId=ann, RoutingProfileId="premium")
    connect.update_user_security_profiles(InstanceId=i, UserId=ann, SecurityProfileIds=["agent", "qa"])
    connect.update_user_hierarchy(InstanceId=i, UserId=ann, HierarchyGroupId=team["emea"])
    connect.update_user_proficiencies(InstanceId=i, UserId=ann, UserProficiencies=[
        {"AttributeName": "Language", "AttributeValue": "Spanish", "Level": 2.0}])
    user = connect.describe_user(InstanceId=i, UserId=ann)["User"]
    assert user["IdentityInfo"]["FirstName"] == "Anne"
    assert user["RoutingProfileId"] == "premium"
    assert user["HierarchyGroupId"] == team["emea"]
    profs = connect.list_user_proficiencies(InstanceId=i, UserId=ann)["UserProficiencyList"]
    assert profs[0]["Level"] == 2.0
    connect.disassociate_user_proficiencies(InstanceId=i, UserId=ann, UserProficiencies=[
        {"AttributeName": "Language", "AttributeValue": "Spanish"}])
    user_arn = user["Arn"]
    connect.tag_resource(resourceArn=user_arn, tags={"Shift": "day"})
    connect.untag_resource(resourceArn=user_arn, tagKeys=["Team"])
    assert connect.list_tags_for_resource(resourceArn=user_arn)["tags"] == {"Shift": "day"}
    found = connect.search_users(InstanceId=i, SearchFilter={"TagFilter": {"TagCondition": {"TagKey": "Shift", "TagValue": "day"}}})
    assert [u["Id"] for u in found["Users"]] == [ann]
    connect.update_user_hierarchy_group_name(InstanceId=i, HierarchyGroupId=team["emea"], Name="Europe")
    group = connect.describe_user_hierarchy_group(InstanceId=i, HierarchyGroupId=team["de"])["HierarchyGroup"]
    assert group["HierarchyPath"]["LevelOne"]["Name"] == "Europe"
    connect.update_user_hierarchy_structure(InstanceId=i, HierarchyStructure={"LevelOne": {"Name": "Region"}, "LevelTwo": {"Name": "Country"}})
    structure = connect.describe_user_hierarchy_structure(InstanceId=i)["HierarchyStructure"]
    assert structure["LevelOne"]["Name"] == "Region"
    connect.delete_user(InstanceId=i, UserId=ann)
    names = [u["Username"] for u in connect.search_users(InstanceId=i)["Users"]]
    assert names == ["anton", "bob"]


def test_every_error(connect, team):
    i = team["instance"]
    with pytest.raises(ClientError) as e:
        connect.create_user(InstanceId=i, Username="ann", SecurityProfileIds=["a"], RoutingProfileId="r")
    assert code(e) == ("DuplicateResourceException", 409)
    with pytest.raises(ClientError) as e:
        connect.create_user(InstanceId=i, Username="weak", Password="password", SecurityProfileIds=["a"], RoutingProfileId="r")
    assert code(e) == ("InvalidParameterException", 400)
    with pytest.raises(ClientError) as e:
        connect.create_user(InstanceId="nope", Username="x", SecurityProfileIds=["a"], RoutingProfileId="r")
    assert code(e) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        connect.delete_user(InstanceId=i, UserId="nobody")
    assert code(e) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        connect.delete_user_hierarchy_group(InstanceId=i, HierarchyGroupId=team["emea"])
    assert code(e) == ("ResourceInUseException", 409)
    with pytest.raises(ClientError) as e:
        connect.create_user_hierarchy_group(InstanceId=i, Name="EMEA")
    assert code(e) == ("DuplicateResourceException", 409)
    connect.update_user_hierarchy_group_name(InstanceId=i, HierarchyGroupId=team["de"], Name="DE")
    connect.create_user_hierarchy_group(InstanceId=i, Name="FR", ParentGroupId=team["emea"])
    with pytest.raises(ClientError) as e:
        connect.update_user_hierarchy_group_name(InstanceId=i, HierarchyGroupId=team["de"], Name="FR")
    assert code(e) == ("DuplicateResourceException", 409)
    with pytest.raises(ClientError) as e:
        connect.associate_user_proficiencies(InstanceId=i, UserId=team["users"]["bob"], UserProficiencies=[
            {"AttributeName": "Language", "AttributeValue": "Spanish", "Level": 5.5}])
    assert code(e) == ("InvalidParameterException", 400)
    with pytest.raises(ClientError) as e:
        connect.tag_resource(resourceArn="arn:aws:connect:us-east-1:123456789012:instance/nope", tags={"a": "b"})
    assert code(e) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        connect.tag_resource(resourceArn=f"arn:aws:connect:us-east-1:123456789012:instance/{i}", tags={"aws:x": "b"})
    assert code(e) == ("InvalidParameterException", 400)
    alias = connect.describe_instance(InstanceId=i)["Instance"]["InstanceAlias"]
    with pytest.raises(ClientError) as e:
        connect.create_instance(IdentityManagementType="SAML", InstanceAlias=alias, InboundCallsEnabled=True, OutboundCallsEnabled=True)
    assert code(e) == ("InvalidRequestException", 400)


def test_list_instances_paginator_shows_created_and_imported(connect, instance):
    seen = []
    for page in connect.get_paginator("list_instances").paginate(PaginationConfig={"PageSize": 1}):
        assert len(page["InstanceSummaryList"]) <= 1
        seen.extend(s["Id"] for s in page["InstanceSummaryList"])
    assert instance in seen and "demo" in seen
    assert len(seen) == len(set(seen))
    tags = connect.list_tags_for_resource(resourceArn=f"arn:aws:connect:us-east-1:123456789012:instance/{instance}")
    assert tags["tags"] == {}


def test_search_user_hierarchy_groups_criteria_tags_and_paginator(connect, team):
    i = team["instance"]
    connect.create_user_hierarchy_group(InstanceId=i, Name="FR", ParentGroupId=team["emea"], Tags={"Site": "paris"})
    below = connect.search_user_hierarchy_groups(
        InstanceId=i,
        SearchCriteria={"OrConditions": [
            {"StringCondition": {"FieldName": "parentId", "Value": team["emea"], "ComparisonType": "EXACT"}},
            {"StringCondition": {"FieldName": "name", "Value": "em", "ComparisonType": "STARTS_WITH"}},
        ]},
    )
    assert [g["Name"] for g in below["UserHierarchyGroups"]] == ["DE", "EMEA", "FR"]
    assert below["ApproximateTotalCount"] == 3
    de = next(g for g in below["UserHierarchyGroups"] if g["Name"] == "DE")
    assert de["LevelId"] == "level-2" and de["HierarchyPath"]["LevelOne"]["Id"] == team["emea"]
    tagged = connect.search_user_hierarchy_groups(
        InstanceId=i,
        SearchCriteria={"StringCondition": {"FieldName": "levelId", "Value": "level-2", "ComparisonType": "EXACT"}},
        SearchFilter={"AttributeFilter": {"TagCondition": {"TagKey": "Site", "TagValue": "paris"}}},
    )
    assert [g["Name"] for g in tagged["UserHierarchyGroups"]] == ["FR"]
    assert tagged["UserHierarchyGroups"][0]["Tags"] == {"Site": "paris"}
    seen = []
    for page in connect.get_paginator("search_user_hierarchy_groups").paginate(
            InstanceId=i, PaginationConfig={"PageSize": 1}):
        assert len(page["UserHierarchyGroups"]) <= 1 and page["ApproximateTotalCount"] == 3
        seen.extend(g["Name"] for g in page["UserHierarchyGroups"])
    assert seen == ["DE", "EMEA", "FR"]
    with pytest.raises(ClientError) as e:
        connect.search_user_hierarchy_groups(
            InstanceId=i, SearchCriteria={"StringCondition": {"FieldName": "username", "Value": "x", "ComparisonType": "EXACT"}})
    assert code(e) == ("InvalidParameterException", 400)
    with pytest.raises(ClientError) as e:
        connect.search_user_hierarchy_groups(InstanceId=i, NextToken="garbage")
    assert code(e) == ("InvalidParameterException", 400)
    with pytest.raises(ClientError) as e:
        connect.search_user_hierarchy_groups(InstanceId="nope")
    assert code(e) == ("ResourceNotFoundException", 404)
