//! `audsync demo` end to end: its steps, the figures of both syncs against `audsync hash` of the bundled files, Meta's membership, and its temporary folder.
//!
//! The expected figures are computed here, independently of the demo: `audsync hash` on the
//! same bundled files gives the members of each state of the segment; comparing them by user
//! id gives the users who joined, left and changed, and the rows the emulator must hold;
//! grouping members that share an identifying value gives the people Meta counts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Run, TestDir, arg, audsync};

const CUSTOMERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/customers.csv");
const CUSTOMERS_CHANGED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/customers-changed.csv"
);

const HEADINGS: [&str; 6] = [
    "1. Checking the connector",
    "2. First sync: creating CA_customers",
    "3. The segment changes",
    "4. Second sync: only the changes go to Meta",
    "5. Status",
    "6. Meta's own view",
];

/// Runs `audsync demo ARGS…` with its temporary folder under `tmp_root`.
fn demo(tmp_root: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_audsync"))
        .arg("demo")
        .args(args)
        .env("TMPDIR", tmp_root)
        .output()
        .expect("run audsync demo");
    let run = Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    };
    run.success()
}

/// The members `audsync hash` makes of `file`: user id → the row's cells (keys as sent).
fn hashed_members(
    dir: &TestDir,
    file: &str,
    name: &str,
) -> (Vec<String>, BTreeMap<String, Vec<String>>) {
    let members_path = dir.path(name);
    audsync(["hash", file, "-o", arg(&members_path)]).success();
    let mut reader = csv::Reader::from_path(&members_path).expect("read the members CSV");
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_owned)
        .collect();
    let mut members = BTreeMap::new();
    for record in reader.records() {
        let record = record.expect("a members row");
        let cells: Vec<String> = record.iter().map(str::to_owned).collect();
        let previous = members.insert(cells[0].clone(), cells);
        assert!(previous.is_none(), "user ids of the example are unique");
    }
    (header, members)
}

/// Every user id of a customer file (its `user_id` column).
fn user_ids(file: &str) -> BTreeSet<String> {
    let mut reader = csv::Reader::from_path(file).expect("read a customer file");
    reader
        .records()
        .map(|record| record.expect("a row")[0].to_owned())
        .filter(|user_id| !user_id.is_empty())
        .collect()
}

/// Members linked by a shared EXTERN_ID, EMAIL, PHONE or MADID value are one person.
fn people(header: &[String], members: &BTreeMap<String, Vec<String>>) -> usize {
    let columns: Vec<usize> = ["EXTERN_ID", "EMAIL", "PHONE", "MADID"]
        .iter()
        .filter_map(|key| header.iter().position(|name| name == key))
        .collect();
    // Group labels, merged by relabelling (small data: clarity over speed).
    let mut group_of_value: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<usize> = Vec::new();
    for (member_idx, cells) in members.values().enumerate() {
        groups.push(member_idx);
        for &column in &columns {
            if cells[column].is_empty() {
                continue;
            }
            let value = format!("{column}:{}", cells[column]);
            match group_of_value.get(&value) {
                Some(&group) => {
                    let (from, to) = (groups[member_idx], group);
                    for label in groups.iter_mut().chain(group_of_value.values_mut()) {
                        if *label == from {
                            *label = to;
                        }
                    }
                }
                None => {
                    group_of_value.insert(value, groups[member_idx]);
                }
            }
        }
    }
    groups.iter().collect::<BTreeSet<_>>().len()
}

/// The text of step `step_idx` (from its heading to the next one).
fn step(stdout: &str, step_idx: usize) -> &str {
    let find = |heading: &str| {
        stdout
            .find(heading)
            .unwrap_or_else(|| panic!("no {heading:?} in\n{stdout}"))
    };
    let end = match HEADINGS.get(step_idx + 1) {
        Some(next) => find(next),
        None => find("Where to go next"),
    };
    &stdout[find(HEADINGS[step_idx])..end]
}

/// The count on the report line `  LABEL   1,234` of `text`.
fn count(text: &str, label: &str) -> u64 {
    text.lines()
        .find_map(|line| {
            let rest = line.trim_start().strip_prefix(label)?;
            let value = rest.trim();
            (rest.starts_with("  ") && value.chars().all(|c| c.is_ascii_digit() || c == ','))
                .then(|| value.replace(',', "").parse().expect("a count"))
        })
        .unwrap_or_else(|| panic!("no count {label:?} in\n{text}"))
}

/// The count on the breakdown line `        54  LABEL` of `text`.
fn breakdown(text: &str, label: &str) -> u64 {
    text.lines()
        .find_map(|line| {
            let (value, rest) = line.trim_start().split_once("  ")?;
            (rest == label).then(|| value.replace(',', "").parse().expect("a count"))
        })
        .unwrap_or_else(|| panic!("no breakdown {label:?} in\n{text}"))
}

/// The demo folder the run printed.
fn demo_folder(stdout: &str, tmp_root: &Path) -> PathBuf {
    let start = stdout.find("audsync-demo-").expect("the folder is named");
    let name: String = stdout[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    tmp_root.join(name)
}

#[test]
fn demo_syncs_the_example_then_its_changes_and_leaves_nothing_behind() {
    let dir = TestDir::new();
    let (header, before) = hashed_members(&dir, CUSTOMERS, "before.csv");
    let (_, after) = hashed_members(&dir, CUSTOMERS_CHANGED, "after.csv");
    let ids_after = user_ids(CUSTOMERS_CHANGED);
    let n_new = after.keys().filter(|id| !before.contains_key(*id)).count() as u64;
    let n_changed = after
        .iter()
        .filter(|(id, cells)| before.get(*id).is_some_and(|old| old != *cells))
        .count() as u64;
    let n_left = before.keys().filter(|id| !ids_after.contains(*id)).count() as u64;
    let n_now_rejected = before
        .keys()
        .filter(|id| ids_after.contains(*id) && !after.contains_key(*id))
        .count() as u64;
    // The change set has every kind of change (scripts/make-demo-changes.py).
    assert!(
        n_new > 0 && n_changed > 0 && n_left > 0,
        "{n_new} {n_changed} {n_left}"
    );

    let tmp_root = dir.path("tmp");
    std::fs::create_dir(&tmp_root).expect("create the demo's TMPDIR");
    let run = demo(&tmp_root, &[]);
    let stdout = &run.stdout;

    let mut last_position = 0;
    for heading in HEADINGS {
        let position = stdout
            .find(heading)
            .unwrap_or_else(|| panic!("no heading {heading:?} in\n{stdout}"));
        assert!(position > last_position, "{heading:?} out of order");
        last_position = position;
    }

    let check = step(stdout, 0);
    assert!(check.contains("7 passed, 0 warnings, 0 failed"), "{check}");

    let first = step(stdout, 1);
    assert!(first.contains("audience CA_customers (id "), "{first}");
    assert!(first.contains(", created now)"), "{first}");
    assert_eq!(count(first, "rows read"), 2_000);
    assert_eq!(count(first, "members"), before.len() as u64);
    assert_eq!(count(first, "rejected"), 2_000 - before.len() as u64);
    assert_eq!(count(first, "new"), before.len() as u64);
    assert_eq!(count(first, "added"), before.len() as u64);
    assert_eq!(count(first, "removed"), 0);
    assert!(first.contains("up to 24 hours"), "{first}");

    let second = step(stdout, 3);
    assert!(!second.contains("created now"), "{second}");
    assert_eq!(count(second, "members"), after.len() as u64);
    assert_eq!(count(second, "new"), n_new);
    assert_eq!(count(second, "changed"), n_changed);
    assert_eq!(
        count(second, "unchanged"),
        after.len() as u64 - n_new - n_changed
    );
    assert_eq!(count(second, "added"), n_new + n_changed);
    assert_eq!(
        count(second, "removed"),
        n_left + n_now_rejected + n_changed
    );
    assert_eq!(breakdown(second, "left the segment"), n_left);
    assert_eq!(breakdown(second, "old keys of changed"), n_changed);

    let status = step(stdout, 4);
    assert!(status.contains("members held"), "{status}");
    assert!(status.contains("matching         in progress"), "{status}");

    let meta = step(stdout, 5);
    // Each member sent is one row at Meta: the emulator holds exactly the members of the
    // changed file; people are counted on both sides only as information.
    let n_people = people(&header, &after);
    assert!(
        meta.contains(&format!(
            "The emulator holds {n} members (rows) in CA_customers, the store holds {n}: equal.",
            n = group(after.len())
        )),
        "expected {} members\n{meta}",
        after.len()
    );
    assert!(
        meta.contains(&format!("{} people on both sides.", group(n_people))),
        "expected {n_people} people\n{meta}"
    );
    assert!(stdout.contains("Where to go next"), "{stdout}");

    assert!(!demo_folder(stdout, &tmp_root).exists());
    let left_over: Vec<_> = std::fs::read_dir(&tmp_root).expect("read TMPDIR").collect();
    assert!(left_over.is_empty(), "left behind: {left_over:?}");
}

#[test]
fn demo_keep_leaves_its_folder_with_the_last_segment_and_says_where() {
    let dir = TestDir::new();
    let tmp_root = dir.path("tmp");
    std::fs::create_dir(&tmp_root).expect("create the demo's TMPDIR");
    let run = demo(&tmp_root, &["--keep"]);
    let folder = demo_folder(&run.stdout, &tmp_root);
    assert!(
        run.stdout
            .contains(&format!("Kept in {}:", folder.display())),
        "{}",
        run.stdout
    );
    for file in [
        "audsync.toml",
        "audsync.db",
        "customers.csv",
        "emulator-state.json",
    ] {
        assert!(folder.join(file).is_file(), "{file} not kept");
    }
    assert_eq!(
        std::fs::read(folder.join("customers.csv")).expect("the kept segment"),
        std::fs::read(CUSTOMERS_CHANGED).expect("the bundled change set")
    );
    let config = std::fs::read_to_string(folder.join("audsync.toml")).expect("the config");
    assert!(
        config.contains("access_token = \"${AUDSYNC_DEMO_TOKEN}\""),
        "{config}"
    );
}

/// `1234567` → `1,234,567`.
fn group(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (idx, digit) in digits.chars().enumerate() {
        if idx > 0 && (digits.len() - idx).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Ctrl-C (SIGINT) in the middle of the demo stops it with status 130 and still removes its
/// temporary folder. The demo takes a fraction of a second, so the signal may come too late:
/// it is tried a few times, and must land at least once.
#[test]
fn demo_interrupted_by_ctrl_c_removes_its_folder() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let mut n_interrupted = 0;
    for _ in 0..5 {
        let tmp = TestDir::new();
        let mut child = Command::new(env!("CARGO_BIN_EXE_audsync"))
            .arg("demo")
            .env("TMPDIR", tmp.path(""))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start audsync demo");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        while stdout.read_line(&mut line).expect("read the demo's output") > 0 {
            if line.contains("are in ") {
                break;
            }
            line.clear();
        }
        let killed = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(killed.success());
        let status = child.wait().expect("the demo ends");
        let left: Vec<_> = std::fs::read_dir(tmp.path(""))
            .expect("read the temporary root")
            .filter_map(Result::ok)
            .filter(|entry| {
                entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with("audsync-demo")
            })
            .collect();
        assert!(left.is_empty(), "the demo left {left:?} behind");
        match status.code() {
            Some(130) => n_interrupted += 1,
            Some(0) => {} // it had finished before the signal came
            other => panic!("the demo ended with {other:?}"),
        }
    }
    assert!(n_interrupted > 0, "no Ctrl-C landed while the demo ran");
}
