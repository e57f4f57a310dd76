#!/usr/bin/env python3
"""Renders a terminal capture with ANSI colours (`tmux capture-pane -e -p`) to a PNG.

Usage: ansi_to_png.py CAPTURE.ans OUT.png [--cols N] [--rows N]

One cell per character, DejaVu Sans Mono for text; box-drawing lines and full blocks
and braille dots (the graphs) are drawn as shapes, so borders join without gaps and
graphs need no braille glyphs in the font. Understands the SGR codes tmux
emits: reset, bold, dim, italic, underline, reverse, the 16 colours, 256 colours and
24-bit colours. Needs Pillow (Debian: python3-pil) and fonts-dejavu-core.
"""

import argparse
import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
FONT_SIZE = 16
CELL_W = 10
CELL_H = 20
PAD = 12

DEFAULT_FG = (0xD4, 0xD4, 0xD4)
DEFAULT_BG = (0x1A, 0x1B, 0x26)
# Normal and bright ANSI colours (a common dark-terminal palette).
ANSI = [
    (0x1A, 0x1B, 0x26), (0xE0, 0x55, 0x61), (0x8C, 0xC2, 0x65), (0xD1, 0x9A, 0x66),
    (0x4F, 0xA6, 0xED), (0xC6, 0x78, 0xDD), (0x56, 0xB6, 0xC2), (0xC8, 0xCC, 0xD4),
    (0x6B, 0x72, 0x80), (0xFF, 0x6B, 0x75), (0xA5, 0xE0, 0x75), (0xF0, 0xC0, 0x6B),
    (0x6C, 0xB8, 0xFF), (0xDE, 0x8F, 0xF5), (0x6E, 0xD4, 0xE0), (0xFF, 0xFF, 0xFF),
]


def color256(n):
    if n < 16:
        return ANSI[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    g = 8 + (n - 232) * 10
    return (g, g, g)


class Style:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None
        self.bg = None
        self.bold = False
        self.dim = False
        self.italic = False
        self.underline = False
        self.reverse = False

    def copy(self):
        s = Style()
        s.__dict__.update(self.__dict__)
        return s

    def apply(self, params):
        codes = [int(p) if p else 0 for p in params.split(";")] if params else [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                self.reset()
            elif c == 1:
                self.bold = True
            elif c == 2:
                self.dim = True
            elif c == 3:
                self.italic = True
            elif c == 4:
                self.underline = True
            elif c == 7:
                self.reverse = True
            elif c == 22:
                self.bold = self.dim = False
            elif c == 23:
                self.italic = False
            elif c == 24:
                self.underline = False
            elif c == 27:
                self.reverse = False
            elif 30 <= c <= 37:
                self.fg = ANSI[c - 30]
            elif c == 39:
                self.fg = None
            elif 40 <= c <= 47:
                self.bg = ANSI[c - 40]
            elif c == 49:
                self.bg = None
            elif 90 <= c <= 97:
                self.fg = ANSI[c - 90 + 8]
            elif 100 <= c <= 107:
                self.bg = ANSI[c - 100 + 8]
            elif c in (38, 48) and i + 1 < len(codes):
                if codes[i + 1] == 5 and i + 2 < len(codes):
                    col = color256(codes[i + 2])
                    i += 2
                elif codes[i + 1] == 2 and i + 4 < len(codes):
                    col = tuple(codes[i + 2 : i + 5])
                    i += 4
                else:
                    col = None
                if c == 38:
                    self.fg = col
                else:
                    self.bg = col
            i += 1

    def colors(self):
        fg = self.fg or DEFAULT_FG
        bg = self.bg or DEFAULT_BG
        if self.reverse:
            fg, bg = bg, fg
        if self.dim:
            fg = tuple((a + b) // 2 for a, b in zip(fg, bg))
        return fg, bg


SGR = re.compile(r"\x1b\[([0-9;]*)m")
OTHER_ESC = re.compile(r"\x1b(\[[0-9;?]*[A-Za-ln-z]|\][^\x07]*\x07|[()][0-9A-Z])")


def parse(text, cols):
    """Rows of cells (char, Style)."""
    rows = []
    style = Style()
    for line in text.split("\n"):
        line = OTHER_ESC.sub("", line)
        cells = []
        pos = 0
        for m in SGR.finditer(line):
            for ch in line[pos : m.start()]:
                cells.append((ch, style.copy()))
            style.apply(m.group(1))
            pos = m.end()
        for ch in line[pos:]:
            cells.append((ch, style.copy()))
        # A capture line ends where the text ends; the rest of the row is blank in
        # the style of the line's end.
        while len(cells) < cols:
            cells.append((" ", style.copy()))
        rows.append(cells[:cols])
    return rows


# Box drawing: which of (up, down, left, right) each character joins.
BOX = {
    "─": (0, 0, 1, 1), "│": (1, 1, 0, 0), "┌": (0, 1, 0, 1), "┐": (0, 1, 1, 0),
    "└": (1, 0, 0, 1), "┘": (1, 0, 1, 0), "├": (1, 1, 0, 1), "┤": (1, 1, 1, 0),
    "┬": (0, 1, 1, 1), "┴": (1, 0, 1, 1), "┼": (1, 1, 1, 1),
}


def draw_box(d, x, y, ch, fg, bold):
    up, down, left, right = BOX[ch]
    cx = x + CELL_W // 2
    cy = y + CELL_H // 2
    w = 2 if bold else 1
    if left:
        d.rectangle([x, cy, cx, cy + w - 1], fill=fg)
    if right:
        d.rectangle([cx, cy, x + CELL_W - 1, cy + w - 1], fill=fg)
    if up:
        d.rectangle([cx, y, cx + w - 1, cy], fill=fg)
    if down:
        d.rectangle([cx, cy, cx + w - 1, y + CELL_H - 1], fill=fg)


# Braille patterns (U+2800..U+28FF, the graphs): dot bit -> (column, row) of 2x4.
BRAILLE_DOTS = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (0, 3), (1, 3)]


def draw_braille(d, x, y, ch, fg):
    bits = ord(ch) - 0x2800
    for i, (col, row) in enumerate(BRAILLE_DOTS):
        if bits & (1 << i):
            px = x + 2 + col * 5
            py = y + 2 + row * 5
            d.rectangle([px, py, px + 2, py + 2], fill=fg)


def render(rows, cols, out):
    fonts = {
        (False, False): ImageFont.truetype(FONT_DIR + "DejaVuSansMono.ttf", FONT_SIZE),
        (True, False): ImageFont.truetype(FONT_DIR + "DejaVuSansMono-Bold.ttf", FONT_SIZE),
        (False, True): ImageFont.truetype(FONT_DIR + "DejaVuSansMono-Oblique.ttf", FONT_SIZE),
        (True, True): ImageFont.truetype(FONT_DIR + "DejaVuSansMono-BoldOblique.ttf", FONT_SIZE),
    }
    width = cols * CELL_W + 2 * PAD
    height = len(rows) * CELL_H + 2 * PAD
    img = Image.new("RGB", (width, height), DEFAULT_BG)
    d = ImageDraw.Draw(img)
    for r, cells in enumerate(rows):
        y = PAD + r * CELL_H
        for c, (ch, st) in enumerate(cells):
            x = PAD + c * CELL_W
            fg, bg = st.colors()
            if bg != DEFAULT_BG:
                d.rectangle([x, y, x + CELL_W - 1, y + CELL_H - 1], fill=bg)
            if ch == " ":
                pass
            elif ch in BOX:
                draw_box(d, x, y, ch, fg, st.bold)
            elif 0x2800 <= ord(ch) <= 0x28FF:
                draw_braille(d, x, y, ch, fg)
            elif ch == "█":
                d.rectangle([x, y, x + CELL_W - 1, y + CELL_H - 1], fill=fg)
            else:
                font = fonts[(st.bold, st.italic)]
                d.text((x, y + 1), ch, font=font, fill=fg)
            if st.underline:
                d.line([x, y + CELL_H - 2, x + CELL_W - 1, y + CELL_H - 2], fill=fg)
    img.save(out, optimize=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("capture")
    ap.add_argument("out")
    ap.add_argument("--cols", type=int, default=120)
    ap.add_argument("--rows", type=int, default=40)
    a = ap.parse_args()
    with open(a.capture, encoding="utf-8", errors="replace") as f:
        text = f.read()
    rows = parse(text.rstrip("\n"), a.cols)[: a.rows]
    while len(rows) < a.rows:
        rows.append([(" ", Style())] * a.cols)
    render(rows, a.cols, a.out)


if __name__ == "__main__":
    sys.exit(main())
