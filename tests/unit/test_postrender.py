"""harness/tools/postrender.py called in-process (run by real helm of both majors through
Helm.post_renderer: tests/integration/test_postrender_helm.py)."""
from __future__ import annotations

from harness.tools.postrender import main


def test_unknown_operation_is_refused(capsys):
    assert main(["postrender.py", "explode"]) == 2
    assert "unknown operation 'explode'" in capsys.readouterr().err
    assert main(["postrender.py"]) == 2
