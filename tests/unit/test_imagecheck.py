"""harness.env.imagecheck: the registry's answer to one HEAD -> one line, against a fake registry
served on 127.0.0.1 in-process (token auth included); the real registry:
tests/integration/test_registry.py."""
from __future__ import annotations

import base64
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.core.errors import EnvironmentNotReady
from harness.env.imagecheck import (
    ImageCheck,
    check_image,
    docker_auth,
    outcome_of,
    parse_challenge,
    partial_note,
    problem_line,
    require_images,
)


class FakeRegistry:
    """Manifests by path and tag; ``bearer``: anonymous requests get a Bearer challenge whose token
    service gives ``good`` only for ``allowed`` repositories."""

    def __init__(self, manifests: set[tuple[str, str]], *, bearer: bool = False, allowed: set[str] = frozenset()):
        outer = self
        self.seen: list[tuple[str, str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _answer(self, code, headers=(), body=b""):
                self.send_response(code)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self):
                outer.seen.append((self.command, self.path, self.headers.get("Authorization", "")))
                if self.path.startswith("/token"):
                    repo = self.path.split("scope=repository%3A", 1)[1].split("%3Apull", 1)[0].replace("%2F", "/")
                    if repo in allowed:
                        return self._answer(200, body=json.dumps({"token": "good"}).encode())
                    return self._answer(200, body=json.dumps({"token": "anonymous"}).encode())
                return self._answer(404)

            def do_HEAD(self):
                outer.seen.append((self.command, self.path, self.headers.get("Authorization", "")))
                if bearer and self.headers.get("Authorization") != "Bearer good":
                    realm = f"http://127.0.0.1:{outer.port}/token"
                    return self._answer(401, [("WWW-Authenticate",
                                               f'Bearer realm="{realm}",service="fake",scope="x"')])
                path = self.path[len("/v2/"):]
                repo, _, ref = path.rpartition("/manifests/")
                if "application/vnd.oci.image.index.v1+json" not in self.headers.get("Accept", ""):
                    return self._answer(404)
                self._answer(200 if (repo, ref) in manifests else 404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def plain():
    r = FakeRegistry({("library/postgres", "16"), ("kindest/node", "v1.37.0")})
    yield r
    r.close()


@pytest.fixture
def token():
    r = FakeRegistry({("org/app", "1.0"), ("org/private", "1.0")}, bearer=True, allowed={"org/app"})
    yield r
    r.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


NO_CREDS: dict = {}


def test_present_tag_is_ok(plain):
    c = check_image(f"{plain.address}/library/postgres:16", docker_config=NO_CREDS)
    assert c.outcome == "ok" and problem_line(c) is None
    assert plain.seen[-1][:2] == ("HEAD", "/v2/library/postgres/manifests/16")


def test_missing_tag_is_one_line_naming_image_and_registry(plain):
    image = f"{plain.address}/library/postgres:99"
    c = check_image(image, docker_config=NO_CREDS)
    line = problem_line(c)
    assert c.outcome == "missing"
    assert line.startswith(f"image {image}: tag 99 not found in registry {plain.address} (HTTP 404")
    assert "\n" not in line


def test_mirror_is_asked_for_mirrored_registries_only(plain):
    c = check_image("postgres:16", mirror=plain.address, mirrored=("docker.io",), docker_config=NO_CREDS)
    assert (c.outcome, c.asked, c.upstream) == ("ok", plain.address, "docker.io")
    missing = check_image("postgres:17", mirror=plain.address, mirrored=("docker.io",), docker_config=NO_CREDS)
    assert f"registry {plain.address} (standing in for docker.io)" in problem_line(missing)


def test_closed_port_is_unreachable_fast():
    port = closed_port()
    c = check_image(f"127.0.0.1:{port}/a/b:1", timeout=5, docker_config=NO_CREDS)
    assert c.outcome == "unreachable" and c.seconds < 5
    assert f"registry 127.0.0.1:{port} is unreachable (" in problem_line(c)


def test_bearer_challenge_gets_an_anonymous_token_then_asks_again(token):
    c = check_image(f"{token.address}/org/app:1.0", docker_config=NO_CREDS)
    assert c.outcome == "ok"
    methods = [(m, p.split("?")[0]) for m, p, _ in token.seen]
    assert methods == [("HEAD", "/v2/org/app/manifests/1.0"), ("GET", "/token"),
                       ("HEAD", "/v2/org/app/manifests/1.0")]
    assert "service=fake" in token.seen[1][1]


def test_refused_after_the_token_is_unauthorized(token):
    c = check_image(f"{token.address}/org/private:1.0", docker_config=NO_CREDS)
    assert c.outcome == "unauthorized"
    assert f"registry {token.address} refused access (HTTP 401" in problem_line(c)
    assert f"docker login {token.address}" in problem_line(c)


def test_docker_login_credentials_are_sent_to_the_token_service(token):
    cfg = {"auths": {token.address: {"auth": base64.b64encode(b"u:p").decode()}}}
    check_image(f"{token.address}/org/app:1.0", docker_config=cfg)
    assert token.seen[0][2] == "Basic " + base64.b64encode(b"u:p").decode()
    assert token.seen[1][2] == "Basic " + base64.b64encode(b"u:p").decode()


def test_credential_helper_makes_a_401_unknown_not_a_fault(token):
    cfg = {"credHelpers": {token.address: "secretservice"}}
    c = check_image(f"{token.address}/org/private:1.0", docker_config=cfg)
    assert c.outcome == "unknown" and problem_line(c) is None


def test_require_images_raises_one_line_per_fault_and_checks_each_once(plain):
    good = f"{plain.address}/library/postgres:16"
    assert [c.outcome for c in require_images([good, good])] == ["ok"]
    with pytest.raises(EnvironmentNotReady) as one:
        require_images([good, f"{plain.address}/library/postgres:1"])
    assert str(one.value).count("\n") == 0 and "tag 1 not found" in str(one.value)
    port = closed_port()
    with pytest.raises(EnvironmentNotReady) as two:
        require_images([f"{plain.address}/x/y:1", f"127.0.0.1:{port}/x/y:1"], timeout=5)
    lines = str(two.value).splitlines()
    assert lines[0] == "2 images cannot be pulled:" and len(lines) == 3


def test_an_image_some_nodes_hold_says_which_nodes_would_fail(plain):
    image = f"{plain.address}/library/postgres:1"
    note = partial_note(["w1"], ["cp", "w1", "w2"])
    assert note == "only node w1 holds it already, so pods scheduled on cp, w2 would wait in ImagePullBackOff"
    with pytest.raises(EnvironmentNotReady) as err:
        require_images([image], notes={image: note})
    assert str(err.value).endswith("or push the image; " + note) and "\n" not in str(err.value)
    assert partial_note([], ["cp", "w1"]) == "" and partial_note(["cp", "w1"], ["cp", "w1"]) == ""
    assert partial_note(["cp", "w1"], ["cp", "w1", "w2"]).startswith("only nodes cp, w1 hold it already")


def test_digest_references_are_asked_by_digest(plain):
    digest = "sha256:" + "e" * 64
    c = check_image(f"{plain.address}/kindest/node:v1.37.0@{digest}", docker_config=NO_CREDS)
    assert plain.seen[-1][1] == f"/v2/kindest/node/manifests/{digest}"
    assert problem_line(c).startswith(f"image {plain.address}/kindest/node:v1.37.0@{digest}: digest {digest} not found")


@pytest.mark.parametrize("status, outcome", [(200, "ok"), (404, "missing"), (401, "unauthorized"),
                                             (403, "unauthorized"), (500, "unknown"), (429, "unknown")])
def test_outcome_of_status(status, outcome):
    assert outcome_of(status) == outcome


def test_unknown_outcome_is_no_fault():
    assert problem_line(ImageCheck("a:1", "docker.io", "docker.io", "unknown", "HTTP 500")) is None


def test_parse_challenge():
    assert parse_challenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io"') == \
        ("bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io"})
    assert parse_challenge('Basic realm="harness-registry"') == ("basic", {"realm": "harness-registry"})


def test_docker_auth_reads_docker_hub_aliases():
    cfg = {"auths": {"https://index.docker.io/v1/": {"auth": base64.b64encode(b"me:pw").decode()}}}
    assert docker_auth("docker.io", cfg) == ("me:pw", False)
    assert docker_auth("quay.io", cfg) == (None, False)
    assert docker_auth("quay.io", {"credsStore": "desktop", "auths": {"quay.io": {}}}) == (None, True)
