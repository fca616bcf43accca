"""The README's `python` examples, verbatim, in order, in one namespace, against the running stack."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", README.read_text("utf-8"), flags=re.S | re.M)


def test_the_readme_has_runnable_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.skipif(
    os.environ.get("WARDEN_SDK_STACK") != "1" or os.environ.get("WARDEN_SDK_PHASE") != "approved",
    reason="needs the running stack (test/integration/sdk-python.test.ts)",
)
def test_readme_examples_run_verbatim(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {"__name__": "readme"}
    for number, block in enumerate(BLOCKS, 1):
        exec(compile(block, f"README.md python block {number}", "exec"), namespace)  # noqa: S102
    out = capsys.readouterr().out
    assert out.startswith("200 ")
    assert "PolicyDeniedError" in out
