#!/usr/bin/env python3
"""Builds assets/fonts/NotoSansSC-subset.otf: Noto Sans CJK SC (SIL OFL 1.1) cut down to what a
Chinese UI and Chinese file names need, so the app ships a small CJK-capable font.

Run by hand (not in CI): needs Debian's fonts-noto-cjk and `pip install fonttools`.
Kept: ASCII and Latin-1, general punctuation, CJK symbols and punctuation, full-width forms, and
every character of GB 2312 (its 6763 hanzi cover everyday Simplified Chinese).
"""
import pathlib
import sys

from fontTools import subset
from fontTools.ttLib import TTCollection

SOURCE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
SC_INDEX = 2  # "Noto Sans CJK SC" inside the collection
OUT = pathlib.Path(__file__).resolve().parent.parent / "assets" / "fonts" / "NotoSansSC-subset.otf"


def gb2312_characters():
    chars = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                chars.add(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return chars


def main():
    codepoints = set(range(0x20, 0x7F)) | set(range(0xA0, 0x100))
    codepoints |= set(range(0x2000, 0x2070))  # general punctuation
    codepoints |= set(range(0x3000, 0x3040))  # CJK symbols and punctuation
    codepoints |= set(range(0xFF00, 0xFFF0))  # full-width forms
    codepoints |= {ord(c) for c in gb2312_characters()}

    font = TTCollection(SOURCE).fonts[SC_INDEX]
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=codepoints)
    subsetter.subset(font)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    font.save(OUT)
    print(f"{OUT}: {OUT.stat().st_size / 1e6:.2f} MB, {len(codepoints)} code points", file=sys.stderr)


if __name__ == "__main__":
    main()
