"""Writes the UTF-8 encoding of every code point, as Python's encoder makes
it, for tests/unit/test_casefold.c (an independent source of expected bytes).

Usage: utf8_table.py OUT. OUT holds 0x110000 records of 5 bytes, record c at
offset 5*c: the length of chr(c).encode("utf-8") (0 for the surrogates
U+D800..U+DFFF, which have none), then the bytes, zero-padded to 4.
"""
import sys


def main(out):
    table = bytearray()
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            table += bytes(5)
            continue
        b = chr(c).encode("utf-8")
        table += bytes([len(b)]) + b + bytes(4 - len(b))
    with open(out, "wb") as f:
        f.write(table)


if __name__ == "__main__":
    main(sys.argv[1])
