"""`make cold-check`'s plan as a command (ci/cold_check.py), against a stand-in `docker` first on PATH:
--dry-run lists what it would delete and the environment and deletes nothing; without --yes/CONFIRM=1
it refuses (exit 2); with --yes it refuses while a container uses an image it would delete (exit 3).
The real thing is never run here: it would delete the images the machine's clusters use."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAKE_DOCKER = """\
#!/usr/bin/env bash
# A stand-in docker: canned `images` and `ps` answers; any other command is recorded and refused.
case "$*" in
  "images --filter label=harness.key --format {{.ID}}") echo aaaaaaaaaaa6 ;;
  "images --filter label=io.helm-e2e-harness.content --format {{.ID}}") echo aaaaaaaaaaa3 ;;
  "images --format {{.Repository}}:{{.Tag}} {{.ID}}")
    printf '%s\\n' "harness/kind-node:v1.37.2-0123456789ab aaaaaaaaaaa1" "harness/kind-node:v1.35.4-ba9876543210 aaaaaaaaaaa2" \\
      "harness/traefik:v3.7.12 aaaaaaaaaaa3" "registry.k8s.io/kube-apiserver:v1.37.2 aaaaaaaaaaa6" \\
      "registry.k8s.io/pause:3.9 bbbbbbbbbbb1" "harness/privileged-probe:1 bbbbbbbbbbb2" ;;
  "ps -a --format {{.Names}} {{.Image}}") [ -n "${FAKE_CONTAINER:-}" ] && echo "$FAKE_CONTAINER"; true ;;
  *) echo "$*" >>"$(dirname "$0")/refused"; echo "fake docker: refused: $*" >&2; exit 99 ;;
esac
"""


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    docker = bindir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    base = {k: v for k, v in os.environ.items() if k not in ("CONFIRM", "HARNESS_CACHE")}
    base.update(PATH=f"{bindir}:{os.environ['PATH']}", HOME=str(tmp_path / "home"), **env)
    return subprocess.run([sys.executable, str(ROOT / "ci/cold_check.py"), "--artifacts-dir", str(tmp_path / "art"),
                           *args], capture_output=True, text=True, env=base, cwd=ROOT, timeout=60)


def test_dry_run_prints_the_images_and_env_and_changes_nothing(tmp_path):
    out = _run(tmp_path, "--dry-run", CONFIRM="1")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    doomed = lines[lines.index(next(ln for ln in lines if "images to delete first" in ln)) + 1:-1]
    assert doomed == ["  harness/kind-node:v1.37.2-0123456789ab (aaaaaaaaaaa1)", "  harness/traefik:v3.7.12 (aaaaaaaaaaa3)",
                      "  registry.k8s.io/kube-apiserver:v1.37.2 (aaaaaaaaaaa6)"]
    assert "HARNESS_IMAGE_SOURCE=local" in out.stdout
    for var in ("HARNESS_CACHE", "GOCACHE", "GOMODCACHE"):
        assert any(ln.startswith(f"  {var}=") and "harness-cold-check." in ln for ln in lines), var
    assert "  harness/traefik  (images/build-addons.sh)" in out.stdout
    assert lines[-1] == "cold-check: dry run: nothing deleted, nothing built"
    assert not (tmp_path / "bin/refused").exists()
    assert not (tmp_path / "art").exists()


def test_without_confirmation_it_refuses(tmp_path):
    out = _run(tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip() == ("cold-check: error: this deletes 3 Docker images; run again with --yes "
                                  "(make cold-check CONFIRM=1), or --dry-run to see the plan")
    assert not (tmp_path / "bin/refused").exists()


def test_a_container_using_an_image_stops_it_before_any_deletion(tmp_path):
    out = _run(tmp_path, "--yes", FAKE_CONTAINER="harness-control-plane harness/kind-node:v1.37.2-0123456789ab")
    assert out.returncode == 3
    assert "containers use images to delete: harness-control-plane (harness/kind-node:v1.37.2-0123456789ab)" in out.stderr
    assert not (tmp_path / "bin/refused").exists()


def test_an_unpinned_version_is_a_usage_error(tmp_path):
    out = _run(tmp_path, "--dry-run", "--kubernetes-version", "v1.20.0")
    assert out.returncode == 2
    assert out.stderr.startswith("cold-check: error: Kubernetes v1.20.0 is not pinned in images/versions.env")


def test_make_passes_confirm_and_dry_run():
    out = subprocess.run(["make", "--no-print-directory", "-n", "cold-check", "DRY_RUN=1", "CONFIRM=1"], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert "ci/cold_check.py --dry-run --yes" in out.stdout
    out = subprocess.run(["make", "--no-print-directory", "-n", "cold-check"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.stdout.rstrip().endswith("ci/cold_check.py")


def test_a_script_runs_with_its_output_streamed_logged_and_its_steps_parsed(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("cold_check", ROOT / "ci/cold_check.py")
    cc = importlib.util.module_from_spec(spec)
    sys.modules["cold_check"] = cc
    spec.loader.exec_module(cc)
    script = "echo '==> [0s] a ...' >&2; echo '    [2s] a done in 2s' >&2; echo /tools/dir; exit 4"
    with (tmp_path / "log").open("w") as log:
        rc, secs, lines = cc.run_script("tools", ["bash", "-c", script], dict(os.environ), log)
    assert rc == 4 and secs < 30
    assert lines[-1] == "/tools/dir"
    assert [(s.step, s.seconds) for s in cc.parse_steps("tools", lines)] == [("a", 2)]
    assert "    [2s] a done in 2s" in (tmp_path / "log").read_text()
    assert "/tools/dir" in capsys.readouterr().out
