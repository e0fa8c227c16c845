"""The documentation's Python blocks run as printed (in a scratch directory, in this process).

The pages checked here are the ones whose blocks are complete programs; a block that needs timm
or transformers is skipped where they are not installed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.thirdparty import repair_torchvision

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", "docs/ecosystem.md"]
BLOCKS = [
    pytest.param(page, index, code, id=f"{page}:{index}")
    for page in PAGES
    for index, code in enumerate(re.findall(r"^```python\n(.*?)^```", (ROOT / page).read_text(), re.S | re.M))
]


@pytest.mark.parametrize(("page", "index", "code"), BLOCKS)
def test_block_runs_as_printed(page: str, index: int, code: str, tmp_path: Path, monkeypatch) -> None:
    repair_torchvision()
    for package in ("timm", "transformers"):
        if re.search(rf"^(import|from) {package}\b", code, re.M):
            pytest.importorskip(package)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{page}[{index}]", "exec"), {"__name__": "__docs__"})


def test_every_page_with_blocks_is_checked() -> None:
    assert len(BLOCKS) >= 9
