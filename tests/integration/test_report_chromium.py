"""The gate report's first screen in a real browser (issue 16: "``index.html`` checked in headless
Chromium shows the versions block").

The report comes from a whole gate run over fake scenario modules (the ``fake`` fixture of
test_gate_runs.py: the real gate command, its pytest subprocess and plugin, the real header and
provenance; no cluster). Headless Chromium (Debian's ``chromium``; ci/provision-host.sh installs it)
then loads it twice:

* ``--dump-dom`` of ``index.html``: in the DOM Chromium built, the ``id="versions"`` block holds what
  ``gate.json``'s ``info`` says produced the report (harness, helm, kind, kubectl and Kubernetes
  versions, edge, image source, each image and its source, the contract's sha256), and the facts
  above it hold the command line;
* ``--dump-dom`` of a copy of the page with a script appended that measures the layout Chromium made
  at 1280 CSS px wide: the versions block and the command line end within the first screen, the top
  800 px (a 1280x800 screen; what ``--screenshot --window-size=1280,800`` captures), and the block
  sits below the verdict header. The height is fixed rather than taken from ``window.innerHeight``,
  which new headless Chromium shrinks by its window's UI (713 px, or 657 with an infobar, for 800).

Without chromium the test skips and prints why.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_gate_runs import fake  # noqa: F401 - the fixture, requested through getfixturevalue below

BROWSERS = ("chromium", "chromium-browser")
WIDTH, FIRST_SCREEN = 1280, 800  # CSS px
WINDOW = f"{WIDTH},{FIRST_SCREEN}"
TIMEOUT = 90  # seconds for one page load and dump; a loaded host takes a few

# Appended to a copy of the page: measures the first screen as Chromium laid it out and writes the
# figures into the DOM, where --dump-dom carries them out (no remote debugging protocol needed).
PROBE = """<script>(function () {
  var out = {width: window.innerWidth, facts: {}};
  var box = function (el) { var r = el.getBoundingClientRect(); return [r.top, r.bottom]; };
  out.header = box(document.querySelector("header"));
  out.versions = box(document.getElementById("versions"));
  document.querySelectorAll("dl.facts dt").forEach(function (dt) {
    out.facts[dt.textContent] = Math.max(box(dt)[1], box(dt.nextElementSibling)[1]);
  });
  var pre = document.createElement("pre");
  pre.id = "first-screen-probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();</script>"""


def chromium() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    reason = "chromium is not installed (Debian: apt-get install chromium; ci/provision-host.sh does it)"
    print(reason)
    pytest.skip(reason)


def dump_dom(browser: str, page: Path, profile: Path) -> str:
    """The DOM Chromium built for ``page`` (after its scripts ran), as serialised HTML."""
    r = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        f"--user-data-dir={profile}", f"--window-size={WINDOW}", "--dump-dom", page.as_uri()],
                       capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert r.returncode == 0 and "<html" in r.stdout, f"chromium exit {r.returncode}: {r.stderr[-2000:]}"
    return r.stdout


class _Texts(HTMLParser):
    """The text under the element with ``id="versions"``, the ``dt``/``dd`` pairs of the facts lists
    (label -> text), and the probe's text."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.versions: list[str] = []
        self.facts: dict[str, str] = {}
        self.probe = ""
        self._in: str | None = None
        self._dt = ""
        self._buf: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self.depth or a.get("id") == "versions":
            self.depth += 1
        if tag in ("dt", "dd") or a.get("id") == "first-screen-probe":
            self._in, self._buf = (a.get("id") or tag), []

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1
        text = "".join(self._buf).strip()
        if self._in == "dt" and tag == "dt":
            self._dt = text
        elif self._in == "dd" and tag == "dd":
            self.facts[self._dt] = text
        elif self._in == "first-screen-probe" and tag == "pre":
            self.probe = text
        if tag in ("dt", "dd", "pre"):
            self._in = None

    def handle_data(self, data):
        if self.depth:
            self.versions.append(data)
        if self._in:
            self._buf.append(data)


def parse(dom: str) -> _Texts:
    p = _Texts()
    p.feed(dom)
    return p


def test_the_first_screen_in_chromium_shows_the_versions_block(request, tmp_path):
    browser = chromium()
    run = request.getfixturevalue("fake")
    result, rep = run("--shard", "1/1")
    assert result.returncode == 0, result.stdout
    info = json.loads((rep / "gate.json").read_text())["info"]

    dom = parse(dump_dom(browser, rep / "index.html", tmp_path / "profile"))
    block = " ".join(" ".join(dom.versions).split())
    assert block, "no id=versions block in the DOM Chromium built"
    want = [info["harness_version"], *info["versions"].values(), *info["edges"], info["image_source"],
            info["contracts"][0]["sha256"], info["shard"]]
    for image in info["images"]:
        want += [image["image"], image["source"]]
    assert {"helm", "kind", "kubectl", "kubernetes"} <= set(info["versions"]) and info["images"]
    missing = [w for w in want if w and w not in block]
    assert missing == [], f"not in the versions block: {missing}\nblock: {block}"
    for label in ("harness", "helm", "kind", "kubectl", "Kubernetes", "edge", "image source", "contract demo"):
        assert label in dom.facts, (label, sorted(dom.facts))
    assert dom.facts["command"] == info["command"] and "--shard 1/1" in info["command"]

    probe_page = rep / "first-screen-probe.html"
    probe_page.write_text((rep / "index.html").read_text().replace("</body>", PROBE + "</body>"))
    probe = json.loads(parse(dump_dom(browser, probe_page, tmp_path / "profile")).probe)
    assert probe["width"] == WIDTH, probe  # the layout is for the width asked for
    screen = FIRST_SCREEN
    assert probe["header"][1] <= probe["versions"][0], f"the versions block is not below the verdict: {probe}"
    assert 0 < probe["versions"][1] <= screen, f"the versions block ends below the first screen: {probe}"
    assert 0 < probe["facts"]["command"] <= screen, f"the command line is below the first screen: {probe}"
