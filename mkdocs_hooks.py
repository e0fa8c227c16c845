"""MkDocs hooks of the documentation site (mkdocs.yml): the home page is README.md, and links from a
page to a repository file outside docs/ (the grammar, an example) become the file's path.

- README.md links to ``docs/PAGE.md``; on the site the same page is ``PAGE.md`` next to the home page.
- A link such as ``[the grammar](../actlang/grammar/actlang.lark)`` points at a file the site does
  not publish; it is shown as the path ``actlang/grammar/actlang.lark`` (a path that does not
  exist is left alone, so ``mkdocs build --strict`` still reports it as a broken link).
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

import griffe
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent
LINK = re.compile(r"\[([^\]]+)\]\(([^)\s#]+)(#[^)\s]*)?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)


def on_files(files: Files, config) -> Files:
    """Add the home page, ``index.md``, made from README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    files.append(File.generated(config, "index.md", content=_outside_links(text, "")))
    return files


def on_page_markdown(markdown: str, page, config, files: Files) -> str:
    if page.file.src_uri == "index.md":
        return markdown
    return _outside_links(markdown, posixpath.dirname(posixpath.join("docs", page.file.src_uri)))


def _outside_links(markdown: str, folder: str) -> str:
    """Links of a page in ``folder`` (relative to the repository root): ``docs/X`` becomes ``X``
    seen from the site's root, and an existing repository file outside docs/ becomes its path."""
    pieces, last = [], 0
    for fence in FENCE.finditer(markdown):  # code blocks are left as they are
        pieces += [_rewrite(markdown[last : fence.start()], folder), fence.group(0)]
        last = fence.end()
    return "".join([*pieces, _rewrite(markdown[last:], folder)])


def _rewrite(text: str, folder: str) -> str:
    # Where the page sits on the site, as a folder of the repository: README.md is the home page,
    # so it sits where docs/ does.
    here = folder if folder.startswith("docs") else "docs"

    def replace(match: re.Match[str]) -> str:
        label, target, anchor = match.group(1), match.group(2), match.group(3) or ""
        if "://" in target or target.startswith(("/", "mailto:")):
            return match.group(0)
        path = posixpath.normpath(posixpath.join(folder, target))
        if path.startswith("docs/"):  # a page or an image of the site
            return f"[{label}]({posixpath.relpath(path, here)}{anchor})"
        if (ROOT / path).is_file():
            return f"{label} (`{path}`)"
        return match.group(0)

    return LINK.sub(replace, text)


# --- docstrings (a griffe extension, named in mkdocs.yml) -----------------------------------------

ROLE = re.compile(r":(?:func|class|mod|meth|attr|data|exc|obj):`(~?)([\w.]+)`")
PROMPT = re.compile(r"^\s*>>> ", re.M)


class ReSTDocstrings(griffe.Extension):
    """actlang's docstrings are written for ``help()``, in reST's spelling: show them as Markdown.

    - ``:func:`~actlang.evaluate``` becomes the code span ``evaluate`` (``actlang.evaluate`` without
      the tilde), as Sphinx prints it;
    - a doctest (``>>>`` lines and their output) becomes a ``pycon`` code block, so that its
      brackets (``['add(zero(x),zero(x))']``) are not read as Markdown links.
    """

    def on_instance(self, *, obj: griffe.Object, **kwargs: object) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _markdown(obj.docstring.value)


def _markdown(text: str) -> str:
    text = ROLE.sub(lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`", text)
    if not PROMPT.search(text):
        return text
    out: list[str] = []
    indent = None  # inside a doctest: the indentation of its first prompt
    for line in text.split("\n"):
        if indent is None and line.lstrip().startswith(">>> "):
            indent = len(line) - len(line.lstrip())
            out.append("```pycon")
        elif indent is not None and not line.strip():
            out.append("```")
            indent = None
        out.append(line if indent is None else line[indent:])
    inside = indent is not None
    return "\n".join([*out, "```"] if inside else out)
