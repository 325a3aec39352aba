"""tests/docblocks.py, the reader of the marked blocks the doc-following tests run: markers, fences,
commands, and a document that changed shape failing with its line."""
from __future__ import annotations

import pytest
from docblocks import blocks, commands, files, merge_yaml, of_kind

DOC = """\
# title

<!-- qs:file a/b.yaml -->
```yaml
  x: 1
```

<!-- other:file c.yaml -->
```yaml
y: 2
```

<!-- qs:run -->

```sh
echo one   # a comment
# a whole-line comment

echo two
```
"""


def test_marked_blocks_in_order_with_their_kind_argument_and_text(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(DOC)
    found = blocks(doc, "qs")
    assert [(b.kind, b.arg, b.lang, b.line) for b in found] == [("file", "a/b.yaml", "yaml", 3), ("run", None, "sh", 13)]
    assert files(found) == {"a/b.yaml": "x: 1\n"}
    assert commands(of_kind(found, "run")[0]) == ["echo one", "echo two"]


@pytest.mark.parametrize("text, what", [("<!-- qs:run -->\nno fence here\n", "not followed by a fenced code block"),
                                        ("<!-- qs:run -->\n```sh\necho\n", "never closed")])
def test_a_document_that_changed_shape_fails_naming_the_line(tmp_path, text, what):
    doc = tmp_path / "doc.md"
    doc.write_text("intro\n" + text)
    with pytest.raises(AssertionError, match=f"doc.md:2: .*{what}"):
        blocks(doc, "qs")


def test_merge_puts_the_overlays_keys_in_place():
    assert merge_yaml("a: 1\nb: [x]\n", "b: [y]\nc: 3\n") == "a: 1\nb:\n- y\nc: 3\n"
