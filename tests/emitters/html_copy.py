"""Turn notebook output HTML into the text a browser puts on the clipboard when it is copied.

    python tests/emitters/html_copy.py IN.html OUT.txt

What users paste from Jupyter or Colab is the rendered output selected and copied: a browser
writes each table row as one line with its cells separated by tabs, and a block element's text
(the progress bar's label) as a line of its own. Only what transformers' NotebookProgressCallback
emits is handled (div, progress, table, thead, tbody, tr, th, td, p).
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser


class _Copy(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.text = ""  # text of the block being read
        self.cells: list[str] | None = None  # the row being read
        self.cell: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.cells = []
        elif tag in ("td", "th"):
            self.cell = ""
        elif tag in ("div", "table", "p"):
            self._flush()

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cells is not None and self.cell is not None:
            self.cells.append(" ".join(self.cell.split()))
            self.cell = None
        elif tag == "tr" and self.cells is not None:
            self.lines.append("\t".join(self.cells))
            self.cells = None
        elif tag in ("div", "p"):
            self._flush()

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data
        elif self.cells is None:
            self.text += data

    def _flush(self):
        text = " ".join(self.text.split())
        if text:
            self.lines.append(text)
        self.text = ""


def copy_text(html: str) -> str:
    parser = _Copy()
    parser.feed(html)
    parser.close()
    parser._flush()
    return "\n".join(parser.lines) + "\n"


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        text = copy_text(f.read())
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write(text)
