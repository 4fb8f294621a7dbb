#!/usr/bin/env python3
"""Prints the tables that make message search tokenize alike on both backends (run from the repository root).

SQLite's FTS5 `unicode61` tokenizer (Unicode 6.1 data) decides what separates words. PostgreSQL's text-search
parser decides differently (emails, URLs, hostnames, decimals and hyphenated words are single tokens there, and
in a C-locale database every non-ASCII character is a letter), so PostgreSQL's search document first replaces
every character that unicode61 treats as a separator with a space. This script asks SQLite which characters
those are and prints:

  --rust   the ranges for src/store/search/separators.rs (the query side splits words with them)
  --sql    the regular-expression class for migrations/postgres/0003_message_search.sql

Python's own sqlite3 module is enough: the unicode61 tables have not changed since SQLite 3.8; the unit test
`store::search::tests::separator_table_matches_the_bundled_sqlite` checks the Rust table against the SQLite
that Courier is built with, and `postgres_class_matches_the_table` checks the SQL class against the Rust table.
"""
import sqlite3
import sys


def separator_ranges():
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='unicode61 remove_diacritics 0')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    points = [cp for cp in range(1, 0x110000) if not 0xD800 <= cp <= 0xDFFF]
    db.executemany("INSERT INTO t(rowid, x) VALUES (?, ?)", ((cp, chr(cp)) for cp in points))
    token = {doc for (doc,) in db.execute("SELECT doc FROM v")}
    ranges = []
    for cp in points:
        if cp in token:
            continue
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return ranges


def main():
    ranges = separator_ranges()
    if "--rust" in sys.argv:
        for lo, hi in ranges:
            print(f"    (0x{lo:04X}, 0x{hi:04X}),")
    elif "--sql" in sys.argv:
        def esc(cp):
            return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"
        print("[" + "".join(esc(lo) if lo == hi else f"{esc(lo)}-{esc(hi)}" for lo, hi in ranges) + "]+")
    else:
        sys.exit("usage: scripts/search-tables.py --rust | --sql")


main()
