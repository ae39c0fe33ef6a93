#!/usr/bin/env python3
"""Times Meta's Python SDK (`facebook_business`) normalizing and hashing a customer file.

Usage: python_sdk_hash.py USERS.csv [--limit N] [--chunk 10000]

Reads the CSV written by scripts/gen-users.py with the csv module and calls
`CustomAudience.format_params(schema, rows, is_raw=True)` on chunks of 10,000 rows, as a user of
the SDK would before each upload request, with the 11 columns mapped to the SDK's multi-key
schema. The SDK has no full-date key and cannot parse a birth date, so the raw `dob` string is
given as DOBY (what users of the SDK end up doing). Nothing is written: the time is reading,
normalizing and hashing only. Prints one line: `rows=N seconds=S rows_per_second=R`.
"""

import argparse
import csv
import sys
import time

from facebook_business.adobjects.customaudience import CustomAudience

KEYS = CustomAudience.Schema.MultiKeySchema
# CSV column -> SDK key, in the order the rows are built.
COLUMNS = [
    ("user_id", KEYS.extern_id),
    ("email", KEYS.email),
    ("phone", KEYS.phone),
    ("gender", KEYS.gen),
    ("dob", KEYS.doby),
    ("last_name", KEYS.ln),
    ("first_name", KEYS.fn),
    ("city", KEYS.ct),
    ("state", KEYS.st),
    ("zip", KEYS.zip),
    ("country", KEYS.country),
    ("madid", KEYS.madid),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--limit", type=int, default=0, help="stop after N rows (0: all)")
    parser.add_argument("--chunk", type=int, default=10_000)
    args = parser.parse_args()

    schema = [key for _, key in COLUMNS]
    started = time.perf_counter()
    n_rows = 0
    n_hashed_rows = 0
    with open(args.path, newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader)
        positions = [header.index(column) for column, _ in COLUMNS]
        chunk = []
        for record in reader:
            chunk.append([record[position] for position in positions])
            n_rows += 1
            if len(chunk) == args.chunk:
                n_hashed_rows += len(CustomAudience.format_params(schema, chunk, is_raw=True)["payload"]["data"])
                chunk = []
            if args.limit and n_rows >= args.limit:
                break
        if chunk:
            n_hashed_rows += len(CustomAudience.format_params(schema, chunk, is_raw=True)["payload"]["data"])
    seconds = time.perf_counter() - started
    assert n_hashed_rows == n_rows, (n_hashed_rows, n_rows)
    print(f"rows={n_rows} seconds={seconds:.3f} rows_per_second={n_rows / seconds:.0f}")


if __name__ == "__main__":
    sys.exit(main())
