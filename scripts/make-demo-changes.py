#!/usr/bin/env python3
"""Makes the change set `audsync demo` syncs second: examples/customers-changed.csv (stdlib, seeded).

Usage: scripts/make-demo-changes.py [--in examples/customers.csv]
                                    [--out examples/customers-changed.csv] [--seed 11]

From the example segment (examples/customers.csv, made by `scripts/gen-users.py --rows 2000
--seed 7`) it makes the same segment a while later, the way a CRM export changes:
- about 3% of the users leave (their rows are gone);
- about 3% new users join (made by `scripts/gen-users.py --rows N --seed SEED+1`, numbered
  after the last user id; like any users, a few of them are too thin to match);
- about 1% change their email address (a new, valid address; every other cell unchanged).
The example file has no consent column, so nobody withdraws consent here.

Users who leave or change their email are drawn among all users, also those who share their
email with someone else (about a third of the example's addresses are shared). Meta counts users
sharing an identifier as one person and removes a person by any of their identifiers, so such a
removal also takes the other user out at Meta: the second sync re-adds them, and the demo's last
step checks that Meta holds exactly the people expected (see the README, "audsync demo").

Rows keep their order; new users are appended. The same input and --seed always give the same
file.
"""

import argparse
import csv
import io
import os
import random
import re
import subprocess
import sys

LEAVE_SHARE = 0.03
JOIN_SHARE = 0.03
EMAIL_CHANGE_SHARE = 0.01
NEW_EMAIL_DOMAINS = ["gmail.com", "outlook.com", "proton.me", "icloud.com", "yahoo.fr", "web.de"]
PLAUSIBLE_EMAIL = re.compile(r"^[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$")


def email_key(cell):
    """The cell as an address, roughly as audsync normalizes it (lower case, no wrappers)."""
    text = cell.replace("\u00a0", " ").strip().lower()
    if text.startswith("mailto:"):
        text = text[len("mailto:"):]
    return text.strip("<> \t")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in", dest="input", default=os.path.join(root, "examples", "customers.csv"))
    parser.add_argument("--out", default=os.path.join(root, "examples", "customers-changed.csv"))
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    with open(args.input, newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader)
        rows = list(reader)
    user_id_col, email_col = header.index("user_id"), header.index("email")
    first_col, last_col = header.index("first_name"), header.index("last_name")

    keys = [email_key(row[email_col]) for row in rows]

    rng = random.Random(args.seed)
    candidates = [idx for idx, row in enumerate(rows) if row[user_id_col]]
    leavers = set(rng.sample(candidates, round(LEAVE_SHARE * len(rows))))
    changers = [idx for idx in candidates
                if idx not in leavers and PLAUSIBLE_EMAIL.match(keys[idx])
                and (rows[idx][first_col].strip() or rows[idx][last_col].strip())]
    changers = sorted(rng.sample(changers, round(EMAIL_CHANGE_SHARE * len(rows))))

    taken = set(key for key in keys if key)
    for idx in changers:
        local = keys[idx].split("@")[0]
        while True:
            address = f"{local}.{rng.randint(10, 99)}@{rng.choice(NEW_EMAIL_DOMAINS)}"
            if address not in taken:
                break
        taken.add(address)
        rows[idx][email_col] = address

    n_join = round(JOIN_SHARE * len(rows))
    generated = subprocess.run(
        [sys.executable, os.path.join(here, "gen-users.py"), "--rows", str(n_join),
         "--seed", str(args.seed + 1)],
        check=True, capture_output=True, text=True, encoding="utf-8").stdout
    new_reader = csv.reader(io.StringIO(generated))
    if next(new_reader) != header:
        sys.exit("gen-users.py writes other columns than the input file has")
    last_number = max(int(row[user_id_col][1:]) for row in rows if row[user_id_col])
    joiners = []
    for join_idx, row in enumerate(new_reader):
        if row[user_id_col]:
            row[user_id_col] = f"u{last_number + 1 + join_idx:07d}"
        joiners.append(row)

    out = sys.stdout if args.out == "-" else open(args.out, "w", newline="", encoding="utf-8")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(row for idx, row in enumerate(rows) if idx not in leavers)
    writer.writerows(joiners)
    if out is not sys.stdout:
        out.close()
    print(f"{len(leavers)} users leave, {len(joiners)} join, {len(changers)} change their email",
          file=sys.stderr)


if __name__ == "__main__":
    main()
