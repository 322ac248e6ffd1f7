"""Fixtures for the boto3 conformance suite: a `rollcall serve` process on a
free loopback port over a temporary data directory seeded with the demo
directory, and boto3 clients pointed at it. Nothing is built here: the
suite runs the binary at target/release/rollcall (or $ROLLCALL_BIN)."""

import os
import signal
import struct
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("ROLLCALL_BIN", ROOT / "target" / "release" / "rollcall"))
INSTANCE = "demo"
ACCESS_KEY = "AKIDROLLCALLTEST"
SECRET = "rollcall/test+secret"


def run(*args, **kw):
    return subprocess.run([str(BIN), *map(str, args)], check=True, capture_output=True, text=True, **kw)


class Server:
    """A running `rollcall serve`; stopped with SIGTERM."""

    def __init__(self, data, *extra):
        if not BIN.exists():
            pytest.fail(f"{BIN} is missing: run `cargo build --release` first")
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        self.proc = subprocess.Popen(
            [str(BIN), "serve", "--data", str(data), "--listen", "127.0.0.1:0", *map(str, extra)],
            stdout=subprocess.PIPE,
            stderr=sys.stderr,
            text=True,
            env=env,
        )
        line = self.proc.stdout.readline()
        if "listening on " not in line:
            self.proc.kill()
            pytest.fail(f"rollcall serve did not start: {line!r}")
        self.url = line.strip().split("listening on ", 1)[1]
        self.data = data

    def client(self, service, key=ACCESS_KEY, secret=SECRET):
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=True),
        )

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("rollcall")
    demo = base / "demo"
    run("demo-data", "--users", 400, "--seed", 7, "--out", demo)
    run("connect", "import", "--data", base / "data", "--instance", INSTANCE,
        "--groups", demo / "groups.jsonl", demo / "users.jsonl")
    return base / "data"


@pytest.fixture(scope="session")
def server(data_dir):
    s = Server(data_dir)
    yield s
    assert s.stop() == 0


@pytest.fixture(scope="session")
def secure_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("secure")
    creds = base / "credentials"
    creds.write_text(f"# test keys\n{ACCESS_KEY} {SECRET}\n")
    s = Server(base / "data", "--credentials", creds)
    yield s
    assert s.stop() == 0


@pytest.fixture
def connect(server):
    return server.client("connect")


@pytest.fixture
def rekognition(server):
    return server.client("rekognition")


def npy(rows):
    """A float32 .npy file of shape (len(rows), d), without numpy."""
    d = len(rows[0])
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (len(rows), d)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    body = b"".join(struct.pack(f"<{d}f", *r) for r in rows)
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + body
