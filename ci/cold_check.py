"""`make cold-check`: the whole image build from empty caches, timed step by step (issue 14, item 1).

What a fresh machine does on `make tools images`, for one Kubernetes version (default: versions.env's
KUBERNETES_VERSION), with nothing cached:

  - a temporary HARNESS_CACHE (tools, binaries, stamps, logs), GOCACHE and GOMODCACHE (Go rebuilds
    and re-downloads everything through its module proxy); PATH without the harness's own tool
    directories (.tools/bin, the usual cache's tools), so build-tools.sh fetches or builds them;
  - HARNESS_IMAGE_SOURCE=local: the node image is built, not pulled;
  - the Docker images the image build makes deleted first: the harness/* repositories the scripts
    name (:func:`built_repositories`, read from images/ and charts-under-test/) and the registry.k8s.io/* images build-components.sh made (label
    ``harness.key``; a pulled registry.k8s.io image has none and is kept). Images of the other
    supported Kubernetes versions (node images, podnet, kube-*) are kept: this version's build never
    reads them. It refuses while a container uses one of them (a kind cluster: `make cluster-down`).

Then images/build-tools.sh, images/build-actionlint.sh and images/build-images.sh run as `make tools images` runs them (without
re-linking .tools/bin at the temporary cache), their output in artifacts/cold-check.log. Every
`<step> done in Ns` line the scripts print becomes a row of artifacts/cold-check.md and
artifacts/cold-check.json, with each script's wall time and the total.

Deleting images needs `--yes` (or CONFIRM=1: `make cold-check CONFIRM=1`); `--dry-run` prints what
would be deleted and the environment the build would get, and changes nothing.

Usage: python3 ci/cold_check.py [--dry-run | --yes] [--kubernetes-version vX.Y.Z] [--workdir DIR]
                                [--keep-workdir] [--artifacts-dir DIR]
Exit: 0 built; 1 a build script failed; 2 usage (no confirmation, unknown version); 3 the environment
(no Docker, a container uses an image to delete, deleting failed).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "images"

# The image build's scripts: the harness/* repositories named in them are what it tags.
# (harness/privileged-probe, ci/provision-docker.sh, belongs to provisioning and is left alone.)
BUILD_SCRIPT_GLOBS = ("images/**/*.sh", "charts-under-test/**/*.sh")
REPOSITORY_IN_SCRIPT = re.compile(r"harness/[a-z0-9][a-z0-9-]*\$?")
COMPONENT_REGISTRY = "registry.k8s.io/"
COMPONENT_LABEL = "harness.key"  # build-components.sh's image() labels what it builds
# build-addons.sh and build-cert-manager.sh label theirs with the hash of what went in; cert-manager's
# are tagged under their upstream quay.io names, so only the label tells them from pulled ones
CONTENT_LABEL = "io.helm-e2e-harness.content"
# (name, script, takes the Kubernetes version as its argument): make tools runs build-actionlint.sh
# after build-tools.sh, into the same (here: the temporary cache's) tools directory
SCRIPTS = (("tools", "images/build-tools.sh", True), ("actionlint", "images/build-actionlint.sh", False),
           ("images", "images/build-images.sh", True))
STEP_LINE = re.compile(r"^\s*\[\d+s\] (?P<step>\S+) done in (?P<seconds>\d+)s\s*$")
VERSION_TAG = re.compile(r"^(v\d+\.\d+\.\d+)(-|$)")


@dataclass(frozen=True)
class Image:
    """A local image reference (``repository:tag``) and its id; ``labelled``: carries COMPONENT_LABEL
    or CONTENT_LABEL (built here, whatever its name)."""

    ref: str
    id: str
    labelled: bool = False

    @property
    def repository(self) -> str:
        return self.ref.rsplit(":", 1)[0]

    @property
    def tag(self) -> str:
        return self.ref.rsplit(":", 1)[1] if ":" in self.ref.split("/")[-1] else ""


@dataclass
class Step:
    script: str
    step: str
    seconds: int


@dataclass
class Report:
    kubernetes_version: str
    started: str
    env: dict[str, str]
    deleted: list[str]
    scripts: dict[str, float] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    total_seconds: float = 0.0
    exit_code: int = 0
    failed: str = ""


# --------------------------------------------------------------------------- pure parts


def versions_env(path: Path = IMAGES / "versions.env") -> dict[str, str]:
    """versions.env's KEY=VALUE lines (quotes stripped)."""
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip().strip('"')
    return out


def supported_versions(pins: Mapping[str, str]) -> list[str]:
    """The Kubernetes versions with a K8S_<major>_<minor> row."""
    return [v.split()[0] for k, v in pins.items() if re.fullmatch(r"K8S_\d+_\d+", k)]


def built_repositories(root: Path = ROOT) -> dict[str, str]:
    """The harness/* repositories the image build tags, from the scripts' text: repository -> the
    first script naming it. ``harness/debian-$name`` (images/lib.sh) becomes the prefix
    ``harness/debian-*``; versions.env's harness/* images (POSTGRES_IMAGE) count too. Comment lines
    are skipped."""
    found: dict[str, str] = {}
    for pattern in BUILD_SCRIPT_GLOBS:
        for path in sorted(root.glob(pattern)):
            for line in path.read_text().splitlines():
                if line.lstrip().startswith("#"):
                    continue
                for name in REPOSITORY_IN_SCRIPT.findall(line):
                    repo = name[:-1] + "*" if name.endswith("$") else name
                    found.setdefault(repo, str(path.relative_to(root)))
    for key, value in versions_env(root / "images/versions.env").items():
        if value.startswith("harness/"):
            found.setdefault(value.split(":")[0], f"images/versions.env ({key})")
    return found


def _built_repository(repo: str, built: Iterable[str]) -> bool:
    return any(repo == r or (r.endswith("*") and repo.startswith(r[:-1])) for r in built)


def images_to_delete(images: Iterable[Image], version: str, supported: Sequence[str],
                     built: Iterable[str] | None = None) -> list[Image]:
    """The images a cold build of ``version`` must not find: every image in a built repository and
    every labelled registry.k8s.io image, every image labelled CONTENT_LABEL (cert-manager's, built
    under quay.io names), except those tagged for another supported Kubernetes
    version (``harness/kind-node:v1.35.4-<key>``, ``registry.k8s.io/kube-proxy:v1.35.4``). Temporary
    ``*.building`` tags of the scripts count as their repository's."""
    built = list(built_repositories() if built is None else built)
    out = []
    for img in images:
        repo = img.repository
        if img.tag.endswith(".building"):
            repo_tag = img.ref.removesuffix(".building")
            repo = repo_tag.rsplit(":", 1)[0]
        ours = _built_repository(repo, built) or (img.labelled and (repo.startswith(COMPONENT_REGISTRY)
                                                                    or not repo.startswith("harness/")))
        if not ours:
            continue
        m = VERSION_TAG.match(img.tag)
        if m and m.group(1) in supported and m.group(1) != version:
            continue
        out.append(img)
    return out


def parse_docker_images(text: str, labelled_ids: set[str] = frozenset()) -> list[Image]:
    """``docker images --format '{{.Repository}}:{{.Tag}} {{.ID}}'`` output -> Images (no <none> tags)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2 or parts[0].endswith(":<none>") or parts[0].startswith("<none>"):
            continue
        out.append(Image(parts[0], parts[1], parts[1] in labelled_ids))
    return out


def parse_steps(script: str, lines: Iterable[str]) -> list[Step]:
    """The ``<step> done in Ns`` lines of images/lib.sh's ``step`` among ``lines``."""
    return [Step(script, m["step"], int(m["seconds"])) for m in map(STEP_LINE.match, lines) if m]


def cold_env(base: Mapping[str, str], workdir: Path, *, home: Path, root: Path = ROOT) -> dict[str, str]:
    """The environment of the cold build: empty caches under ``workdir``, local node image, and PATH
    without the harness's tool directories (``root``/.tools/bin, the usual cache's tools/)."""
    env = dict(base)
    usual_cache = Path(base.get("HARNESS_CACHE") or Path(base.get("XDG_CACHE_HOME") or home / ".cache")
                       / "helm-e2e-harness")
    drop = (str(root / ".tools"), str(usual_cache / "tools"))
    env["PATH"] = os.pathsep.join(p for p in base.get("PATH", "").split(os.pathsep)
                                  if p and not any(os.path.realpath(p).startswith(os.path.realpath(d)) or
                                                   p.startswith(d) for d in drop))
    env.update(HARNESS_CACHE=str(workdir / "harness-cache"), GOCACHE=str(workdir / "go-build"),
               GOMODCACHE=str(workdir / "go-mod"), HARNESS_IMAGE_SOURCE="local")
    env.pop("HARNESS_KUBERNETES_VERSION", None)
    return env


def shown_env(env: Mapping[str, str], base: Mapping[str, str]) -> dict[str, str]:
    """The variables the cold build gets differently from ``base`` (removed ones as '(unset)')."""
    out = {k: v for k, v in env.items() if base.get(k) != v}
    out.update({k: "(unset)" for k in base if k not in env and k.startswith("HARNESS_")})
    return dict(sorted(out.items()))


def render_markdown(report: Report) -> str:
    """artifacts/cold-check.md: the steps in order with their seconds, each script's wall time, the total."""
    lines = [f"# Cold image build: Kubernetes {report.kubernetes_version}", "",
             f"Started {report.started}; empty HARNESS_CACHE, GOCACHE and GOMODCACHE; "
             f"{len(report.deleted)} harness images deleted first; node image built locally.", ""]
    if report.failed:
        lines += [f"**Failed** in {report.failed} (exit {report.exit_code}); the figures stop there.", ""]
    lines += ["| script | step | seconds |", "|---|---|---:|"]
    lines += [f"| {s.script} | {s.step} | {s.seconds} |" for s in report.steps]
    lines += ["", "| script | wall seconds | in steps | outside steps (docker builds, checks) |", "|---|---:|---:|---:|"]
    for name, secs in report.scripts.items():
        in_steps = sum(s.seconds for s in report.steps if s.script == name)
        lines.append(f"| {name} | {secs:.0f} | {in_steps} | {max(0.0, secs - in_steps):.0f} |")
    lines += ["", f"**Total: {report.total_seconds:.0f} s** ({report.total_seconds / 60:.1f} min)", "",
              "Command: `make cold-check CONFIRM=1` (ci/cold_check.py); log: artifacts/cold-check.log.", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- Docker and running


def _docker(*args: str) -> str:
    out = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise SystemExit(_env_error(f"`docker {' '.join(args)}` failed: {out.stderr.strip() or out.stdout.strip()}"))
    return out.stdout


def _env_error(msg: str) -> int:
    print(f"cold-check: error: {msg}", file=sys.stderr)
    return 3


def local_images() -> list[Image]:
    labelled = {i for label in (COMPONENT_LABEL, CONTENT_LABEL)
                for i in _docker("images", "--filter", f"label={label}", "--format", "{{.ID}}").split()}
    return parse_docker_images(_docker("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"), labelled)


def containers_using(images: Sequence[Image]) -> list[str]:
    """Containers (running or not) whose image is one of ``images``: ``name (image)``."""
    refs = {i.ref for i in images} | {i.id for i in images}
    out = []
    for line in _docker("ps", "-a", "--format", "{{.Names}} {{.Image}}").splitlines():
        parts = line.split()
        if len(parts) == 2 and (parts[1] in refs or parts[1].removeprefix("sha256:")[:12] in refs):
            out.append(f"{parts[0]} ({parts[1]})")
    return out


def _rmtree(path: Path) -> None:
    """rm -rf that also removes Go's read-only module cache files."""
    def make_writable(func, p, _exc):
        os.chmod(p, stat.S_IWRITE | stat.S_IREAD | stat.S_IEXEC)
        func(p)
    if path.exists():
        shutil.rmtree(path, onerror=make_writable)


def run_script(name: str, argv: Sequence[str], env: Mapping[str, str], log) -> tuple[int, float, list[str]]:
    """Run one build script, its output to this terminal and ``log``; (exit code, seconds, lines)."""
    start = time.monotonic()
    lines: list[str] = []
    log.write(f"==> cold-check: {' '.join(argv)}\n")
    proc = subprocess.Popen(list(argv), cwd=ROOT, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        log.write(line)
        lines.append(line.rstrip("\n"))
    rc = proc.wait()
    return rc, time.monotonic() - start, lines


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ci/cold_check.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="print the images it would delete and the environment; change nothing")
    ap.add_argument("--yes", action="store_true", help="delete the harness's images without asking (also: CONFIRM=1)")
    ap.add_argument("--kubernetes-version", default="", metavar="vX.Y.Z", help="default: versions.env's KUBERNETES_VERSION")
    ap.add_argument("--workdir", default="", metavar="DIR",
                    help="the empty caches go to a new directory harness-cold-check.* in DIR (default: $TMPDIR)")
    ap.add_argument("--keep-workdir", action="store_true", help="keep that directory afterwards (default: removed)")
    ap.add_argument("--artifacts-dir", default=str(ROOT / "artifacts"), metavar="DIR",
                    help="where cold-check.md, .json and .log go (default: artifacts/)")
    args = ap.parse_args(argv)

    pins = versions_env()
    supported = supported_versions(pins)
    version = args.kubernetes_version or pins["KUBERNETES_VERSION"]
    version = version if version.startswith("v") else "v" + version
    if version not in supported:
        print(f"cold-check: error: Kubernetes {version} is not pinned in images/versions.env; supported: "
              f"{', '.join(supported)}", file=sys.stderr)
        return 2
    confirmed = args.yes or os.environ.get("CONFIRM", "") in ("1", "yes", "true")
    # The caches go to a new directory of their own (inside --workdir when given), the one removed afterwards.
    parent = Path(args.workdir or tempfile.gettempdir()).resolve()
    workdir = parent / "harness-cold-check.<random>"
    env = cold_env(os.environ, workdir, home=Path.home())
    if shutil.which("docker", path=os.environ.get("PATH")) is None:
        return _env_error("docker is not installed; the image build needs a Docker engine (bash ci/provision-docker.sh)")
    built = built_repositories()
    doomed = images_to_delete(local_images(), version, supported, built)

    print(f"cold-check: Kubernetes {version}: images/build-tools.sh, build-actionlint.sh, then images/build-images.sh, from empty caches")
    print("cold-check: environment (differences from yours):")
    for k, v in shown_env(env, os.environ).items():
        print(f"  {k}={v}")
    print("cold-check: repositories the image build tags (and the script naming each):")
    for repo, where in sorted(built.items()):
        print(f"  {repo}  ({where})")
    print(f"  {COMPONENT_REGISTRY}* with label {COMPONENT_LABEL}  (images/build-components.sh)")
    print(f"cold-check: {len(doomed)} images to delete first (kept: other Kubernetes versions' images, "
          "images the build does not make):")
    for img in doomed:
        print(f"  {img.ref} ({img.id})")
    if args.dry_run:
        print("cold-check: dry run: nothing deleted, nothing built")
        return 0
    if not confirmed:
        print(f"cold-check: error: this deletes {len(doomed)} Docker images; run again with --yes "
              "(make cold-check CONFIRM=1), or --dry-run to see the plan", file=sys.stderr)
        return 2
    users = containers_using(doomed)
    if users:
        return _env_error(f"containers use images to delete: {', '.join(users)}; remove them first "
                          "(kind clusters: make cluster-down, or kind delete cluster --name NAME)")

    parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="harness-cold-check.", dir=parent))
    env = cold_env(os.environ, workdir, home=Path.home())
    for ref in [i.ref for i in doomed]:
        _docker("rmi", ref)
    print(f"cold-check: deleted {len(doomed)} images; caches in {workdir}", flush=True)

    artifacts = Path(args.artifacts_dir).resolve()
    artifacts.mkdir(parents=True, exist_ok=True)
    report = Report(kubernetes_version=version, started=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                    env=shown_env(env, os.environ), deleted=[i.ref for i in doomed])
    start = time.monotonic()
    try:
        with (artifacts / "cold-check.log").open("w") as log:
            for name, script, versioned in SCRIPTS:
                rc, secs, lines = run_script(name, [str(ROOT / script), *([version] if versioned else [])], env, log)
                report.scripts[name] = round(secs, 1)
                report.steps += parse_steps(name, lines)
                if rc != 0:
                    report.exit_code, report.failed = 1, f"{script} (exit {rc})"
                    break
    finally:
        report.total_seconds = round(time.monotonic() - start, 1)
        (artifacts / "cold-check.json").write_text(json.dumps(asdict(report), indent=2) + "\n")
        (artifacts / "cold-check.md").write_text(render_markdown(report))
        if not args.keep_workdir:
            _rmtree(workdir)
    print(f"cold-check: total {report.total_seconds:.0f} s; {artifacts / 'cold-check.md'}")
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
