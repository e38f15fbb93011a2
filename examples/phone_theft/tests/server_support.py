"""Fixtures and helpers of the phone-theft server tests (test_server.py, test_browser.py), kept
out of conftest.py (which the data tests of this folder own): the test modules import them.

The binary is PHONE_THEFT_SERVER or build/examples/phone_theft/phone_theft_server; the model
is PHONE_THEFT_MODEL or examples/models/phone_theft.json. Neither being there is a failure,
not a skip: `make` builds the one and ships the other.
"""
import http.client
import json
import os
import pathlib
import signal
import subprocess
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]


def server_binary():
    path = pathlib.Path(os.environ.get("PHONE_THEFT_SERVER", REPO / "build/examples/phone_theft/phone_theft_server"))
    if not path.is_file():
        pytest.fail(f"{path} is missing: build it with `make` (cmake --build build --target phone_theft_server)")
    return path


def server_model():
    path = pathlib.Path(os.environ.get("PHONE_THEFT_MODEL", REPO / "examples/models/phone_theft.json"))
    if not path.is_file():
        pytest.fail(f"{path} is missing (the shipped phone-theft model)")
    return path


class PhoneTheftServer:
    """A phone_theft_server process on a free port of 127.0.0.1, its output in files."""

    def __init__(self, model, workdir, *args):
        self.model = pathlib.Path(model)
        self.stdout_path = pathlib.Path(workdir) / "server.stdout"
        self.stderr_path = pathlib.Path(workdir) / "server.stderr"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                [str(server_binary()), "--model", str(self.model), "--port", "0", *args],
                stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        self.port = None
        while self.port is None:
            text = self.stdout_path.read_text(errors="replace")
            if " on http://127.0.0.1:" in text:
                self.port = int(text.split(" on http://127.0.0.1:")[1].split()[0])
                break
            if self.process.poll() is not None:
                raise AssertionError(f"phone_theft_server exited with {self.process.returncode}: {self.log()}")
            if time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"phone_theft_server did not start: {self.log()}")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"

    def log(self):
        return self.stderr_path.read_text(errors="replace")

    def connection(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, connection=None):
        """(status, headers, parsed JSON or text) of one request, on a new connection unless one is given."""
        conn = connection or self.connection()
        try:
            if body is not None and not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            conn.request(method, path, body=body, headers=headers or ({"Content-Type": "application/json"} if body else {}))
            response = conn.getresponse()
            data = response.read()
            kind = response.getheader("Content-Type", "")
            parsed = json.loads(data) if kind.startswith("application/json") else data.decode()
            return response.status, dict(response.getheaders()), parsed
        finally:
            if connection is None:
                conn.close()

    def predict(self, body, connection=None):
        return self.request("POST", "/predict", body, connection=connection)

    def signal(self, number):
        self.process.send_signal(number)

    def stop(self, timeout=20):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture(scope="session")
def phone_theft_server_binary():
    return server_binary()


@pytest.fixture(scope="session")
def phone_theft_server_model():
    return server_model()


@pytest.fixture(scope="module")
def phone_theft_server(phone_theft_server_model, tmp_path_factory):
    """One server for a test module, on the shipped model; checked to exit 0 on SIGTERM."""
    server = PhoneTheftServer(phone_theft_server_model, tmp_path_factory.mktemp("phone_theft_server"))
    yield server
    code = server.stop()
    assert code == 0, f"phone_theft_server exited with {code}: {server.log()}"


@pytest.fixture
def phone_theft_server_factory(tmp_path):
    """Starts extra servers (own model path, own arguments); stops them after the test."""
    started = []

    def start(model, *args):
        workdir = tmp_path / f"server{len(started)}"
        workdir.mkdir()
        server = PhoneTheftServer(model, workdir, *args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
