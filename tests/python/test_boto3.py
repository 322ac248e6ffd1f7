"""Conformance through a real client: boto3 (botocore's own request
validation on) against `rollcall serve`, both services, every operation,
every error type docs/semantics.md names, paginators, and SigV4 accept/reject."""

import base64
import datetime
import http.client
import json
import math
import random
import urllib.error
import urllib.parse
import urllib.request

import botocore.auth
import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, INSTANCE, SECRET, npy

DIM = 16


def unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def noisy(base, rng, noise=0.05):
    return unit([x + rng.gauss(0, noise) for x in base])


def code(err):
    return err.value.response["Error"]["Code"]


def status(err):
    return err.value.response["ResponseMetadata"]["HTTPStatusCode"]


def raw(server, method, path, body=b"", headers=None):
    u = urllib.parse.urlsplit(server.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        conn.close()


# ---------------------------------------------------------------- Connect


def test_search_users_selective_query(connect):
    r = connect.search_users(
        InstanceId=INSTANCE,
        SearchCriteria={"StringCondition": {"FieldName": "Username", "Value": "a", "ComparisonType": "STARTS_WITH"}},
        MaxResults=5,
    )
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert 0 < len(r["Users"]) <= 5
    assert all(u["Username"].casefold().startswith("a") for u in r["Users"])
    assert r["ApproximateTotalCount"] >= len(r["Users"])


def test_search_users_paginator_visits_every_match_once(connect):
    criteria = {"StringCondition": {"FieldName": "Username", "Value": "an", "ComparisonType": "CONTAINS"}}
    first = connect.search_users(InstanceId=INSTANCE, SearchCriteria=criteria, MaxResults=500)
    pages = connect.get_paginator("search_users").paginate(
        InstanceId=INSTANCE, SearchCriteria=criteria, PaginationConfig={"PageSize": 7}
    )
    ids = [u["Id"] for page in pages for u in page["Users"]]
    assert len(ids) == len(set(ids)) == first["ApproximateTotalCount"]
    assert ids == [u["Id"] for u in first["Users"]]


def test_search_users_with_filter_and_hierarchy(connect):
    r = connect.search_users(
        InstanceId=INSTANCE,
        SearchFilter={"TagFilter": {"TagCondition": {"TagKey": "Team", "TagValue": "red"}}},
        SearchCriteria={"HierarchyGroupCondition": {"Value": "g-emea", "HierarchyGroupMatchType": "WITH_CHILD_GROUPS"}},
    )
    assert all(u["Tags"]["Team"] == "red" for u in r["Users"])


def test_describe_user_and_timestamps(connect):
    u = connect.search_users(InstanceId=INSTANCE, MaxResults=1)["Users"][0]
    d = connect.describe_user(InstanceId=INSTANCE, UserId=u["Id"])["User"]
    assert d["Id"] == u["Id"] and d["Username"] == u["Username"]
    assert "Proficiencies" not in d


def test_list_users_paginator(connect):
    total = connect.search_users(InstanceId=INSTANCE, MaxResults=1)["ApproximateTotalCount"]
    pages = list(connect.get_paginator("list_users").paginate(InstanceId=INSTANCE, PaginationConfig={"PageSize": 150}))
    ids = [u["Id"] for p in pages for u in p["UserSummaryList"]]
    assert len(pages) > 1
    assert len(ids) == len(set(ids)) == total


def test_hierarchy_groups(connect):
    pages = connect.get_paginator("list_user_hierarchy_groups").paginate(
        InstanceId=INSTANCE, PaginationConfig={"PageSize": 25}
    )
    groups = [g for p in pages for g in p["UserHierarchyGroupSummaryList"]]
    assert len(groups) == len({g["Id"] for g in groups}) > 25
    g = connect.describe_user_hierarchy_group(InstanceId=INSTANCE, HierarchyGroupId=groups[0]["Id"])
    assert g["HierarchyGroup"]["Id"] == groups[0]["Id"]
    assert "HierarchyPath" in g["HierarchyGroup"]
    s = connect.describe_user_hierarchy_structure(InstanceId=INSTANCE)["HierarchyStructure"]
    assert "LevelOne" in s


def test_list_user_proficiencies_paginator(connect):
    r = connect.search_users(
        InstanceId=INSTANCE,
        SearchCriteria={"ListCondition": {"TargetListType": "PROFICIENCIES", "Conditions": [
            {"NumberCondition": {"FieldName": "level", "MinValue": 1, "ComparisonType": "GREATER_OR_EQUAL"}}]}},
        MaxResults=1,
    )
    uid = r["Users"][0]["Id"]
    pages = connect.get_paginator("list_user_proficiencies").paginate(
        InstanceId=INSTANCE, UserId=uid, PaginationConfig={"PageSize": 1}
    )
    profs = [p for page in pages for p in page["UserProficiencyList"]]
    assert profs and all({"AttributeName", "AttributeValue", "Level"} <= set(p) for p in profs)


def test_connect_resource_not_found_is_404(connect):
    with pytest.raises(connect.exceptions.ResourceNotFoundException) as e:
        connect.search_users(InstanceId="no-such-instance")
    assert status(e) == 404
    with pytest.raises(connect.exceptions.ResourceNotFoundException):
        connect.describe_user(InstanceId=INSTANCE, UserId="no-such-user")
    with pytest.raises(connect.exceptions.ResourceNotFoundException):
        connect.describe_user_hierarchy_group(InstanceId=INSTANCE, HierarchyGroupId="no-such-group")
    with pytest.raises(connect.exceptions.ResourceNotFoundException):
        connect.list_user_proficiencies(InstanceId=INSTANCE, UserId="no-such-user")


def test_connect_invalid_parameter(connect):
    with pytest.raises(connect.exceptions.InvalidParameterException) as e:
        connect.search_users(InstanceId=INSTANCE, SearchCriteria={"OrConditions": []})
    assert status(e) == 400
    assert e.value.response["Error"]["Message"]
    with pytest.raises(connect.exceptions.InvalidParameterException):
        connect.search_users(InstanceId=INSTANCE, NextToken="not-a-token")
    with pytest.raises(connect.exceptions.InvalidParameterException):
        connect.list_users(InstanceId=INSTANCE, NextToken="not-a-token")


def test_connect_invalid_request(connect):
    with pytest.raises(connect.exceptions.InvalidRequestException) as e:
        connect.search_users(
            InstanceId=INSTANCE,
            SearchFilter={
                "TagFilter": {"TagCondition": {"TagKey": "Team", "TagValue": "red"}},
                "UserAttributeFilter": {"TagCondition": {"TagKey": "Team", "TagValue": "red"}},
            },
        )
    assert status(e) == 400


def test_connect_serialization_exception_on_malformed_json(server):
    st, headers, body = raw(server, "POST", "/search-users", b'{"InstanceId": ', {"Content-Type": "application/json"})
    assert st == 400
    assert headers["x-amzn-errortype"] == "SerializationException"
    assert json.loads(body)["message"]


def test_unknown_path_is_404(server):
    st, headers, _ = raw(server, "GET", "/no/such/path")
    assert st == 404 and headers["x-amzn-errortype"] == "UnknownOperationException"


def test_health(server):
    st, _, body = raw(server, "GET", "/health")
    assert st == 200 and json.loads(body)["status"] == "ok"


# ---------------------------------------------------------------- Rekognition


@pytest.fixture(scope="module")
def collection(server):
    rk = server.client("rekognition")
    rk.create_collection(CollectionId="staff")
    rng = random.Random(11)
    bases = [unit([rng.gauss(0, 1) for _ in range(DIM)]) for _ in range(6)]
    rows = [noisy(b, rng) for b in bases for _ in range(3)]
    r = rk.index_faces(CollectionId="staff", Image={"Bytes": npy(rows)}, ExternalImageId="photo-1")
    faces = [f["Face"]["FaceId"] for f in r["FaceRecords"]]
    assert len(faces) == 18
    return {"id": "staff", "faces": faces, "bases": bases, "rng": rng}


def test_collections_lifecycle_and_paginator(rekognition):
    for i in range(5):
        rekognition.create_collection(CollectionId=f"tmp-{i}")
    with pytest.raises(rekognition.exceptions.ResourceAlreadyExistsException) as e:
        rekognition.create_collection(CollectionId="tmp-0")
    assert status(e) == 400
    pages = rekognition.get_paginator("list_collections").paginate(PaginationConfig={"PageSize": 2})
    ids = [c for p in pages for c in p["CollectionIds"]]
    assert {f"tmp-{i}" for i in range(5)} <= set(ids)
    for i in range(5):
        assert rekognition.delete_collection(CollectionId=f"tmp-{i}")["StatusCode"] == 200
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException) as e:
        rekognition.describe_collection(CollectionId="tmp-0")
    assert status(e) == 400


def test_describe_collection(rekognition, collection):
    d = rekognition.describe_collection(CollectionId=collection["id"])
    assert d["FaceCount"] == 18
    assert isinstance(d["CreationTimestamp"], datetime.datetime)
    assert d["FaceModelVersion"] == f"vector-{DIM}"


def test_list_faces_paginator(rekognition, collection):
    pages = rekognition.get_paginator("list_faces").paginate(
        CollectionId=collection["id"], PaginationConfig={"PageSize": 5}
    )
    ids = [f["FaceId"] for p in pages for f in p["Faces"]]
    assert sorted(ids) == sorted(collection["faces"])


def test_search_faces_and_by_image(rekognition, collection):
    f = collection["faces"][0]
    r = rekognition.search_faces(CollectionId=collection["id"], FaceId=f, FaceMatchThreshold=50)
    assert r["SearchedFaceId"] == f
    assert {m["Face"]["FaceId"] for m in r["FaceMatches"][:2]} == set(collection["faces"][1:3])
    probe = npy([collection["bases"][0]])
    r = rekognition.search_faces_by_image(CollectionId=collection["id"], Image={"Bytes": probe}, FaceMatchThreshold=50)
    assert r["FaceMatches"][0]["Face"]["FaceId"] in collection["faces"][:3]


def test_users_associate_search_disassociate(rekognition, collection):
    c, faces = collection["id"], collection["faces"]
    for i in range(3):
        rekognition.create_user(CollectionId=c, UserId=f"user-{i}")
    with pytest.raises(rekognition.exceptions.ConflictException) as e:
        rekognition.create_user(CollectionId=c, UserId="user-0")
    assert status(e) == 400
    for i in range(3):
        r = rekognition.associate_faces(CollectionId=c, UserId=f"user-{i}", FaceIds=faces[3 * i:3 * i + 3])
        assert len(r["AssociatedFaces"]) == 3, r
    r = rekognition.associate_faces(CollectionId=c, UserId="user-0", FaceIds=[faces[3], "00000000-0000-0000-0000-000000000000"])
    reasons = {u["FaceId"]: u["Reasons"] for u in r["UnsuccessfulFaceAssociations"]}
    assert reasons[faces[3]] == ["ASSOCIATED_TO_A_DIFFERENT_USER"]
    r = rekognition.search_users(CollectionId=c, FaceId=faces[9], UserMatchThreshold=50)
    assert r["UserMatches"] == [] or r["UserMatches"][0]["User"]["UserId"] != "nobody"
    r = rekognition.search_users(CollectionId=c, FaceId=faces[0])
    assert r["UserMatches"][0]["User"]["UserId"] == "user-0"
    r = rekognition.search_users_by_image(CollectionId=c, Image={"Bytes": npy([collection["bases"][1]])})
    assert r["UserMatches"][0]["User"]["UserId"] == "user-1"
    pages = rekognition.get_paginator("list_users").paginate(CollectionId=c, PaginationConfig={"PageSize": 2})
    assert [u["UserId"] for p in pages for u in p["Users"]][:3] == ["user-0", "user-1", "user-2"]
    r = rekognition.disassociate_faces(CollectionId=c, UserId="user-2", FaceIds=faces[6:9])
    assert len(r["DisassociatedFaces"]) == 3
    rekognition.delete_user(CollectionId=c, UserId="user-2")
    r = rekognition.delete_faces(CollectionId=c, FaceIds=[faces[17]])
    assert r["DeletedFaces"] == [faces[17]]


def test_search_users_needs_exactly_one_probe(rekognition, collection):
    with pytest.raises(rekognition.exceptions.InvalidParameterException) as e:
        rekognition.search_users(CollectionId=collection["id"])
    assert status(e) == 400


def test_unknown_face_id_is_invalid_parameter(rekognition, collection):
    # AWS answers a FaceId the collection does not hold with a bad parameter.
    missing = "abcdef00-0000-4000-8000-000000000000"
    with pytest.raises(rekognition.exceptions.InvalidParameterException) as e:
        rekognition.search_faces(CollectionId=collection["id"], FaceId=missing)
    assert status(e) == 400
    with pytest.raises(rekognition.exceptions.InvalidParameterException):
        rekognition.search_users(CollectionId=collection["id"], FaceId=missing)


def test_max_results_zero_pages_terminate(rekognition, collection):
    pages = 0
    token = {}
    while True:
        r = rekognition.list_faces(CollectionId=collection["id"], MaxResults=0, **token)
        pages += 1
        assert pages < 10
        if "NextToken" not in r:
            break
        token = {"NextToken": r["NextToken"]}
    count = rekognition.describe_collection(CollectionId=collection["id"])["FaceCount"]
    assert pages == 1 and len(r["Faces"]) == count


def test_idempotency_token_mismatch(rekognition, collection):
    rekognition.create_user(CollectionId=collection["id"], UserId="tok-a", ClientRequestToken="token-1")
    rekognition.create_user(CollectionId=collection["id"], UserId="tok-a", ClientRequestToken="token-1")
    with pytest.raises(rekognition.exceptions.IdempotentParameterMismatchException):
        rekognition.create_user(CollectionId=collection["id"], UserId="tok-b", ClientRequestToken="token-1")


def test_invalid_image_format(rekognition, collection):
    with pytest.raises(rekognition.exceptions.InvalidImageFormatException) as e:
        rekognition.index_faces(CollectionId=collection["id"], Image={"Bytes": b"\xff\xd8\xff a jpeg"})
    assert status(e) == 400


def test_image_too_large(rekognition, collection):
    with pytest.raises(rekognition.exceptions.ImageTooLargeException):
        rekognition.search_faces_by_image(CollectionId=collection["id"], Image={"Bytes": b"\0" * (5 * 1024 * 1024 + 1)})


def test_invalid_pagination_token(rekognition, collection):
    with pytest.raises(rekognition.exceptions.InvalidPaginationTokenException):
        rekognition.list_faces(CollectionId=collection["id"], NextToken="garbage")


def test_service_quota_exceeded(rekognition):
    c = "quota"
    rekognition.create_collection(CollectionId=c)
    rng = random.Random(5)
    base = unit([rng.gauss(0, 1) for _ in range(DIM)])
    rows = [noisy(base, rng, 0.01) for _ in range(101)]
    # An image holds at most 100 faces: the 101st comes in a second image.
    faces = [
        f["Face"]["FaceId"]
        for part in (rows[:100], rows[100:])
        for f in rekognition.index_faces(CollectionId=c, Image={"Bytes": npy(part)})["FaceRecords"]
    ]
    assert len(faces) == 101
    r = rekognition.index_faces(CollectionId=c, Image={"Bytes": npy(rows)}, MaxFaces=1000)
    assert len(r["FaceRecords"]) == 100 and len(r.get("UnindexedFaces", [])) == 0
    rekognition.delete_faces(CollectionId=c, FaceIds=[f["Face"]["FaceId"] for f in r["FaceRecords"]])
    rekognition.create_user(CollectionId=c, UserId="many")
    assert len(rekognition.associate_faces(CollectionId=c, UserId="many", FaceIds=faces[:100])["AssociatedFaces"]) == 100
    with pytest.raises(rekognition.exceptions.ServiceQuotaExceededException):
        rekognition.associate_faces(CollectionId=c, UserId="many", FaceIds=faces[100:])
    rekognition.delete_collection(CollectionId=c)


def test_dimension_mismatch_is_invalid_parameter(rekognition, collection):
    with pytest.raises(rekognition.exceptions.InvalidParameterException):
        rekognition.index_faces(CollectionId=collection["id"], Image={"Bytes": npy([[1.0, 0.0, 0.0]])})


def test_rekognition_protocol_errors(server):
    h = {"Content-Type": "application/x-amz-json-1.1"}
    st, _, body = raw(server, "POST", "/", b"{}", h)
    assert st == 400 and json.loads(body)["__type"] == "UnknownOperationException"
    st, _, body = raw(server, "POST", "/", b"{}", {**h, "X-Amz-Target": "RekognitionService.DetectLabels"})
    assert st == 400 and json.loads(body)["__type"] == "UnknownOperationException"
    st, _, body = raw(server, "POST", "/", b"{not json", {**h, "X-Amz-Target": "RekognitionService.ListCollections"})
    assert st == 400 and json.loads(body)["__type"] == "SerializationException"


def test_body_above_the_limit_is_413(server):
    big = b'{"CollectionId": "staff", "Image": {"Bytes": "' + b"A" * (9 * 1024 * 1024) + b'"}}'
    st, _, body = raw(server, "POST", "/", big, {"X-Amz-Target": "RekognitionService.SearchFacesByImage",
                                                 "Content-Type": "application/x-amz-json-1.1"})
    assert st == 413
    assert "limit" in json.loads(body)["Message"]


# ---------------------------------------------------------------- SigV4


def test_sigv4_accepts_the_right_secret(secure_server):
    rk = secure_server.client("rekognition")
    assert "CollectionIds" in rk.list_collections()
    c = secure_server.client("connect")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.list_users(InstanceId="nothing-here")


def test_sigv4_covers_query_strings_and_encoded_paths(secure_server):
    c = secure_server.client("connect")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.list_users(InstanceId="a b:é~", MaxResults=5, NextToken="x+y/z=")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.list_user_proficiencies(InstanceId="inst", UserId="u/1 %", MaxResults=3)
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.search_users(InstanceId="ünïcode", SearchCriteria={"StringCondition": {
            "FieldName": "Username", "Value": "ß", "ComparisonType": "EXACT"}})


def test_sigv4_rejects_a_wrong_secret(secure_server):
    for service in ("rekognition", "connect"):
        cl = secure_server.client(service, secret="wrong")
        with pytest.raises(ClientError) as e:
            if service == "rekognition":
                cl.list_collections()
            else:
                cl.list_users(InstanceId=INSTANCE)
        assert code(e) == "InvalidSignatureException" and status(e) == 403


def test_sigv4_rejects_an_unknown_key(secure_server):
    rk = secure_server.client("rekognition", key="AKIDUNKNOWN")
    with pytest.raises(ClientError) as e:
        rk.list_collections()
    assert code(e) == "UnrecognizedClientException" and status(e) == 403


def test_sigv4_rejects_an_altered_body(secure_server):
    rk = secure_server.client("rekognition")

    def tamper(request, **kwargs):
        request.body = request.body.replace(b"MaxResults", b"maxresults")

    rk.meta.events.register("before-send.rekognition.ListCollections", tamper)
    with pytest.raises(ClientError) as e:
        rk.list_collections(MaxResults=5)
    assert code(e) == "InvalidSignatureException" and status(e) == 403


def test_sigv4_rejects_a_stale_timestamp(secure_server, monkeypatch):
    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: real() - datetime.timedelta(minutes=16))
    rk = secure_server.client("rekognition")
    with pytest.raises(ClientError) as e:
        rk.list_collections()
    assert code(e) == "InvalidSignatureException" and status(e) == 403
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: real() - datetime.timedelta(minutes=10))
    assert "CollectionIds" in secure_server.client("rekognition").list_collections()


def test_sigv4_rejects_an_unsigned_request(secure_server):
    st, headers, body = raw(secure_server, "POST", "/", b"{}", {"X-Amz-Target": "RekognitionService.ListCollections"})
    assert st == 403 and json.loads(body)["__type"] == "MissingAuthenticationTokenException"


def fetch(url):
    """GET a URL as a browser would: status, headers, body."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_sigv4_presigned_urls(secure_server, monkeypatch):
    params = {"InstanceId": "nothing-here", "UserId": "u-1"}
    url = secure_server.client("connect").generate_presigned_url("describe_user", Params=params, ExpiresIn=60)
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=60" in url
    st, _, body = fetch(url)
    assert st == 404, body  # the signature passed; the instance does not exist

    def rejected(url, needle):
        st, headers, body = fetch(url)
        assert st == 403, body
        assert headers["x-amzn-ErrorType"].startswith("InvalidSignatureException")
        assert needle in json.loads(body)["message"]

    rejected(url.replace("u-1", "u-2"), "does not match")
    wrong = secure_server.client("connect", secret="wrong")
    rejected(wrong.generate_presigned_url("describe_user", Params=params, ExpiresIn=60), "does not match")
    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: real() - datetime.timedelta(minutes=2))
    stale = secure_server.client("connect").generate_presigned_url("describe_user", Params=params, ExpiresIn=60)
    rejected(stale, "expired")


# ---------------------------------------------------------------- freshness


def test_import_by_the_cli_is_visible_without_restart(server, connect, tmp_path):
    from conftest import run
    users = tmp_path / "u.jsonl"
    users.write_text(json.dumps({"Id": "fresh-1", "Username": "fresh.face.zz"}) + "\n")
    with pytest.raises(connect.exceptions.ResourceNotFoundException):
        connect.describe_user(InstanceId="late", UserId="fresh-1")
    run("connect", "import", "--data", server.data, "--instance", "late", users)
    assert connect.describe_user(InstanceId="late", UserId="fresh-1")["User"]["Username"] == "fresh.face.zz"
    users.write_text(json.dumps({"Id": "fresh-2", "Username": "fresh.face.yy"}) + "\n")
    run("connect", "import", "--data", server.data, "--instance", "late", users)
    r = connect.search_users(InstanceId="late")
    assert r["ApproximateTotalCount"] == 2



def test_face_writes_by_the_cli_are_seen_by_the_server(server, rekognition, tmp_path):
    """Another process writes the collection the server holds in memory: the
    server's next call sees it (and the file lock orders the writers)."""
    from conftest import run
    rekognition.create_collection(CollectionId="shared")
    r = rekognition.index_faces(CollectionId="shared", Image={"Bytes": npy([unit([1.0] * DIM)])})
    first = r["FaceRecords"][0]["Face"]["FaceId"]
    vectors = tmp_path / "more.npy"
    run("faces", "random", "--rows", 50, "--dim", DIM, "--seed", 3, vectors)
    run("faces", "import", "--data", server.data, "--collection", "shared", vectors)
    assert rekognition.describe_collection(CollectionId="shared")["FaceCount"] == 51
    body = tmp_path / "req.json"
    body.write_text(json.dumps({"CollectionId": "shared", "UserId": "cli-user"}))
    run("rekognition", "CreateUser", "--data", server.data, "--input", body)
    body.write_text(json.dumps({"CollectionId": "shared", "UserId": "cli-user", "FaceIds": [first]}))
    run("rekognition", "AssociateFaces", "--data", server.data, "--input", body)
    users = rekognition.list_users(CollectionId="shared")["Users"]
    assert users == [{"UserId": "cli-user", "UserStatus": "ACTIVE"}]
    # And the server's own writes after that land behind the CLI's.
    rekognition.create_user(CollectionId="shared", UserId="server-user")
    out = run("rekognition", "ListUsers", "--data", server.data, "--input", "-",
              input=json.dumps({"CollectionId": "shared"}))
    assert [u["UserId"] for u in json.loads(out.stdout)["Users"]] == ["cli-user", "server-user"]
    rekognition.delete_collection(CollectionId="shared")

def example_block():
    """The boto3 example of the serve section (README.md, else docs/serve.md)."""
    from conftest import ROOT
    for doc in (ROOT / "README.md", ROOT / "docs" / "serve.md"):
        text = doc.read_text() if doc.exists() else ""
        marker = text.find("<!-- serve-example")
        if marker >= 0:
            start = text.index("```python\n", marker) + len("```python\n")
            return text[start:text.index("```", start)]
    pytest.fail("no serve example block in README.md or docs/serve.md")


def test_readme_example_works_as_written(server, capsys):
    code_text = example_block()
    assert len(code_text.strip().splitlines()) == 5
    exec(compile(code_text.replace("http://127.0.0.1:4599", server.url), "example", "exec"), {})
    total, names = capsys.readouterr().out.split(" ", 1)
    assert int(total) > 0 and "jo" in names
