"""Structured HTTP fuzzing of `rollcall serve`, driven by the AWS service models.

The default run sends FUZZ_REQUESTS=2500 requests (well under a minute). A long run:

    FUZZ_REQUESTS=50000 python3 -m pytest -q tests/python/test_fuzz_http.py

`pytest -s` shows the seed, the served operations, the summary table of statuses
and error codes, and every failure with the request that caused it. Environment:

- FUZZ_REQUESTS    number of fuzz requests (default 2500)
- FUZZ_SEED        the generator's seed (default 1729; printed); a seed gives the
                   same request sequence (face ids aside, which the server draws)
- FUZZ_TIMEOUT     seconds one request may take before it counts as a hang (10)
- FUZZ_MAX_RESTARTS how often a dead server is restarted to go on looking (40);
                   a request that killed (or hung) it is not sent again: later
                   ones of the same operation and mutation are counted as skipped
- ROLLCALL_BIN     the binary (conftest.py; default target/release/rollcall)

What it does: starts its own `rollcall serve` over a fresh ROOT/data with the
process's working directory ROOT/cwd; seeds two Rekognition collections with
faces and users (through the API) and a Connect instance (`rollcall connect
import`); finds which operations of the models in tests/python/models/ are
served (each operation's request either routes or is refused as unknown); then
sends requests built from the models' input shapes: valid ones, then member
mutations (wrong JSON types, boundary lengths and counts, unicode, NUL, path-like
ids, huge, negative and fractional numbers, deep nesting, unknown and missing
members), body mutations (non-JSON, empty, byte flips, truncation, duplicate
keys, top-level arrays, invalid UTF-8, 1000+ deep nesting), lying `.npy` images
in Image.Bytes, and HTTP-level oddities (wrong Content-Type, unknown targets,
wrong methods, unserved operations, chunked bodies, paths and query strings up
to 16 KB, a body over the size limit), over keep-alive connections.

A failure is: a 5xx; a 4xx that is not the protocol's JSON error shape
(Rekognition: `__type` and `Message`; Connect: an `x-amzn-ErrorType` header and
`message`/`Message`; exact codes are not checked, only counted); a 2xx that is
not a JSON object, has members the model's output shape lacks, or answers a
request that is surely invalid (a value out of the model's range, length,
pattern or enum, a wrong JSON type, a missing required or an unknown member, a
body that is not a JSON object or not JSON by RFC 8259, an unserved operation
or method, a `.npy` whose header lies or whose dimension is not the seeded
collection's; doubtful cases such as 1.0 for an integer, null members, lone
surrogates or integers past int32 without a model bound are sent but not
judged); the server dying; a request taking over FUZZ_TIMEOUT; a file or
directory created outside ROOT/data (anything new under ROOT, or named with
this run's fuzz id in /tmp, /, $HOME, the repository, ...). After the run the
server must still answer ListCollections and Connect SearchUsers as before, and
exit 0 on SIGTERM. A dead server is restarted (up to FUZZ_MAX_RESTARTS times)
so that one run finds more than one bug.

The models are botocore's JSON models (Apache-2.0), cut down to the operations
used and without documentation by this file itself:

    python3 tests/python/test_fuzz_http.py --trim-models DIR_WITH_BOTOCORE_MODELS
"""

import base64
import http.client
import json
import math
import os
import random
import re
import socket
import struct
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = HERE / "models"
# "METHOD /uri" of every operation of the whole service models (written by
# --trim-models beside the trimmed models).
ROUTES = json.loads((MODELS / "routes.json").read_text()) if (MODELS / "routes.json").exists() else {}
MODEL_FILES = {
    "connect": "connect-2017-08-08.json",
    "rekognition": "rekognition-2016-06-27.json",
}
# The Connect operations that only read the seeded instance; every other
# one writes, and is pointed at a second instance (Ctx.write_instance) so
# that the seeded one answers as before at the end.
CONNECT_READS = {
    "SearchUsers", "DescribeUser", "ListUsers", "DescribeUserHierarchyGroup",
    "ListUserHierarchyGroups", "DescribeUserHierarchyStructure", "ListUserProficiencies",
    "SearchUserHierarchyGroups",
}
ARN_PREFIX = "arn:aws:connect:us-east-1:123456789012:instance/"
# Operations kept by --trim-models: the ones rollcall serves (README), whole,
# and a few it does not, with their input only (sent to check that an unserved
# operation is refused in the AWS error shape). Which are served is found at
# run time, not read from here.
KEEP_OPERATIONS = {
    "connect": [
        "SearchUsers", "DescribeUser", "ListUsers", "DescribeUserHierarchyGroup",
        "ListUserHierarchyGroups", "DescribeUserHierarchyStructure", "ListUserProficiencies",
        "SearchUserHierarchyGroups",
        # The writes (issue 13), and the instance and tag reads beside them.
        "CreateInstance", "DescribeInstance", "ListInstances", "DeleteInstance",
        "CreateUser", "DeleteUser", "UpdateUserIdentityInfo", "UpdateUserPhoneConfig",
        "UpdateUserRoutingProfile", "UpdateUserSecurityProfiles", "UpdateUserHierarchy",
        "AssociateUserProficiencies", "DisassociateUserProficiencies", "UpdateUserProficiencies",
        "CreateUserHierarchyGroup", "DeleteUserHierarchyGroup", "UpdateUserHierarchyGroupName",
        "UpdateUserHierarchyStructure", "TagResource", "UntagResource", "ListTagsForResource",
    ],
    "rekognition": [
        "CreateCollection", "DeleteCollection", "DescribeCollection", "ListCollections",
        "IndexFaces", "ListFaces", "DeleteFaces", "SearchFaces", "SearchFacesByImage",
        "CreateUser", "DeleteUser", "ListUsers", "AssociateFaces", "DisassociateFaces",
        "SearchUsers", "SearchUsersByImage", "DetectFaces", "CompareFaces",
    ],
}
PROBE_OPERATIONS = {
    "connect": ["SearchRoutingProfiles"],
    "rekognition": [],
}


def trim_models(src, dst=MODELS):
    """Writes the models cut to KEEP_OPERATIONS and the shapes they reach,
    documentation removed, in botocore's file format."""

    def strip(o):
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items() if k not in ("documentation", "documentationUrl")}
        if isinstance(o, list):
            return [strip(v) for v in o]
        return o

    dst.mkdir(parents=True, exist_ok=True)
    routes = {}
    for service, fname in MODEL_FILES.items():
        model = json.loads((Path(src) / fname).read_text())
        ops = {n: strip(model["operations"][n]) for n in KEEP_OPERATIONS[service]}
        for n in PROBE_OPERATIONS[service]:
            source = model
            if n not in model["operations"]:
                # rollcall's model holds only what it serves: a probe comes
                # from botocore's whole model, its shapes with it.
                import botocore.loaders
                source = botocore.loaders.Loader().load_service_model(service, "service-2")
                model["shapes"] = {**source["shapes"], **model["shapes"]}
            ops[n] = {k: v for k, v in strip(source["operations"][n]).items() if k not in ("output", "errors")}
        shapes, todo = {}, []
        for op in ops.values():
            todo += [op[k]["shape"] for k in ("input", "output") if k in op]
            todo += [e["shape"] for e in op.get("errors", [])]
        while todo:
            name = todo.pop()
            if name in shapes:
                continue
            shape = shapes[name] = strip(model["shapes"][name])
            todo += [shape[k]["shape"] for k in ("member", "key", "value") if k in shape]
            todo += [m["shape"] for m in shape.get("members", {}).values()]
        out = {"version": model["version"], "metadata": strip(model["metadata"]),
               "operations": ops, "shapes": dict(sorted(shapes.items()))}
        (dst / fname).write_text(json.dumps(out, indent=1) + "\n")
        # Every route of the whole model, so that a method mutation never
        # picks a method another operation serves on the same path.
        routes[service] = sorted({f'{o["http"]["method"]} {o["http"]["requestUri"].split("?")[0]}'
                                  for o in model["operations"].values() if "http" in o})
    (dst / "routes.json").write_text(json.dumps(routes, indent=1) + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--trim-models":
        trim_models(sys.argv[2])
        sys.exit(0)
    sys.exit(__doc__)

import pytest  # noqa: E402

import conftest  # noqa: E402
from conftest import Server, npy  # noqa: E402

N_REQUESTS = int(os.environ.get("FUZZ_REQUESTS", "2500"))
SEED = int(os.environ.get("FUZZ_SEED", "1729"))
TIMEOUT = float(os.environ.get("FUZZ_TIMEOUT", "10"))
MAX_RESTARTS = int(os.environ.get("FUZZ_MAX_RESTARTS", "40"))
DIM = 16
REK_CT = "application/x-amz-json-1.1"
TARGET = "RekognitionService."
INT32 = (-(2 ** 31), 2 ** 31 - 1)
INT64 = (-(2 ** 63), 2 ** 63 - 1)


# ------------------------------------------------------------------ JSON text


class Raw:
    """JSON text spliced verbatim into a body."""

    __slots__ = ("b",)

    def __init__(self, b):
        self.b = b if isinstance(b, bytes) else b.encode("utf-8", "surrogatepass")

    def __repr__(self):
        return f"Raw({self.b[:60]!r})"


class Pairs:
    """A JSON object written with its keys in this order, repeats allowed."""

    __slots__ = ("pairs",)

    def __init__(self, pairs):
        self.pairs = pairs


def dumps(v, ascii_only=True):
    out = []

    def w(v):
        if isinstance(v, Raw):
            out.append(v.b)
        elif isinstance(v, (dict, Pairs)):
            items = v.pairs if isinstance(v, Pairs) else v.items()
            out.append(b"{")
            for i, (k, x) in enumerate(items):
                if i:
                    out.append(b",")
                out.append(json.dumps(k, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass"))
                out.append(b":")
                w(x)
            out.append(b"}")
        elif isinstance(v, list):
            out.append(b"[")
            for i, x in enumerate(v):
                if i:
                    out.append(b",")
                w(x)
            out.append(b"]")
        else:
            out.append(json.dumps(v, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass"))

    w(v)
    return b"".join(out)


def _no_constants(name):
    raise ValueError(name)


def strict_json(body):
    """The parsed body, or raises when it is not JSON by RFC 8259 (Python's
    parser is laxer than most only in NaN/Infinity, turned off here)."""
    return json.loads(body.decode("utf-8"), parse_constant=_no_constants)


# ------------------------------------------------------------------ .npy images


def npy_raw(header, data=b"", version=(1, 0), hlen=None):
    """A .npy file with this header text (padded as NumPy does), whatever it says."""
    h = header + " " * ((63 - (10 + len(header)) % 64) % 64) + "\n"
    hb = h.encode("latin-1")
    if version[0] == 1:
        prefix = b"\x93NUMPY" + bytes(version) + struct.pack("<H", len(hb) if hlen is None else hlen)
    else:
        prefix = b"\x93NUMPY" + bytes(version) + struct.pack("<I", len(hb) if hlen is None else hlen)
    return prefix + hb + data


def npy_header(shape, descr="<f4", fortran=False):
    return "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)


def floats(n, rng):
    return struct.pack(f"<{n}f", *[rng.uniform(-1, 1) for _ in range(n)])


def lying_images(rng):
    """(label, bytes, invalid) for .npy files whose header does not tell the truth."""
    d = floats(4 * DIM, rng)
    big = 10 ** 15
    cases = [
        ("npy-rows-1e15", npy_raw(npy_header(f"({big}, 4)"), d[:64]), True),
        ("npy-dim-1e15", npy_raw(npy_header(f"(1, {big})"), d[:64]), True),
        ("npy-1d-4e15", npy_raw(npy_header(f"({4 * big},)"), d[:64]), True),
        ("npy-rows-2^62", npy_raw(npy_header(f"({2 ** 62}, {DIM})"), d), True),
        ("npy-product-wraps", npy_raw(npy_header(f"({2 ** 32}, {2 ** 32})"), d), True),
        ("npy-dim-2^64", npy_raw(npy_header(f"(1, {2 ** 64})"), d), True),
        ("npy-neg-rows", npy_raw(npy_header(f"(-1, {DIM})"), d), True),
        ("npy-neg-dim", npy_raw(npy_header("(2, -16)"), d), True),
        ("npy-neg-1d", npy_raw(npy_header("(-64,)"), d), True),
        ("npy-zero-dim", npy_raw(npy_header("(4, 0)"), b""), True),
        ("npy-zero-rows", npy_raw(npy_header(f"(0, {DIM})"), b""), True),
        ("npy-scalar", npy_raw(npy_header("()"), d[:4]), True),
        ("npy-3d", npy_raw(npy_header(f"(1, 2, {DIM // 2})"), d[:64]), True),
        ("npy-float-shape", npy_raw(npy_header(f"(1.5, {DIM})"), d), True),
        ("npy-str-shape", npy_raw(npy_header("('a', 16)"), d), True),
        ("npy-f8", npy_raw(npy_header(f"(2, {DIM})", "<f8"), d[:256]), True),
        ("npy-f8-short", npy_raw(npy_header(f"(4, {DIM})", "<f8"), d), True),
        ("npy-u1", npy_raw(npy_header(f"(1, {DIM})", "|u1"), d[:16]), True),
        ("npy-i4", npy_raw(npy_header(f"(4, {DIM})", "<i4"), d), True),
        ("npy-f2", npy_raw(npy_header(f"(8, {DIM})", "<f2"), d), True),
        ("npy-object", npy_raw(npy_header(f"(4, {DIM})", "|O"), d), True),
        ("npy-truncated", npy_raw(npy_header(f"(4, {DIM})"), d[:100]), True),
        ("npy-truncated-1", npy_raw(npy_header(f"(4, {DIM})"), d[:-1]), True),
        # NumPy itself reads such a file (it ignores the bytes after the data): not flagged.
        ("npy-extra-data", npy_raw(npy_header(f"(2, {DIM})"), d), False),
        ("npy-hlen-past-eof", npy_raw(npy_header(f"(4, {DIM})"), d, hlen=60000), True),
        ("npy-hlen-zero", npy_raw(npy_header(f"(4, {DIM})"), d, hlen=0), True),
        ("npy-v2-hlen-4G", npy_raw(npy_header(f"(4, {DIM})"), d, (2, 0), hlen=2 ** 32 - 1), True),
        ("npy-v3", npy_raw(npy_header(f"(4, {DIM})"), d, (3, 0)), False),
        ("npy-v9", npy_raw(npy_header(f"(4, {DIM})"), d, (9, 0)), True),
        ("npy-bad-magic", b"\x93NUMPX" + npy_raw(npy_header(f"(4, {DIM})"), d)[6:], True),
        ("npy-only-magic", b"\x93NUMPY", True),
        ("npy-magic-version", b"\x93NUMPY\x01\x00", True),
        ("npy-not-a-dict", npy_raw("[1, 2, 3]", d), True),
        ("npy-header-garbage", npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 16", d), True),
        ("npy-no-shape", npy_raw("{'descr': '<f4', 'fortran_order': False, }", d), True),
        ("npy-dup-shape", npy_raw("{'descr': '<f4', 'shape': (1, 16), 'fortran_order': False, 'shape': (4, 16), }", d), False),
        ("npy-header-nul", npy_raw(npy_header(f"(4, {DIM})").replace(" ", "\x00", 3), d), True),
        ("npy-header-latin1", npy_raw(npy_header(f"(4, {DIM})") + "\xe9\xff", d), False),
        ("npy-nan", npy_raw(npy_header(f"(1, {DIM})"), struct.pack(f"<{DIM}f", *[float("nan")] * DIM)), True),
        ("npy-inf", npy_raw(npy_header(f"(1, {DIM})"), struct.pack(f"<{DIM}f", *[float("inf")] + [0.0] * (DIM - 1))), True),
        ("npy-zero-vector", npy_raw(npy_header(f"(1, {DIM})"), b"\0" * 4 * DIM), True),
        ("npy-subnormal", npy_raw(npy_header(f"(1, {DIM})"), struct.pack("<I", 1) * DIM), False),
        ("npy-huge-values", npy_raw(npy_header(f"(1, {DIM})"), struct.pack(f"<{DIM}f", *[3.4e38] * DIM)), False),
        ("npy-big-endian", npy_raw(npy_header(f"(4, {DIM})", ">f4"), d), False),
        ("npy-fortran", npy_raw(npy_header(f"(4, {DIM})", fortran=True), d), False),
        ("npy-dim-1", npy_raw(npy_header("(64, 1)"), d), False),
        ("npy-many-rows", npy_raw(npy_header(f"(2000, {DIM})"), floats(2000 * DIM, rng)), False),
        ("npy-wrong-dim", npy_raw(npy_header("(2, 32)"), d[:256]), True),
        ("npy-empty", b"", True),
        ("npy-jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + d[:64], True),
        ("npy-png", b"\x89PNG\r\n\x1a\n" + d[:64], True),
    ]
    return cases


# ------------------------------------------------------------------ models


class Model:
    def __init__(self, service):
        m = json.loads((MODELS / MODEL_FILES[service]).read_text())
        self.service = service
        self.metadata = m["metadata"]
        self.operations = m["operations"]
        self.shapes = m["shapes"]

    def input_members(self, op):
        shape = self.operations[op].get("input")
        if not shape:
            return "", {}
        return shape["shape"], self.shapes[shape["shape"]].get("members", {})

    def output_members(self, op):
        shape = self.operations[op].get("output")
        return set(self.shapes[shape["shape"]].get("members", {})) if shape else set()


def pattern_of(shape):
    """The model's pattern as a Python regex matched in full, or None where
    Python's `re` cannot read it (\\p{L} classes)."""
    p = shape.get("pattern")
    if p is None:
        return None
    p = p[1:] if p.startswith("^") else p
    p = p[:-1] if p.endswith("$") else p
    try:
        return re.compile(p)
    except re.error:
        return None


def invalid_for(shape, v):
    """True when the model rules the JSON value v out for this shape (only the
    sure cases: wrong type, length, count, range, enum, pattern)."""
    t = shape["type"]
    if v is None or isinstance(v, (Raw, Pairs)):
        return False
    if t in ("string", "blob", "timestamp"):
        if t == "timestamp":
            return isinstance(v, (bool, list, dict))
        if not isinstance(v, str):
            return True
        if t == "blob":
            return False
        n = len(v)
        if n < shape.get("min", 0) or ("max" in shape and n > shape["max"]):
            return True
        if "enum" in shape and v not in shape["enum"]:
            return True
        rx = pattern_of(shape)
        return bool(rx is not None and not rx.fullmatch(v))
    if t in ("integer", "long", "float", "double"):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return True
        return v < shape.get("min", -math.inf) or v > shape.get("max", math.inf)
    if t == "boolean":
        return not isinstance(v, bool)
    if t in ("list", "map"):
        if not isinstance(v, list if t == "list" else dict):
            return True
        return len(v) < shape.get("min", 0) or ("max" in shape and len(v) > shape["max"])
    if t == "structure":
        return not isinstance(v, dict)
    return False


# ------------------------------------------------------------------ requests


class Req:
    __slots__ = ("service", "op", "label", "method", "path", "headers", "body", "invalid", "chunked")

    def __init__(self, service, op, label, method, path, headers, body=b"", invalid=False, chunked=False):
        self.service, self.op, self.label = service, op, label
        self.method, self.path, self.headers = method, path, headers
        self.body, self.invalid, self.chunked = body, invalid, chunked

    def rest_path(self):
        return urllib.parse.urlsplit(self.path).path

    def is_rekognition_endpoint(self):
        return self.rest_path() == "/"

    def describe(self):
        path = self.path if len(self.path) <= 600 else self.path[:600] + f"... ({len(self.path)} chars)"
        return (f"  operation: {self.service}.{self.op}   mutation: {self.label}   invalid-by-model: {self.invalid}\n"
                f"  {self.method} {path}\n"
                f"  headers: {self.headers}{'  (body sent chunked)' if self.chunked else ''}\n"
                f"  body ({len(self.body)} bytes): {self.body[:500]!r}")


class Ctx:
    """What the seeding created: the ids a valid request names."""

    def __init__(self, token):
        self.token = token
        self.collections = [f"{token}-a", f"{token}-b"]  # never deleted by the fuzzer
        self.scratch = f"{token}-s"
        self.faces = {}  # collection -> face ids
        self.users = {}  # collection -> user ids
        self.tokens = {}  # (service, op) -> NextTokens the server issued
        self.instance = f"{token}-inst"
        self.write_instance = f"{token}-winst"  # the writes' instance: same users and groups
        self.doomed = []  # instances made for DeleteInstance
        self.connect_users = []
        self.groups = []
        self.images = {}  # label -> .npy bytes of a valid image


GROUP_FIELDS = ["name", "parentId", "levelId", "resourceID"]
STRING_FIELDS = ["Username", "FirstName", "LastName", "RoutingProfileId", "SecurityProfileId", "ResourceId"]

UNICODE = [
    "e\u0301\u0302\u0303\u0304\u0305\u0306\u0307", "Z\u0335\u0321\u0322\u0327" * 20,
    "\u202eevil\u202c", "\u200f\u05e9\u05dc\u05d5\u05dd\u200e", "\u0645\u0631\u062d\u0628\u0627",
    "\U0001f600\U0001f44d\U0001f3fd", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\u0000",
    "a\u0000b", "\ufeff", "\uffff", "\U0010ffff", "\u2028\u2029", "\u0085", "\t\n\r\x0b\x0c",
    "\u0130\u0131", "\u00df", "\ufb01", "\u212a", "\u03a9\u2248\u00e7\u221a", "\u3042" * 40,
    "\x7f\x1b[31m", "\ud800", "a\udc00b", "\ud83d", "\udfff\ud800",
]
PATHLIKE = [
    "../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "..%252F..%252F", "/", "\\", "..\\..\\boot.ini",
    ".", "..", "...", "/etc/passwd", "./", "~", "~root", "$HOME", "%00", "a/b", "a\\b", "CON",
    "NUL", "*", "?", "#", "%", "%%", "%2e%2e", "....//....//", "file:///etc/passwd",
    "${jndi:ldap://x/a}", "{{7*7}}", "' OR 1=1 --", "<script>",
]


def pathlike(token):
    return PATHLIKE + [
        f"../../../../../../../../tmp/{token}-up", f"/tmp/{token}-abs", f"{token}/../../{token}-dot",
        f"..%2F..%2F..%2F..%2Ftmp%2F{token}-enc", f"../{token}-cwd", f"{token}\x00.txt",
        f"/proc/self/cwd/{token}-proc", f"..\\..\\{token}-bs", f"{token}-cwd-rel",
    ]


class Fuzzer:
    def __init__(self, seed, ctx, models, served):
        self.rng = random.Random(seed)
        self.ctx = ctx
        self.models = models
        self.served = served  # service -> [op]
        self.unserved = {s: [op for op in models[s].operations if op not in served[s]] for s in models}
        self.counter = 0
        self.lies = lying_images(random.Random(seed + 1))
        self.pathlike = pathlike(ctx.token)
        self._big = {}

    # ---------------------------------------------------------- valid values

    def fresh(self, kind):
        self.counter += 1
        return f"{self.ctx.token}-{kind}{self.counter}"

    def rand_uuid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def image(self, rows=None, dim=DIM):
        r = self.rng
        rows = rows or r.choice([1, 1, 1, 2, 3])
        if r.random() < 0.08:
            dim = r.choice([4, 8, 32])  # another dimension than the collection's
        data = [[r.gauss(0, 1) for _ in range(dim)] for _ in range(rows)]
        return {"Bytes": base64.b64encode(npy(data)).decode()}

    def hint(self, parent, member, shape_name):
        """A value a server would accept (ids that exist, or that might), or
        None for the generic generator."""
        r, c = self.rng, self.ctx
        if self.service == "rekognition":
            coll = self.coll
            if member == "CollectionId":
                if self.op == "DeleteCollection":
                    self.coll = r.choice([c.scratch, self.fresh("c")])
                elif self.op == "CreateCollection":
                    self.coll = r.choice([c.scratch, self.fresh("c"), c.collections[0]])
                else:
                    self.coll = r.choice(c.collections * 4 + [c.scratch, self.fresh("c")])
                return self.coll
            if member == "UserId":
                known = c.users.get(coll, [])
                if self.op == "CreateUser" or not known or r.random() < 0.15:
                    return self.fresh("u") if r.random() < 0.7 else f"{c.token}-u{r.randrange(6)}"
                return r.choice(known)
            faces = c.faces.get(coll) or [f for fs in c.faces.values() for f in fs]
            if member == "FaceId":
                return r.choice(faces) if faces and r.random() < 0.9 else self.rand_uuid()
            if member == "FaceIds":
                n = r.choice([1, 1, 2, 3, 5])
                out = [r.choice(faces) if faces and r.random() < 0.85 else self.rand_uuid() for _ in range(n)]
                return out
            if member == "ClientRequestToken":
                return f"{c.token}-t{r.randrange(40)}"
            if member == "ExternalImageId":
                return f"{c.token}-img{r.randrange(100)}"
            if member == "NextToken":
                known = c.tokens.get(("rekognition", self.op), [])
                return r.choice(known) if known and r.random() < 0.7 else r.choice(["", "garbage", "AAAA", "0"])
            if member in ("Image", "SourceImage", "TargetImage"):
                return self.image()
            if member == "MaxFaces" and self.op == "IndexFaces":
                return r.randint(1, 6)
            if member == "Tags":
                return {"team": r.choice(["red", "blue"]), "k:" + str(r.randrange(3)): ""}
            if member == "S3Object":
                return {"Bucket": "bucket", "Name": "face.npy"}
            return None
        # connect
        if member == "InstanceId":
            if self.op == "DeleteInstance":
                return r.choice(c.doomed + [self.fresh("inst")])
            home = c.instance if self.op in CONNECT_READS else c.write_instance
            return home if r.random() < 0.85 else self.fresh("inst")
        if member == "resourceArn":
            base = ARN_PREFIX + c.write_instance
            return r.choice([base, f"{base}/agent/{r.choice(c.connect_users or ['x'])}",
                             f"{base}/agent/{r.choice(c.connect_users or ['x'])}",
                             f"{base}/agent-group/{r.choice(c.groups or ['x'])}",
                             ARN_PREFIX + self.fresh("inst"), "arn:aws:connect:us-east-1:1:other/x"])
        if member == "ParentGroupId" and c.groups:
            return r.choice(c.groups) if r.random() < 0.85 else self.fresh("g")
        if member == "UserId" and c.connect_users:
            return r.choice(c.connect_users) if r.random() < 0.85 else self.fresh("cu")
        if member == "HierarchyGroupId" and c.groups:
            return r.choice(c.groups) if r.random() < 0.85 else self.fresh("g")
        if member == "NextToken":
            known = c.tokens.get(("connect", self.op), [])
            return r.choice(known) if known and r.random() < 0.7 else r.choice(["garbage", "AAAA", "x+y/z="])
        if member == "MaxResults":
            shape = self.models["connect"].shapes[shape_name]
            return r.randint(shape.get("min", 1), min(shape.get("max", 100), 50))
        if parent == "StringCondition" and member == "FieldName":
            if self.op == "SearchUserHierarchyGroups":
                return r.choice(GROUP_FIELDS * 3 + ["Username", "NAME"])
            return r.choice(STRING_FIELDS * 3 + ["name", "value"])
        if parent == "NumberCondition" and member == "FieldName":
            return r.choice(["level", "level", "Level", "limit"])
        if parent == "StringCondition" and member == "Value":
            return r.choice(["a", "jo", "an", "e", "x", "Maria", "ma", "1", ""])
        if parent == "HierarchyGroupCondition" and member == "Value" and c.groups:
            return r.choice(c.groups)
        if member == "TagKey":
            return r.choice(["Team", "team", "Site", "x"])
        if member == "TagValue":
            return r.choice(["red", "blue", "green", ""])
        if member in ("MinValue", "MaxValue"):
            return r.randint(0, 5)
        return None

    def valid(self, shape_name, parent, member, depth, path, sites):
        """A valid-by-model value; records (path, shape, parent, member) of each
        node in sites so that mutations can find them."""
        r = self.rng
        shapes = self.models[self.service].shapes
        shape = shapes[shape_name]
        sites.append((path, shape_name, parent, member))
        h = self.hint(parent, member, shape_name)
        if h is not None:
            if isinstance(h, list) and shape["type"] == "list":
                for i in range(len(h)):
                    sites.append((path + (i,), shape["member"]["shape"], shape_name, None))
            if isinstance(h, dict) and shape["type"] == "structure":
                for k, m in shape.get("members", {}).items():
                    if k in h:
                        sites.append((path + (k,), m["shape"], shape_name, k))
            return h
        t = shape["type"]
        if t == "structure":
            members = {k: m for k, m in shape.get("members", {}).items() if "location" not in m}
            required = [k for k in shape.get("required", []) if k in members]
            optional = [k for k in members if k not in required]
            scalars = [k for k in optional if shapes[members[k]["shape"]]["type"] not in ("structure", "list", "map")]
            if depth >= 7:
                chosen = set(required)
            elif scalars and not required and r.random() < 0.85:
                # A condition (StringCondition, TagCondition, ...): all its parts.
                chosen = set(optional)
            elif required:
                chosen = set(required) | {k for k in optional if r.random() < 0.4}
            elif optional:
                # AWS unions in all but name: usually one member, sometimes more or none.
                k = r.choice([1, 1, 1, 1, 2, 0])
                chosen = set(r.sample(optional, min(k, len(optional))))
            else:
                chosen = set()
            return {k: self.valid(m["shape"], shape_name, k, depth + 1, path + (k,), sites)
                    for k, m in members.items() if k in chosen}
        if t == "list":
            lo, hi = shape.get("min", 0), shape.get("max", 4)
            n = r.randint(max(lo, 1 if r.random() < 0.9 else 0), max(lo, min(hi, 3 if depth < 4 else 1))) if depth < 6 else lo
            return [self.valid(shape["member"]["shape"], shape_name, None, depth + 1, path + (i,), sites)
                    for i in range(n)]
        if t == "map":
            n = r.randint(shape.get("min", 0), min(shape.get("max", 3), 3))
            keys = list(dict.fromkeys(self.valid(shape["key"]["shape"], shape_name, "key", depth + 1, path + ("<key>",), [])
                                      for _ in range(n)))
            return {k: self.valid(shape["value"]["shape"], shape_name, None, depth + 1, path + (k,), sites) for k in keys}
        return self.scalar(shape)

    def scalar(self, shape):
        r = self.rng
        t = shape["type"]
        if "enum" in shape:
            return r.choice(shape["enum"])
        if t == "string":
            lo, hi = shape.get("min", 0), shape.get("max", 40)
            n = r.randint(max(lo, 1 if hi >= 1 else 0), max(lo, min(hi, 24)))
            return "".join(r.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(n))
        if t in ("integer", "long"):
            lo, hi = shape.get("min", 0), shape.get("max", 100)
            return r.randint(lo, max(lo, min(hi, lo + 200)))
        if t in ("float", "double"):
            lo, hi = shape.get("min", 0.0), shape.get("max", 100.0)
            return round(r.uniform(lo, hi), 3)
        if t == "boolean":
            return r.random() < 0.5
        if t == "timestamp":
            return 1700000000 + r.randrange(10 ** 6)
        if t == "blob":
            return base64.b64encode(bytes(r.randrange(256) for _ in range(r.randint(1, 32)))).decode()
        return None

    # ---------------------------------------------------------- building

    def base(self, service, op, minimal=False):
        """A valid request: (body object, sites, path values, query pairs)."""
        self.service, self.op, self.coll = service, op, None
        model = self.models[service]
        input_shape, members = model.input_members(op)
        sites = []
        body, path_vals, query = {}, {}, []
        if input_shape:
            required = set(model.shapes[input_shape].get("required", []))
            for name, m in members.items():
                loc = m.get("location")
                if minimal and name not in required:
                    continue
                if loc == "uri":
                    path_vals[m.get("locationName", name)] = (name, m["shape"], self.valid(m["shape"], input_shape, name, 1, (), []))
                elif loc == "querystring":
                    if name in required or self.rng.random() < (0.2 if name == "NextToken" else 0.5):
                        v = self.valid(m["shape"], input_shape, name, 1, (), [])
                        for x in (v if isinstance(v, list) else [v]):
                            query.append((m.get("locationName", name), x))
                elif loc == "header":
                    continue
                elif minimal or name in required or self.rng.random() < (0.2 if name == "NextToken" else 0.55):
                    body[name] = self.valid(m["shape"], input_shape, name, 1, (name,), sites)
            sites.insert(0, ((), input_shape, None, None))
        if service == "rekognition" and op == "SearchUsers" and not minimal and self.rng.random() < 0.8:
            # Exactly one probe, as the operation wants, most of the time.
            body.pop(self.rng.choice(["UserId", "FaceId"]), None)
            if "UserId" not in body and "FaceId" not in body:
                body["FaceId"] = self.hint(input_shape, "FaceId", "FaceId")
            sites = [s for s in sites if not s[0] or s[0][0] in body]
        return body, sites, path_vals, query

    def render(self, service, op, label, body, path_vals, query, invalid=False, raw_body=None,
               ascii_only=True, raw_path=None):
        model = self.models[service]
        if service == "rekognition":
            headers = {"X-Amz-Target": TARGET + op, "Content-Type": REK_CT}
            data = raw_body if raw_body is not None else dumps(body, ascii_only)
            return Req(service, op, label, "POST", "/", headers, data, invalid)
        http = model.operations[op]["http"]
        uri = http["requestUri"]
        static_query = ""
        if "?" in uri:
            uri, static_query = uri.split("?", 1)
        for name, (_, _, v) in path_vals.items():
            enc = (raw_path or {}).get(name)
            if enc is None:
                enc = urllib.parse.quote(str(v), safe="-_.~")
            else:
                enc = urllib.parse.quote(enc, safe="/%.~-_")
            uri = uri.replace("{%s}" % name, enc).replace("{%s+}" % name, enc)
        qs = "&".join(p for p in [static_query] + [
            quote_q(k) if v is None else f"{quote_q(k)}={quote_q(v)}" for k, v in query] if p)
        path = uri + ("?" + qs if qs else "")
        headers = {}
        data = b""
        if http["method"] in ("POST", "PUT", "PATCH") or raw_body is not None:
            headers["Content-Type"] = "application/json"
            data = raw_body if raw_body is not None else dumps(body, ascii_only)
        return Req(service, op, label, http["method"], path, headers, data, invalid)

    # ---------------------------------------------------------- the mix

    def next(self):
        r = self.rng
        roll = r.random()
        if roll < 0.12:
            return self.valid_request()
        if roll < 0.60:
            return self.member_mutation()
        if roll < 0.76:
            return self.body_mutation()
        if roll < 0.86:
            return self.image_mutation()
        return self.http_mutation()

    def pick_op(self, service=None):
        r = self.rng
        service = service or ("rekognition" if r.random() < 0.6 else "connect")
        return service, r.choice(self.served[service])

    def valid_request(self):
        service, op = self.pick_op()
        body, _, pv, q = self.base(service, op)
        return self.render(service, op, "valid", body, pv, q, ascii_only=self.rng.random() < 0.7)

    def body_has_json(self, service, op):
        return service == "rekognition" or self.models[service].operations[op]["http"]["method"] in ("POST", "PUT")

    def member_mutation(self):
        r = self.rng
        service, op = self.pick_op()
        body, sites, pv, q = self.base(service, op)
        body_ops = self.body_has_json(service, op)
        choices = []
        if body_ops and sites:
            choices += ["body"] * 6
        if pv:
            choices += ["path"] * 3
        if any(m.get("location") == "querystring" for m in self.models[service].input_members(op)[1].values()):
            choices += ["query"] * 2
        kind = r.choice(choices) if choices else "body"
        if kind == "path":
            return self.path_mutation(service, op, body, pv, q)
        if kind == "query":
            return self.query_mutation(service, op, body, pv, q)
        path, shape_name, parent, member = r.choice(sites)
        shapes = self.models[service].shapes
        shape = shapes[shape_name]
        label, value, invalid = self.mutate_value(shape, shape_name, path)
        if isinstance(value, _Drop):
            body = set_at(body, path, value)
        elif value is _EXTRA:
            extra = r.choice(["Extra", "collectionId", "__type", "", "CollectionID", "InstanceId ", "\u0000"])
            container = get_at(body, path)
            if isinstance(container, dict):
                container = dict(container)
                container[extra] = r.choice([1, "x", None, [], {}])
                body = set_at(body, path, container) if path else container
                invalid = extra not in shape.get("members", {})
            else:
                label, invalid = "extra-member-noop", False
        else:
            body = set_at(body, path, value) if path else value
        return self.render(service, op, f"{label}@{'.'.join(map(str, path)) or '<body>'}", body, pv, q,
                           invalid=invalid, ascii_only=r.random() < 0.6)

    def mutate_value(self, shape, shape_name, path):
        """(label, new value, invalid-by-model)."""
        r = self.rng
        t = shape["type"]
        options = ["wrong-type"] * 4 + ["null", "deep"]
        if t not in ("structure", "boolean", "timestamp"):
            options += ["boundary"] * 4
        shapes = self.models[self.service].shapes
        recursive = [k for k, m in shape.get("members", {}).items()
                     if shapes[m["shape"]]["type"] == "list" and shapes[m["shape"]]["member"]["shape"] == shape_name]
        if t == "structure":
            options += ["drop-required"] * 3 + ["extra-member"] * 3 + ["array-for-object"] * 2 + ["recursive"] * (4 * bool(recursive))
        if t in ("string", "blob"):
            options += ["unicode"] * 4 + ["nul"] * 2 + ["pathlike"] * 4 + ["long-string"] * 2 + ["bad-base64"] * (3 if t == "blob" else 0)
        if t in ("integer", "long", "float", "double"):
            options += ["huge-number"] * 4 + ["negative"] * 2 + ["float-for-int"] * 2 + ["raw-number"] * 2
        if t in ("list",):
            options += ["many-items"] * 2 + ["dup-items"]
        kind = r.choice(options)
        if kind == "null":
            return "null", None, False
        if kind == "deep":
            depth = r.choice([129, 1000, 1500, 5000, 100000])
            if r.random() < 0.5:
                return f"deep-array-{depth}", Raw("[" * depth + "]" * depth), True
            return f"deep-object-{depth}", Raw('{"a":' * depth + "1" + "}" * depth), True
        if kind == "wrong-type":
            pool = {"string": [123, True, [], {}, 1.5, ["a"]], "blob": [123, True, [], {"Bytes": "AA=="}],
                    "integer": ["5", True, [], {}, "abc", [1]], "long": ["5", False, {}],
                    "float": ["50", True, [], {}], "double": ["50", []],
                    "boolean": ["true", 1, 0, "false"], "list": [{}, "a", 1, {"0": "x"}, True],
                    "map": [[], "a", 1, [["k", "v"]]], "structure": [[], "a", 1, True, 0.5],
                    "timestamp": [True, [], {}]}.get(t, [[]])
            return "wrong-type", r.choice(pool), True
        if kind == "recursive":
            # A shape that holds a list of itself (UserSearchCriteria): nested
            # deep, or one level very wide; valid JSON either way, and the
            # server's own limits decide.
            k = r.choice(recursive)
            leaf = dumps(self.valid(shape_name, None, None, 6, (), []))
            if r.random() < 0.6:
                n = r.choice([11, 64, 127, 128, 129, 1000, 5000, 50000])
                text = (b'{"%s":[' % k.encode()) * n + leaf + b"]}" * n
                return f"recursive-deep-{n}", Raw(text), False
            n = r.choice([100, 101, 1000, 20000])
            return f"recursive-wide-{n}", Raw(b'{"%s":[' % k.encode() + b",".join([leaf] * n) + b"]}"), False
        if kind == "array-for-object":
            return "array-for-object", [{}] if r.random() < 0.5 else [], True
        if kind == "drop-required":
            # A member bound to the path or the query is not in the body.
            members = shape.get("members", {})
            req = [k for k in shape.get("required", []) if "location" not in members.get(k, {})]
            if not req:
                return "extra-member", _EXTRA, True
            name = r.choice(req)
            return f"drop-required-{name}", _Drop(name), True
        if kind == "extra-member":
            return "extra-member", _EXTRA, True
        if kind == "boundary":
            return self.boundary(shape)
        if kind == "unicode":
            s = r.choice(UNICODE)
            if r.random() < 0.5:
                s = (s * r.randint(1, 3))[:200]
            return "unicode", s, invalid_for(shape, s)
        if kind == "nul":
            if r.random() < 0.5:
                s = "abc\u0000def"
                return "nul-escaped", s, invalid_for(shape, s)
            return "nul-raw-byte", Raw(b'"abc\x00def"'), True
        if kind == "pathlike":
            s = r.choice(self.pathlike)
            return "pathlike", s, invalid_for(shape, s)
        if kind == "long-string":
            n = r.choice([256, 1025, 2501, 16384, 100000])
            s = "A" * n
            return f"long-string-{n}", s, invalid_for(shape, s)
        if kind == "bad-base64":
            s = r.choice(["!!!!", "A", "AA", "AAA", "====", "QUJD\nRA==", "QUJDRA", "-_-_", "AB=C",
                          "\u00e9\u00e9\u00e9\u00e9", " ", "QUJDRA==QUJDRA=="])
            return "bad-base64", s, s in ("!!!!", "A", "====", "AB=C", "\u00e9\u00e9\u00e9\u00e9")
        if kind == "huge-number":
            v = r.choice([2 ** 31, 2 ** 31 - 1, -(2 ** 31) - 1, 2 ** 53 + 1, 2 ** 63, 2 ** 63 - 1, 2 ** 64, -(2 ** 63) - 1,
                          10 ** 30, 1e300, -1e300, 1.7976931348623157e308])
            lo, hi = (INT32 if t == "integer" else INT64) if t in ("integer", "long") else (-math.inf, math.inf)
            lo, hi = shape.get("min", lo), shape.get("max", hi)
            # Beyond int32/int64 without a model bound: lenient (not flagged).
            return "huge-number", v, ("min" in shape and v < lo) or ("max" in shape and v > hi)
        if kind == "raw-number":
            text, val = r.choice([("1e400", math.inf), ("-1e400", -math.inf), ("1e-400", 0.0), ("-0", 0), ("1E2", 100.0),
                                  ("100.0", 100.0), ("1.0000000000000000000001", 1.0), ("123456789012345678901234567890", 1.2e29),
                                  ("0.0", 0.0), ("5e0", 5.0), ("-0.0", 0.0), ("01", None), ("+1", None), (".5", None),
                                  ("0x10", None), ("NaN", None), ("Infinity", None), ("1.", None)])
            if val is None:
                return f"raw-number-{text}", Raw(text), True
            bad = val < shape.get("min", -math.inf) or val > shape.get("max", math.inf)
            return f"raw-number-{text}", Raw(text), bad
        if kind == "negative":
            v = r.choice([-1, -2 ** 31, -0.5, -100])
            return "negative", v, v < shape.get("min", -math.inf)
        if kind == "float-for-int":
            lo = shape.get("min", 0)
            v = r.choice([lo + 0.5, 1.5, float(lo), 2.0000001])
            out = v < shape.get("min", -math.inf) or v > shape.get("max", math.inf)
            return "float-for-int" if t in ("integer", "long") else "float-value", v, out
        if kind == "many-items":
            n = r.choice([shape.get("max", 100) + 1, 10000])
            inner = self.models[self.service].shapes[shape["member"]["shape"]]
            item = self.rand_uuid() if inner.get("pattern", "").startswith("[0-9a-f]{8}") else self.scalar(inner) if inner["type"] not in ("structure", "list", "map") else {}
            v = [item] * n
            return f"many-items-{n}", v, invalid_for(shape, v)
        if kind == "dup-items":
            inner = self.models[self.service].shapes[shape["member"]["shape"]]
            item = self.rand_uuid() if inner.get("pattern", "").startswith("[0-9a-f]{8}") else self.scalar(inner) if inner["type"] not in ("structure", "list", "map") else {}
            v = [item] * r.randint(2, 5)
            return "dup-items", v, invalid_for(shape, v)
        return "null", None, False

    def boundary(self, shape):
        r = self.rng
        t = shape["type"]
        if t == "string":
            lo, hi = shape.get("min", 0), shape.get("max")
            cands = [lo - 1, lo, lo + 1] + ([hi - 1, hi, hi + 1] if hi is not None else [1000, 5000])
            n = r.choice([c for c in cands if c >= 0])
            if "enum" in shape:
                s = r.choice([shape["enum"][0].lower(), shape["enum"][0] + " ", "", "X" * n])
            elif shape.get("pattern", "").startswith("[0-9a-f]{8}"):
                s = r.choice([self.rand_uuid().upper(), self.rand_uuid()[:-1], self.rand_uuid() + "0",
                              "{" + self.rand_uuid() + "}", self.rand_uuid().replace("-", "")])
            else:
                s = "".join(r.choice("abcdefghij0123456789") for _ in range(n))
            return f"boundary-len-{len(s)}", s, invalid_for(shape, s)
        if t == "blob":
            lo, hi = shape.get("min", 0), shape.get("max")
            sizes = [0, lo, lo + 1] + ([hi, hi + 1] if hi is not None and hi <= 6 * 2 ** 20 else [])
            n = r.choice(sizes)
            if n not in self._big:
                self._big[n] = base64.b64encode(b"\x93NUMPY" + b"\0" * max(0, n - 6) if n >= 6 else b"\x93NUMPY"[:n]).decode()
            return f"boundary-blob-{n}", self._big[n], True  # never a whole .npy
        if t in ("integer", "long", "float", "double"):
            lo, hi = shape.get("min"), shape.get("max")
            rng32 = INT32 if t == "integer" else INT64
            cands = []
            if lo is not None:
                cands += [lo - 1, lo, lo + 1]
            else:
                cands += [rng32[0], rng32[0] - 1]
            if hi is not None:
                cands += [hi - 1, hi, hi + 1]
            else:
                cands += [rng32[1], rng32[1] + 1]
            if t in ("float", "double"):
                cands += [(lo or 0) - 1e-9, (hi or 0) + 1e-9, 5e-324]
            v = r.choice(cands)
            return f"boundary-num-{v}", v, invalid_for(shape, v)
        if t in ("list", "map"):
            lo, hi = shape.get("min", 0), shape.get("max")
            cands = [lo - 1, lo, lo + 1] + ([hi, hi + 1] if hi is not None and hi <= 5000 else [200])
            n = r.choice([c for c in cands if c >= 0])
            if t == "list":
                inner = self.models[self.service].shapes[shape["member"]["shape"]]
                if inner.get("pattern", "").startswith("[0-9a-f]{8}"):
                    v = [self.rand_uuid() for _ in range(n)]
                elif inner["type"] in ("structure", "list", "map"):
                    v = [{} for _ in range(n)]
                else:
                    v = [self.scalar(inner) for _ in range(n)]
            else:
                v = {f"k{i}": "v" for i in range(n)}
            return f"boundary-count-{n}", v, invalid_for(shape, v)
        return "boundary-none", None, False

    def path_mutation(self, service, op, body, pv, q):
        r = self.rng
        name = r.choice(sorted(pv))
        member, shape_name, _ = pv[name]
        kind = r.choice(["pathlike", "pathlike", "unicode", "long", "empty", "bad-percent", "raw-slash", "nul"])
        raw = {}
        invalid = True
        if kind == "pathlike":
            v = r.choice(self.pathlike)
            if r.random() < 0.4:
                raw[name] = v.replace("\x00", "%00").replace("\\", "%5C").replace("#", "%23").replace("?", "%3F")
                invalid = False  # sent unencoded: may route elsewhere
        elif kind == "unicode":
            v = "".join(ch for ch in r.choice(UNICODE) if not 0xD800 <= ord(ch) <= 0xDFFF) or "\u00e9"
        elif kind == "long":
            v = "x" * r.choice([101, 1000, 8000, 16000])
        elif kind == "empty":
            v = ""
        elif kind == "bad-percent":
            v = "bad"
            raw[name] = r.choice(["%", "%z", "%zz", "%e9", "%ff%fe", "%c0%af", "%2", "%%41", "%u0041", "%ed%a0%80"])
        elif kind == "raw-slash":
            v = "x"
            raw[name] = r.choice(["a/b", "/", "//", "a/", "./.", "..", "."])
            invalid = False
        else:
            v = "a\x00b"
        pv = dict(pv)
        pv[name] = (member, shape_name, v)
        return self.render(service, op, f"path-{kind}@{name}", body, pv, q, invalid=invalid, raw_path=raw)

    def query_mutation(self, service, op, body, pv, q):
        r = self.rng
        members = self.models[service].input_members(op)[1]
        qnames = {m.get("locationName", k): (k, m) for k, m in members.items() if m.get("location") == "querystring"}
        name = r.choice(sorted(qnames))
        _, m = qnames[name]
        shape = self.models[service].shapes[m["shape"]]
        q = [(k, v) for k, v in q if k != name]
        kind = r.choice(["value", "value", "value", "dup", "novalue", "extra", "long"])
        invalid = False
        if kind == "value":
            if shape["type"] == "integer":
                v = r.choice(["0", "-1", str(shape.get("max", 100) + 1), "abc", "", "1.5", "1e2", "99999999999999999999999",
                              "+5", " 5", "0x10", "\uff15", "5abc", str(2 ** 31), str(2 ** 64), "NaN", "-0", "05"])
                invalid = v in ("0", "-1", str(shape.get("max", 100) + 1), "abc", "1.5", "99999999999999999999999",
                                "0x10", "\uff15", "5abc", str(2 ** 31), str(2 ** 64), "NaN")
            else:
                v = r.choice(["garbage", "a" * 3000, "\u00e9\U0001f600", "%00", "../../x", "AAAA====", "null"])
                invalid = name.lower() == "nexttoken"
            q.append((name, v))
        elif kind == "dup":
            q += [(name, "1"), (name, "2")]
        elif kind == "novalue":
            q.append((name, None))
        elif kind == "extra":
            q.append((r.choice(["x", "MaxResults", "nexttoken", "%00", "a[b]"]), "1"))
        else:
            q.append(("pad", "z" * r.choice([4000, 16000])))
        return self.render(service, op, f"query-{kind}@{name}", body, pv, q, invalid=invalid)

    def body_mutation(self):
        r = self.rng
        service, op = self.pick_op()
        body, _, pv, q = self.base(service, op)
        valid = dumps(body)
        json_op = self.body_has_json(service, op)
        in_shape, members = self.models[service].input_members(op)
        required = self.models[service].shapes[in_shape].get("required", []) if in_shape else []
        needs_members = any("location" not in members[k] for k in required)
        kind = r.choice(["non-json", "empty", "flip", "flip", "flip", "truncate", "truncate", "dup-keys", "top-array",
                         "top-scalar", "deep", "invalid-utf8", "bom", "trailing", "whitespace", "concat",
                         "utf16", "comments"])
        data, invalid = valid, False
        if kind == "non-json":
            data = r.choice([b"{not json", b"<xml/>", b"\xff\xfe\x00garbage", b"{'a': 1}", b"NaN", b"Infinity",
                             b'{"a":}', b"{,}", b"x" * 1000, b"\x00" * 16, b'{"a" 1}', b"}", b"{"])
            invalid = True
        elif kind == "empty":
            data, invalid = b"", needs_members
        elif kind == "whitespace":
            data, invalid = r.choice([b" ", b"\n\n", b"\t \r\n"]), needs_members
        elif kind == "flip":
            data = bytearray(valid or b"{}")
            for _ in range(r.randint(1, 3)):
                i = r.randrange(len(data))
                data[i] ^= 1 << r.randrange(8)
            data = bytes(data)
            invalid = needs_members if not data.strip() else not parses(data)
        elif kind == "truncate":
            data = valid[: r.randrange(max(1, len(valid)))]
            invalid = needs_members if not data.strip() else not parses(data)
        elif kind == "dup-keys":
            pairs = list(body.items())
            if pairs:
                k, v = r.choice(pairs)
                pairs.append((k, r.choice([v, "other", 1, None])))
            pairs.append(("Dup", 1))
            pairs.append(("Dup", 2))
            data = dumps(Pairs(pairs))
            invalid = True  # "Dup" is no member of any input shape
        elif kind == "top-array":
            data = r.choice([b"[]", dumps([body]), b"[{}]", b"[1,2,3]", dumps([body, body])])
            invalid = True
        elif kind == "top-scalar":
            data = r.choice([b'"str"', b"1", b"true", b"false", b"0.5", b'""'])
            invalid = True
        elif kind == "deep":
            depth = r.choice([200, 1000, 1200, 10000, 200000])
            data = r.choice([b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth,
                             b"[" * depth, b'{"CollectionId":' + b"[" * depth + b"]" * depth + b"}"])
            invalid = True
        elif kind == "invalid-utf8":
            bad = r.choice([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80", b"\xe2\x82"])
            data = valid.replace(b'":"', b'":"' + bad, 1) if b'":"' in valid else b'{"' + bad + b'":1}'
            invalid = True
        elif kind == "bom":
            data = b"\xef\xbb\xbf" + valid
        elif kind == "trailing":
            data = valid + r.choice([b" x", b"}", b",", b"\x00", b"{}"])
            invalid = True
        elif kind == "concat":
            data = valid + b"\n" + valid
            invalid = True
        elif kind == "utf16":
            data = valid.decode().encode("utf-16")
            invalid = True
        else:
            data = b"/* c */" + valid
            invalid = True
        if not json_op:
            invalid = False  # a GET's body is not read
        return self.render(service, op, f"body-{kind}", body, pv, q, invalid=invalid, raw_body=data)

    def image_mutation(self):
        r = self.rng
        op = r.choice([o for o in ("IndexFaces", "SearchFacesByImage", "SearchUsersByImage") if o in self.served["rekognition"]])
        body, _, pv, q = self.base("rekognition", op)
        label, data, invalid = r.choice(self.lies)
        how = r.choice(["std", "std", "std", "nopad", "urlsafe", "newlines"])
        b64 = base64.b64encode(data).decode()
        if how == "nopad":
            b64 = b64.rstrip("=")
        elif how == "urlsafe":
            b64 = base64.urlsafe_b64encode(data).decode()
        elif how == "newlines":
            b64 = "\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))
        if how != "std" and b64 == base64.b64encode(data).decode():
            how = "std"
        body["Image"] = {"Bytes": b64}
        # The seeded collections: they exist and their dimension is DIM, so a
        # wrong dimension is an error too.
        body["CollectionId"] = r.choice(self.ctx.collections)
        if label == "npy-zero-rows" and op == "IndexFaces":
            invalid = False  # no face in the image: AWS answers 200 with no FaceRecords
        # A lie must be refused whatever the base64 alphabet.
        return self.render("rekognition", op, f"{label}/b64-{how}", body, pv, q, invalid=invalid)

    def http_mutation(self):
        r = self.rng
        kind = r.choice(["content-type", "content-type", "target", "target", "target", "method", "method",
                         "unserved", "unserved", "long-path", "long-query", "odd-path", "chunked", "chunked",
                         "headers", "too-large", "health"])
        if kind == "too-large" and r.random() < 0.7:
            kind = "chunked"  # keep the 9 MB bodies rare
        if kind == "unserved" and not any(self.unserved.values()):
            kind = "target"  # every operation of the models is served
        service, op = self.pick_op()
        body, _, pv, q = self.base(service, op)
        req = self.render(service, op, "valid", body, pv, q)
        req.label = f"http-{kind}"
        if kind == "content-type":
            ct = r.choice(["application/json", "text/plain", "", "application/x-amz-json-1.0", "multipart/form-data; boundary=x",
                           "application/x-www-form-urlencoded", "application/x-amz-json-1.1; charset=utf-16", "*/*", None])
            if ct is None:
                req.headers.pop("Content-Type", None)
                req.label += "-none"
            else:
                req.headers["Content-Type"] = ct
                req.label += "-" + (ct.split(";")[0].replace("/", "_") or "empty")
        elif kind == "target":
            req = self.render("rekognition", "?", "http-target", {}, {}, [])
            t = r.choice(["RekognitionService.NoSuchOp", "RekognitionService.", "RekognitionService", "", "Rekognition.ListCollections",
                          "rekognitionservice.listcollections", "RekognitionService.ListCollections.Extra", "RekognitionService.listCollections",
                          "AmazonConnect.SearchUsers", "RekognitionService." + "A" * 5000, "RekognitionService.DetectLabels",
                          "RekognitionService.ListCollections\u00e9", "RekognitionService.__proto__", "RekognitionService.ListCollections;x", None])
            if t is None:
                req.headers.pop("X-Amz-Target")
                req.invalid = True
                req.label += "-missing"
            else:
                req.headers["X-Amz-Target"] = t
                req.invalid = t not in ("rekognitionservice.listcollections", "RekognitionService.listCollections")
                req.label += "-" + (re.sub(r"[^A-Za-z0-9.]", "_", t)[:40] or "empty")
            req.op = "?"
        elif kind == "method":
            template = (self.models[service].operations[op].get("http", {}).get("requestUri", "/")).split("?")[0]
            taken = {line.split(" ", 1)[0] for line in ROUTES.get(service, []) if line.split(" ", 1)[1] == template}
            methods = [m for m in ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "POST", "TRACE", "FOO", "CONNECTX"]
                       if m != req.method and m not in taken]
            m = r.choice(methods)
            req.method = m
            req.invalid = True
            req.label += "-" + m
        elif kind == "unserved":
            s = r.choice([s for s in self.unserved if self.unserved[s]])
            uop = r.choice(self.unserved[s])
            body, _, pv, q = self.base(s, uop)
            req = self.render(s, uop, f"http-unserved-{uop}", body, pv, q, invalid=True)
        elif kind == "long-path":
            n = r.choice([1000, 4096, 8192, 16000])
            req.path = r.choice(["/" + "a" * n, "/users/" + "i" * n + "/u", "/search-users/" + "x" * n,
                                 "/" + "a/" * (n // 2), "/users-summary/" + "%41" * (n // 3), "/" + "%2F" * (n // 3)])
            req.invalid = True
            req.label += f"-{n}"
        elif kind == "long-query":
            n = r.choice([1000, 8000, 16000])
            sep = "&" if "?" in req.path else "?"
            req.path += sep + r.choice(["x=" + "y" * n, "&".join(f"k{i}=v" for i in range(n // 6)), "a" * n, "%zz" * (n // 3)])
            req.label += f"-{n}"
        elif kind == "odd-path":
            req.path = r.choice(["//", "/./", "/%2F", "/?", "/#frag", "/..", "/search-users/", "//search-users",
                                 "/users", "/users/", "/users//u", "/users/i/", "/users/i/u/", "/users/i/u/proficiencies/x",
                                 "/user-hierarchy-structure", "/health/", "/HEALTH", "/Search-Users", "/users/%2e%2e/%2e%2e",
                                 "/users-summary/" + self.ctx.instance + "/extra", "/*", "/\u00e9", "/%C3%A9", "/%00"])
            req.path = urllib.parse.quote(req.path, safe="/%?=&:*.")
            req.label += "-" + req.path[:30]
        elif kind == "chunked":
            req.chunked = True
        elif kind == "headers":
            h = r.choice([("Content-Length", "0"), ("Content-Encoding", "gzip"), ("Expect", "100-continue"),
                          ("X-Amz-Date", "garbage"), ("Authorization", "AWS4-HMAC-SHA256 garbage"),
                          ("Authorization", "Bearer x"), ("Authorization", ""), ("X-Amz-Target", TARGET + "DeleteCollection"),
                          ("Accept", "application/xml"), ("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"),
                          ("Host", "evil.example"), ("X-Forwarded-For", "1.2.3.4")])
            if h[0] == "X-Amz-Target" and req.service == "rekognition":
                h = ("X-Amz-Target", TARGET + "NoSuchOp")
            req.headers[h[0]] = h[1]
            req.label += "-" + h[0] + ("-" + h[1][:12] if h[1] else "-empty")
            if h[0] == "Content-Length":
                req.body = b""
                req.label = "http-headers-Content-Length-0"
            if h[0] == "Authorization" and h[1]:
                req.invalid = True  # a malformed signature is refused even unverified
            if h[0] == "X-Amz-Target" and req.service == "rekognition":
                req.invalid = True
        elif kind == "too-large":
            req = self.render("rekognition", "SearchFacesByImage", "http-too-large", {}, {}, [],
                              raw_body=b'{"CollectionId": "x", "Image": {"Bytes": "' + b"A" * (9 * 2 ** 20) + b'"}}', invalid=True)
        else:
            req = Req("-", "Health", "http-health", r.choice(["GET", "POST"]), "/health", {}, b"")
            req.invalid = req.method != "GET"
        return req


class _Drop:
    def __init__(self, name):
        self.name = name


_EXTRA = object()


def quote_q(v):
    if isinstance(v, bool):
        v = "true" if v else "false"
    return urllib.parse.quote(str(v), safe="-_.~")


def norm_label(label):
    """A mutation's label with list indices and the base64 variant taken out,
    so that one bug is one distinct failure."""
    label = label.split("/b64-")[0]
    return re.sub(r"\.\d+(?=\.|$)", ".N", label)


def get_at(obj, path):
    for k in path:
        obj = obj[k]
    return obj


def set_at(obj, path, value):
    """A copy of obj with the value at path replaced (a _Drop removes a member
    of the structure at path)."""
    if isinstance(value, _Drop) and not path:
        obj = dict(obj)
        obj.pop(value.name, None)
        return obj
    if not path:
        return value
    k, rest = path[0], path[1:]
    if isinstance(obj, dict):
        new = dict(obj)
    else:
        new = list(obj)
    if isinstance(value, _Drop) and not rest:
        inner = dict(new[k])
        inner.pop(value.name, None)
        new[k] = inner
    else:
        new[k] = set_at(new[k], rest, value)
    return new


def parses(data):
    try:
        v = strict_json(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    return isinstance(v, dict)


# ------------------------------------------------------------------ server and client


class FuzzServer(Server):
    """conftest's Server with the process's working directory and stderr chosen."""

    def __init__(self, data, cwd, log):
        deadline = time.monotonic() + 120
        while True:  # the binary may be rebuilt under us: wait for it to come back
            try:
                if not conftest.BIN.exists():
                    raise FileNotFoundError(conftest.BIN)
                self.log = open(log, "ab")
                self.proc = subprocess.Popen(
                    [str(conftest.BIN), "serve", "--data", str(data), "--listen", "127.0.0.1:0"],
                    stdout=subprocess.PIPE, stderr=self.log, text=True, cwd=cwd,
                    env=dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn")),
                )
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{conftest.BIN} is missing: run `cargo build --release` first")
                time.sleep(0.5)
        line = self.proc.stdout.readline()
        if "listening on " not in line:
            self.proc.kill()
            pytest.fail(f"rollcall serve did not start: {line!r}; log {log}")
        self.url = line.strip().split("listening on ", 1)[1]
        self.data = data
        self.log_path = log


def run_cli(*args, **kw):
    for attempt in range(60):
        try:
            return conftest.run(*args, **kw)
        except OSError:
            if attempt == 59:
                raise
            time.sleep(1)


class Hang(Exception):
    pass


class Closed(Exception):
    pass


class Client:
    def __init__(self, url):
        self.set_url(url)

    def set_url(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def send_once(self, req, timeout):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        self.conn.timeout = timeout
        if self.conn.sock is not None:
            self.conn.sock.settimeout(timeout)
        headers = dict(req.headers)
        if req.chunked:
            headers["Transfer-Encoding"] = "chunked"
            chunks = [req.body[i:i + 7] for i in range(0, len(req.body), 7)] or [b""]
            self.conn.request(req.method, req.path, body=iter(chunks), headers=headers, encode_chunked=True)
        else:
            self.conn.request(req.method, req.path, body=req.body, headers=headers)
        r = self.conn.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if r.will_close:
            self.close()
        return r.status, hdrs, data

    def send(self, req, alive, timeout=TIMEOUT):
        """(status, headers, body); raises Hang on a timeout, Closed when the
        connection ends without an answer twice (or once while the server dies)."""
        for attempt in (0, 1):
            try:
                return self.send_once(req, timeout)
            except (socket.timeout, TimeoutError) as e:
                self.close()
                raise Hang(str(e))
            except (http.client.HTTPException, ConnectionError, OSError) as e:
                self.close()
                if attempt == 1 or not alive():
                    raise Closed(f"{type(e).__name__}: {e}")


# ------------------------------------------------------------------ checks


def check_response(req, status, headers, body, models):
    """(problems, error code) of one answer."""
    problems = []
    rek = req.is_rekognition_endpoint()
    code = None
    try:
        doc = strict_json(body) if body else None
    except (ValueError, UnicodeDecodeError):
        doc = ValueError
    if status >= 500:
        problems.append("5xx")
    if status >= 400:
        if not isinstance(doc, dict):
            problems.append("4xx/5xx body is not a JSON object")
        elif rek:
            if not isinstance(doc.get("__type"), str) or not isinstance(doc.get("Message"), str):
                problems.append("Rekognition error without __type and Message")
            code = doc.get("__type")
        else:
            et = headers.get("x-amzn-errortype")
            if not et:
                problems.append("Connect error without x-amzn-ErrorType header")
            if not isinstance(doc.get("message", doc.get("Message")), str):
                problems.append("Connect error without message")
            code = (et or str(doc.get("__type"))).split(":")[0]
        code = str(code).split("#")[-1]
    elif 200 <= status < 300:
        if not isinstance(doc, dict):
            problems.append("2xx body is not a JSON object")
        elif req.op in ("Health",):
            pass
        elif req.invalid:
            problems.append("2xx for a request the model rules out")
        elif req.service in models and req.op in models[req.service].operations:
            extra = set(doc) - models[req.service].output_members(req.op)
            if extra:
                problems.append(f"2xx with members the output shape lacks: {sorted(extra)}")
    else:
        problems.append(f"unexpected status {status}")
    return problems, code


def top_entries(d):
    try:
        return set(os.listdir(d))
    except OSError:
        return set()


def tree(root, skip):
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel == ".":
            dirnames[:] = [d for d in dirnames if d not in skip]
        for n in dirnames + filenames:
            out.add(os.path.normpath(os.path.join(rel, n)))
    return out


# ------------------------------------------------------------------ the test


class Run:
    def __init__(self, base, token):
        self.base = base
        self.root = base / "root"
        self.data = self.root / "data"
        self.cwd = self.root / "cwd"
        self.logs = base / "logs"
        self.token = token
        self.failures = []  # (key, text)
        self.short = {}  # key -> one line
        self.keys = Counter()
        self.stats = Counter()
        self.codes = Counter()
        self.labels = Counter()
        self.restarts = 0
        self.deadly = set()  # (operation, mutation) that killed or hung the server: not sent again
        self.server = None
        self.client = None
        self.models = {s: Model(s) for s in MODEL_FILES}

    def start(self):
        n = len(list(self.logs.glob("server-*.log")))
        self.server = FuzzServer(self.data, self.cwd, self.logs / f"server-{n}.log")
        if self.client is None:
            self.client = Client(self.server.url)
        else:
            self.client.set_url(self.server.url)

    def alive(self):
        if self.server.proc.poll() is not None:
            return False
        try:
            self.server.proc.wait(timeout=0.3)
            return False
        except subprocess.TimeoutExpired:
            return True

    def log_size(self):
        try:
            return os.path.getsize(self.server.log_path)
        except OSError:
            return 0

    def log_since(self, offset):
        """What the server logged since offset: the panic or abort message and
        the frames of rollcall's own code."""
        try:
            lines = Path(self.server.log_path).read_bytes()[offset:].decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        keep = lines[:2]
        for prev, line in zip(lines[1:], lines[2:]):
            if "/src/" in line and ".cargo" not in line and "/rustc/" not in line and len(keep) < 10:
                keep.append(f"{prev.strip()} {line.strip()}")
        return "\n".join("    " + l.strip() for l in keep)

    def fail(self, key, req, detail):
        self.keys[key] += 1
        if self.keys[key] > 1:
            return
        text = f"FAILURE [{key[0]}] {detail}\n{req.describe()}"
        self.failures.append((key, text))
        self.short[key] = f"[{key[0]}] {req.service}.{req.op} {norm_label(req.label)}"
        print("\n" + text, flush=True)

    def call(self, req):
        """Sends one request; checks and records its answer."""
        log_at = self.log_size()
        try:
            status, headers, body = self.client.send(req, self.alive)
        except Hang as e:
            self.fail(("hang", req.op, norm_label(req.label)), req, f"no answer within {TIMEOUT} s ({e})\n"
                      f"  server log:\n{self.log_since(log_at)}")
            self.stats[(req.service, req.op, "hang")] += 1
            self.deadly.add((req.op, norm_label(req.label)))
            if not self.healthy():
                self.restart("unresponsive after a hang")
            return None
        except Closed as e:
            if self.server.proc.poll() is not None or not self.alive():
                rc = self.server.proc.returncode
                self.fail(("crash", req.op, norm_label(req.label)), req,
                          f"server died (exit status {rc}) on this request: {e}\n  server log:\n"
                          + self.log_since(log_at))
                self.stats[(req.service, req.op, "crash")] += 1
                self.deadly.add((req.op, norm_label(req.label)))
                self.restart("died")
            else:
                self.fail(("closed", req.op, norm_label(req.label)), req, f"connection closed without an answer: {e}")
                self.stats[(req.service, req.op, "closed")] += 1
            return None
        problems, code = check_response(req, status, headers, body, self.models)
        self.stats[(req.service, req.op, status)] += 1
        if code:
            self.codes[(req.service if req.service != "-" else "-", code)] += 1
        for p in problems:
            self.fail((p.split(":")[0], req.op, norm_label(req.label), status, code), req,
                      f"{p}: status {status}, code {code}, body {body[:300]!r}")
        if self.server.proc.poll() is not None:
            self.fail(("crash", req.op, norm_label(req.label)), req, "server died right after answering this request\n"
                      f"  server log:\n{self.log_since(log_at)}")
            self.restart("died")
        return status, headers, body

    def healthy(self):
        try:
            st, _, _ = Client(self.server.url).send(Req("-", "Health", "health", "GET", "/health", {}), lambda: True, 10)
            return st == 200
        except (Hang, Closed):
            return False

    def restart(self, why):
        if self.server.proc.poll() is None:
            self.server.proc.kill()
            self.server.proc.wait()
        self.restarts += 1
        print(f"  (server {why}; restart {self.restarts}/{MAX_RESTARTS})", flush=True)
        if self.restarts > MAX_RESTARTS:
            raise RuntimeError("too many restarts")
        self.client.close()
        self.start()

    # ---------------------------------------------------------- seeding

    def rk(self, op, body):
        req = Req("rekognition", op, "seed", "POST", "/", {"X-Amz-Target": TARGET + op, "Content-Type": REK_CT},
                  json.dumps(body).encode())
        st, _, data = self.client.send(req, self.alive)
        assert st == 200, (op, st, data[:500])
        return json.loads(data)

    def cn(self, method, path, body=None):
        req = Req("connect", "seed", "seed", method, path, {"Content-Type": "application/json"} if body is not None else {},
                  json.dumps(body).encode() if body is not None else b"")
        st, _, data = self.client.send(req, self.alive)
        assert st == 200, (path, st, data[:500])
        return json.loads(data)

    def seed_connect(self, ctx):
        demo = self.base / "demo"
        run_cli("demo-data", "--users", 120, "--seed", 7, "--out", demo, cwd=self.cwd)
        for instance in (ctx.instance, ctx.write_instance):
            run_cli("connect", "import", "--data", self.data, "--instance", instance,
                    "--groups", demo / "groups.jsonl", demo / "users.jsonl", cwd=self.cwd)
        ctx.connect_users = [json.loads(l)["Id"] for l in (demo / "users.jsonl").read_text().splitlines() if l.strip()][:60]
        ctx.groups = [json.loads(l)["Id"] for l in (demo / "groups.jsonl").read_text().splitlines() if l.strip()][:40]

    def seed_rekognition(self, ctx):
        rng = random.Random(SEED + 2)
        sizes = {ctx.collections[0]: 12, ctx.collections[1]: 6, ctx.scratch: 3}
        for c, n in sizes.items():
            self.rk("CreateCollection", {"CollectionId": c})
            rows = [[rng.gauss(0, 1) for _ in range(DIM)] for _ in range(n)]
            r = self.rk("IndexFaces", {"CollectionId": c, "ExternalImageId": f"{ctx.token}-seed",
                                       "Image": {"Bytes": base64.b64encode(npy(rows)).decode()}})
            ctx.faces[c] = [f["Face"]["FaceId"] for f in r["FaceRecords"]]
            assert len(ctx.faces[c]) == n
            ctx.users[c] = []
            for i in range(3 if n > 3 else 1):
                u = f"{ctx.token}-u{i}"
                self.rk("CreateUser", {"CollectionId": c, "UserId": u})
                ctx.users[c].append(u)
                self.rk("AssociateFaces", {"CollectionId": c, "UserId": u, "FaceIds": ctx.faces[c][2 * i:2 * i + 2]})
        a = ctx.collections[0]
        for op, body in [("ListFaces", {"CollectionId": a, "MaxResults": 2}), ("ListUsers", {"CollectionId": a, "MaxResults": 1}),
                         ("ListCollections", {"MaxResults": 1})]:
            tok = self.rk(op, body).get("NextToken")
            if tok:
                ctx.tokens[("rekognition", op)] = [tok]
        for _ in range(3):
            ctx.doomed.append(self.cn("PUT", "/instance", {
                "IdentityManagementType": "CONNECT_MANAGED", "InboundCallsEnabled": True,
                "OutboundCallsEnabled": True})["Id"])
        inst = urllib.parse.quote(ctx.instance, safe="")
        r = self.cn("POST", "/search-users", {"InstanceId": ctx.instance, "MaxResults": 2})
        ctx.tokens[("connect", "SearchUsers")] = [r["NextToken"]]
        r = self.cn("POST", "/search-user-hierarchy-groups", {"InstanceId": ctx.instance, "MaxResults": 2})
        ctx.tokens[("connect", "SearchUserHierarchyGroups")] = [r["NextToken"]]
        r = self.cn("GET", "/instance?maxResults=1")
        ctx.tokens[("connect", "ListInstances")] = [r["NextToken"]]
        for op, path in [("ListUsers", f"/users-summary/{inst}?maxResults=2"),
                         ("ListUserHierarchyGroups", f"/user-hierarchy-groups-summary/{inst}?maxResults=2")]:
            tok = self.cn("GET", path).get("NextToken")
            if tok:
                ctx.tokens[("connect", op)] = [tok]

    def discover(self, fz):
        """The operations the server serves: a minimal request for each model
        operation either routes or comes back UnknownOperationException."""
        served = {}
        for service, model in self.models.items():
            served[service] = []
            for op in model.operations:
                body, _, pv, q = fz.base(service, op, minimal=True)
                req = fz.render(service, op, "discover", body, pv, q)
                answer = self.call(req)
                if answer is None:
                    served[service].append(op)
                    continue
                st, hdrs, data = answer
                try:
                    doc = json.loads(data)
                except ValueError:
                    doc = {}
                code = doc.get("__type") if service == "rekognition" else (hdrs.get("x-amzn-errortype") or "").split(":")[0]
                if code != "UnknownOperationException":
                    served[service].append(op)
        return served


def test_fuzz_http(tmp_path):
    t0 = time.monotonic()
    token = f"rcfz{SEED:x}"
    run = Run(tmp_path, token)
    run.data.mkdir(parents=True)
    run.cwd.mkdir()
    run.logs.mkdir()
    print(f"\nfuzz: seed {SEED} (FUZZ_SEED), {N_REQUESTS} requests (FUZZ_REQUESTS), id {token}, root {run.root}")
    watched = sorted({"/tmp", "/", "/var/tmp", "/dev/shm", os.path.expanduser("~"), os.getcwd(), str(tmp_path),
                      str(tmp_path.parent), str(HERE), str(conftest.ROOT), str(conftest.BIN.parent)})
    before_root = tree(run.root, {"data"})
    before_top = {d: top_entries(d) for d in watched}

    ctx = Ctx(token)
    run.seed_connect(ctx)
    run.start()
    try:
        run.seed_rekognition(ctx)
        fz = Fuzzer(SEED, ctx, run.models, {s: list(m.operations) for s, m in run.models.items()})
        served = run.discover(fz)
        assert served["rekognition"] and served["connect"], served
        print("fuzz: served", {s: len(v) for s, v in served.items()}, served)
        fz = Fuzzer(SEED, ctx, run.models, served)
        probe = {"InstanceId": ctx.instance, "MaxResults": 50,
                 "SearchCriteria": {"StringCondition": {"FieldName": "Username", "Value": "a", "ComparisonType": "STARTS_WITH"}}}
        expected_users = run.cn("POST", "/search-users", probe)
        t1 = time.monotonic()
        sent = 0
        try:
            for _ in range(N_REQUESTS):
                req = fz.next()
                run.labels[req.label.split("@")[0].split("/")[0]] += 1
                if (req.op, norm_label(req.label)) in run.deadly:
                    # Known to kill the server: counted, not sent again, so
                    # that a long run goes on finding other bugs.
                    run.stats[(req.service, req.op, "skipped")] += 1
                    continue
                run.call(req)
                sent += 1
        except RuntimeError as e:
            print(f"fuzz: stopped early after {sent} requests: {e}")
            run.failures.append((("stopped",), f"FAILURE [stopped] {e} after {sent} requests"))
        t2 = time.monotonic()

        # Afterwards: still answering, the same data, and a clean stop.
        try:
            lc = run.rk("ListCollections", {})
            ids = lc["CollectionIds"]
            assert ids == sorted(ids) and set(ctx.collections) <= set(ids), ids
            assert len(lc["FaceModelVersions"]) == len(ids)
            for c in ctx.collections:
                assert run.rk("DescribeCollection", {"CollectionId": c})["FaceModelVersion"] == f"vector-{DIM}"
            again = run.cn("POST", "/search-users", probe)
            assert again["ApproximateTotalCount"] == expected_users["ApproximateTotalCount"]
            assert [u["Id"] for u in again["Users"]] == [u["Id"] for u in expected_users["Users"]]
        except (AssertionError, Hang, Closed, ValueError, KeyError) as e:
            run.failures.append((("after",), f"FAILURE [after] the server no longer answers as before: {e!r}"))
    finally:
        run.client.close()
        if run.server.proc.poll() is None:
            try:
                rc = run.server.stop()
            except subprocess.TimeoutExpired:
                rc = "none: still running 20 s after SIGTERM (killed)"
            if rc != 0:
                run.failures.append((("sigterm",), f"FAILURE [sigterm] exit status {rc} after SIGTERM"))
        else:
            run.failures.append((("dead",), f"FAILURE [dead] server not running at the end "
                                            f"(exit status {run.server.proc.returncode})"))

    created = sorted(tree(run.root, {"data"}) - before_root)
    if created:
        run.failures.append((("fs-root",), f"FAILURE [fs] created outside ROOT/data under {run.root}: {created[:20]}"))
    for d in watched:
        new = sorted(n for n in top_entries(d) - before_top[d] if token in n)
        if new:
            run.failures.append((("fs-top", d), f"FAILURE [fs] created in {d}: {new[:20]}"))
    data_escape = [p for p in tree(run.data, set()) if token in p and ".." in p]
    if data_escape:
        run.failures.append((("fs-data",), f"FAILURE [fs] odd paths in data: {data_escape[:10]}"))

    # The summary.
    skipped = sum(n for (_, _, st), n in run.stats.items() if st == "skipped")
    print(f"\nfuzz: {sent} requests sent ({skipped} skipped as known to kill the server) in {t2 - t1:.1f} s ({sent / max(t2 - t1, 1e-9):.0f}/s), "
          f"total {time.monotonic() - t0:.1f} s, {run.restarts} restarts, seed {SEED}")
    by_op = {}
    for (service, op, st), n in run.stats.items():
        by_op.setdefault((service, op), Counter())[st] += n
    print(f"\n{'operation':<48} {'requests':>8}  statuses")
    for (service, op), c in sorted(by_op.items()):
        print(f"{service + '.' + op:<48} {sum(c.values()):>8}  " + ", ".join(f"{k}: {v}" for k, v in sorted(c.items(), key=str)))
    print(f"\n{'error code':<48} {'count':>8}")
    for (service, code), n in sorted(run.codes.items(), key=lambda x: -x[1]):
        print(f"{service + ': ' + code:<48} {n:>8}")
    print("\nmutations: " + ", ".join(f"{k} {v}" for k, v in sorted(run.labels.items())))
    if run.failures:
        print(f"\n{len(run.failures)} distinct failures (seed {SEED}):")
        for key, text in run.failures:
            print(f"\n[{run.keys.get(key, 1)}x] {text}")
    if run.failures:
        pytest.fail(f"{len(run.failures)} distinct failures (seed {SEED}; `pytest -s` prints each with its request):\n"
                    + "\n".join(f"  {run.keys.get(key, 1)}x " + run.short.get(key, text.splitlines()[0][:200])
                                for key, text in run.failures), pytrace=False)
