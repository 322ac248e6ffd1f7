"""The boto3 setup of a 1,000-user Connect test directory, end to end,
against `rollcall serve`: the seconds a user's test fixture spends making
its directory through the SDK. Not part of the pytest suite.

    cargo build --release && python3 benches/connect_setup.py

It starts `rollcall serve` (target/release/rollcall, or $ROLLCALL_BIN) with
credentials over an empty data directory, then, timed, with one boto3
client (botocore's parameter validation on, SigV4-signed, keep-alive):
`CreateInstance`, 10 hierarchy groups (2 at the top, 8 below them),
1,000 `CreateUser` calls with tags and a group each, and
`AssociateUserProficiencies` for each user (1-3 proficiencies), then one
`SearchUsers` that checks the directory is there. Prints the seconds of
each part and the total, and as the baseline the seconds of as many
`DescribeUser` calls (reads: no fsync), which is what boto3, SigV4 and HTTP
cost without the writes; `--users N` and `--runs R` change the size and
the number of runs (the best and every run are printed).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("ROLLCALL_BIN", ROOT / "target" / "release" / "rollcall"))
KEY, SECRET = "AKIDSETUPBENCH", "setup/bench+secret"
SKILLS = [("Language", "English"), ("Language", "Spanish"), ("Language", "German"),
          ("Skill", "Billing"), ("Skill", "Support")]


def setup(connect, users):
    """Makes the directory; gives the seconds of each part."""
    t0 = time.perf_counter()
    inst = connect.create_instance(
        IdentityManagementType="CONNECT_MANAGED",
        InstanceAlias=f"setup-{os.getpid()}-{time.time_ns()}",
        InboundCallsEnabled=True,
        OutboundCallsEnabled=True,
    )["Id"]
    groups = []
    for region in ["EMEA", "AMER"]:
        top = connect.create_user_hierarchy_group(InstanceId=inst, Name=region)["HierarchyGroupId"]
        groups.append(top)
        for i in range(4):
            groups.append(connect.create_user_hierarchy_group(
                InstanceId=inst, Name=f"{region}-{i}", ParentGroupId=top)["HierarchyGroupId"])
    t1 = time.perf_counter()
    ids = []
    for i in range(users):
        ids.append(connect.create_user(
            InstanceId=inst,
            Username=f"agent.{i:05d}",
            Password="Secret123",
            IdentityInfo={"FirstName": f"First{i % 97}", "LastName": f"Last{i % 89}",
                          "Email": f"agent.{i:05d}@example.com"},
            PhoneConfig={"PhoneType": "SOFT_PHONE", "AutoAccept": False, "AfterContactWorkTimeLimit": 30},
            SecurityProfileIds=["agent"],
            RoutingProfileId=f"rp-{i % 8}",
            HierarchyGroupId=groups[i % len(groups)],
            Tags={"Team": ["red", "blue", "green"][i % 3], "Cost Center": str(40 + i % 12)},
        )["UserId"])
    t2 = time.perf_counter()
    for i, uid in enumerate(ids):
        connect.associate_user_proficiencies(InstanceId=inst, UserId=uid, UserProficiencies=[
            {"AttributeName": n, "AttributeValue": v, "Level": float(1 + (i + k) % 5)}
            for k, (n, v) in enumerate(SKILLS[i % 3:i % 3 + 1 + i % 3])
        ])
    t3 = time.perf_counter()
    page = connect.search_users(
        InstanceId=inst,
        SearchCriteria={"StringCondition": {"FieldName": "Username", "Value": "agent.",
                                            "ComparisonType": "STARTS_WITH"}},
    )
    assert page["ApproximateTotalCount"] == users, page["ApproximateTotalCount"]
    t4 = time.perf_counter()
    # The same number of calls that write nothing (no fsync): what boto3,
    # SigV4 and HTTP cost by themselves.
    for uid in ids:
        connect.describe_user(InstanceId=inst, UserId=uid)
    t5 = time.perf_counter()
    connect.delete_instance(InstanceId=inst)
    return {"instance and 10 groups": t1 - t0, f"{users} CreateUser": t2 - t1,
            f"{users} AssociateUserProficiencies": t3 - t2, "check search": t4 - t3, "total": t4 - t0,
            f"baseline: {users} DescribeUser (reads)": t5 - t4}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if not BIN.exists():
        sys.exit(f"{BIN} is missing: run `cargo build --release` first")
    with tempfile.TemporaryDirectory() as tmp:
        creds = Path(tmp) / "credentials"
        creds.write_text(f"{KEY} {SECRET}\n")
        proc = subprocess.Popen(
            [str(BIN), "serve", "--data", str(Path(tmp) / "data"), "--listen", "127.0.0.1:0",
             "--credentials", str(creds)],
            stdout=subprocess.PIPE, text=True, env=dict(os.environ, RUST_LOG="warn"))
        try:
            line = proc.stdout.readline()
            if "listening on " not in line:
                sys.exit(f"rollcall serve did not start: {line!r}")
            url = line.strip().split("listening on ", 1)[1]
            connect = boto3.client(
                "connect", endpoint_url=url, region_name="us-east-1",
                aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                config=Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=True))
            runs = [setup(connect, args.users) for _ in range(args.runs)]
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    for part in runs[0]:
        times = [r[part] for r in runs]
        print(f"{part:>36}: best {min(times):6.2f} s   runs " + " ".join(f"{t:.2f}" for t in times))


if __name__ == "__main__":
    main()
