//! `audsync hash` end to end: mapping, formats, rejects, exit codes, order.

use crate::support::{TestDir, arg, audsync, audsync_with_stdin};
use crate::sync_support::sha256_hex;

/// Meta's own example (contract §11): sha256("mary@example.com").
const MARY_EMAIL_SHA256: &str = "f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79";

/// The count on the summary line that starts with `label` (e.g. `rows read`).
fn summary_count(stderr: &str, label: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|line| line.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no summary line {label:?} in\n{stderr}"));
    parse_count(
        line.trim_start()[label.len()..].split_whitespace().next(),
        line,
    )
}

/// The count of the summary line of reject reason `reason` (`   1,234  only ZIP`).
fn reject_count(stderr: &str, reason: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|line| line.trim_start().split_once("  ").map(|(_, rest)| rest) == Some(reason))
        .unwrap_or_else(|| panic!("no reject reason {reason:?} in\n{stderr}"));
    parse_count(line.split_whitespace().next(), line)
}

fn parse_count(word: Option<&str>, line: &str) -> u64 {
    word.and_then(|count| count.replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("no count on {line:?}"))
}

#[test]
fn known_answer_row_hashes_every_key_as_meta_documents() {
    let dir = TestDir::new();
    let input = dir.write(
        "users.csv",
        "user_id,email,phone,first_name,last_name,city,state,zip,country,dob,gender,madid\n\
         u1,  John.Doe@Example.COM ,+1 (650) 555-1234,John,Doe,Menlo Park,California,94025-1234,US,1990-01-05,Female,AECE52E7-03EE-455A-B3C4-E57283966239\n\
         u2,mary@example.com,,,,,,,,,,\n",
    );
    let run = audsync(["hash", arg(&input)]).success();
    let rows = run.csv_rows();
    assert_eq!(
        rows[0].join(","),
        "user_id,EXTERN_ID,EMAIL,PHONE,GEN,DOBY,DOBM,DOBD,LN,FN,FI,CT,ST,ZIP,COUNTRY,MADID"
    );
    // Contract §11, computed hashes of the normalized values.
    let expected = [
        "u1",
        "u1",
        "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f",
        "6069d14bf122fdfd931dc7beb58e5dfbba395b1faf05bdcd42d12358d63d8599",
        "252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111",
        "a7be8e1fe282a37cd666e0632b17d933fa13f21addf4798fc0455bc166e2488c",
        "938db8c9f82c8cb58d3f3ef4fd250036a48d26a712753d2fde5abd03a85cabf4",
        "c97550ce8213ef5cf6ed4ba48790c137df3ef6a5da20b48961001a634b6cead2",
        "799ef92a11af918e3fb741df42934f3b568ed2d93ac1df74f1b8d41a27932a6f",
        "96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a",
        "189f40034be7a199f1fa9891668ee3ab6049f82d38c68be70f596eab2e1857b7",
        "0007a3d64c01e23d5075203c5977c14e4f7e01a3fc570686fcc50b5e1dd42685",
        "6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126",
        "b9a9cf3cd3723a2e91b7c23ecf68456e872b6e5d86e5cab7f3d45a7302da32c7",
        "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621",
        "aece52e7-03ee-455a-b3c4-e57283966239",
    ];
    assert_eq!(rows[1], expected);
    // Absent values are empty cells, never sha256("").
    let mut mary = vec!["u2", "u2", MARY_EMAIL_SHA256];
    mary.extend([""; 13]);
    assert_eq!(rows[2], mary);
    assert_eq!(rows.len(), 3);
}

#[test]
fn automatic_mapping_is_announced_on_stderr() {
    let dir = TestDir::new();
    let input = dir.write(
        "users.csv",
        "Customer ID,E-Mail,Mobile,notes\nc1,mary@example.com,,vip\n",
    );
    let run = audsync(["hash", arg(&input)]).success();
    for expected in [
        "column mapping, automatic",
        "Customer ID → EXTERN_ID",
        "E-Mail → EMAIL",
        "Mobile → PHONE",
        "notes → (unmapped)",
        "user id column: Customer ID",
    ] {
        assert!(
            run.stderr.contains(expected),
            "{expected:?} in\n{}",
            run.stderr
        );
    }
    assert_eq!(
        run.stdout,
        format!("user_id,EXTERN_ID,EMAIL,PHONE\nc1,c1,{MARY_EMAIL_SHA256},\n")
    );
}

#[test]
fn explicit_map_and_semicolon_delimiter() {
    let dir = TestDir::new();
    let input = dir.write(
        "clients.csv",
        "ref;courriel;prénom\nr1;mary@example.com;John\nr2;mary@example.com;\"Ann;Marie\"\n",
    );
    let run = audsync([
        "hash",
        arg(&input),
        "--map",
        "courriel=EMAIL",
        "--map",
        "prénom=fn",
        "--user-id-column",
        "ref",
    ])
    .success();
    assert!(
        run.stderr.contains("column mapping, from --map"),
        "{}",
        run.stderr
    );
    let rows = run.csv_rows();
    assert_eq!(rows[0], ["user_id", "EMAIL", "FN", "FI"]);
    assert_eq!(rows[1][0], "r1");
    assert_eq!(rows[1][1], MARY_EMAIL_SHA256);
    assert_eq!(rows[1][2], sha256_hex("john"));
    assert_eq!(rows[1][3], sha256_hex("j"));
    assert_eq!(rows[2][0], "r2");
    assert_eq!(rows[2][2], sha256_hex("annmarie"));
}

#[test]
fn tab_separated_file_with_bom_and_crlf() {
    let dir = TestDir::new();
    let input = dir.write(
        "export.tsv",
        "\u{feff}id\temail\tcountry\r\nu1\tmary@example.com\tUS\r\nu2\tMARY@EXAMPLE.COM \tusa\r\n",
    );
    let run = audsync(["hash", arg(&input)]).success();
    let us = sha256_hex("us");
    assert_eq!(
        run.stdout,
        format!(
            "user_id,EXTERN_ID,EMAIL,COUNTRY\nu1,u1,{MARY_EMAIL_SHA256},{us}\nu2,u2,{MARY_EMAIL_SHA256},{us}\n"
        )
    );
}

#[test]
fn json_lines_are_read_and_bad_lines_rejected_with_line_numbers() {
    let dir = TestDir::new();
    let input = dir.write(
        "users.jsonl",
        "{\"user_id\":\"u1\",\"email\":\"mary@example.com\"}\n\
         [\"not\",\"an\",\"object\"]\n\
         \n\
         {\"user_id\":42,\"email\":\"Mary@Example.com\",\"phone\":null}\n\
         {\"user_id\":\"u3\",\"email\":\n",
    );
    let rejects = dir.path("rejects.csv");
    let run = audsync(["hash", arg(&input), "--rejects", arg(&rejects)]).success();
    assert_eq!(
        run.stdout,
        format!(
            "user_id,EXTERN_ID,EMAIL,PHONE\nu1,u1,{MARY_EMAIL_SHA256},\n42,42,{MARY_EMAIL_SHA256},\n"
        )
    );
    let rejects = dir.read("rejects.csv");
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(lines[0], "line,user_id,reason");
    assert_eq!(lines[1], "2,,JSON line is not an object");
    assert!(lines[2].starts_with("5,,invalid JSON"), "{rejects}");
    assert_eq!(lines.len(), 3);
}

#[test]
fn rejects_file_has_line_numbers_and_reasons_but_no_personal_data() {
    let dir = TestDir::new();
    let mut input = b"user_id,email,zip,city,country\n\
        u1,mary@example.com,,,\n\
        u2,,94025,,\n\
        u3,,,Paris,FR\n\
        u4,mary@example.com,1,2,3,4\n"
        .to_vec();
    input.extend_from_slice(b"u5,\xff\xfemary@example.com,,,\n");
    input.extend_from_slice(
        b",mary@example.com,,,\n\
        u7,\"unterminated@example.com,,,\n\
        u8,mary@example.com,,,\n",
    );
    let input = dir.write("users.csv", input);
    let output = dir.path("members.csv");
    let rejects = dir.path("rejects.csv");
    let run = audsync([
        "hash",
        arg(&input),
        "--output",
        arg(&output),
        "--rejects",
        arg(&rejects),
    ])
    .success();
    assert_eq!(run.stdout, "");
    let members = dir.read("members.csv");
    let member_ids: Vec<&str> = members
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap())
        .collect();
    assert_eq!(member_ids, ["u1", "u8"]);

    let rejects = dir.read("rejects.csv");
    let rows: Vec<Vec<&str>> = rejects
        .lines()
        .map(|line| line.splitn(3, ',').collect())
        .collect();
    assert_eq!(rows[0], ["line", "user_id", "reason"]);
    assert_eq!(rows[1][..2], ["3", "u2"]);
    assert_eq!(rows[1][2], "only ZIP");
    assert_eq!(rows[2][..2], ["4", "u3"]);
    assert_eq!(
        rows[3],
        [
            "5",
            "",
            "wrong column count: 6 fields where the header has 5"
        ]
    );
    assert_eq!(rows[4], ["6", "", "invalid UTF-8 in column 'email'"]);
    assert_eq!(rows[5], ["7", "", "no user id"]);
    assert_eq!(rows[6][..2], ["8", ""]);
    assert!(rows[6][2].starts_with("unterminated quote"), "{rejects}");
    assert_eq!(rows.len(), 7);
    for personal in ["mary", "94025", "Paris", "unterminated@"] {
        assert!(
            !rejects.contains(personal),
            "{personal:?} leaked into\n{rejects}"
        );
    }

    assert_eq!(summary_count(&run.stderr, "rows read"), 8);
    assert_eq!(summary_count(&run.stderr, "members"), 2);
    assert_eq!(summary_count(&run.stderr, "rejected"), 6);
    assert_eq!(reject_count(&run.stderr, "only ZIP"), 1);
    assert_eq!(reject_count(&run.stderr, "wrong column count"), 1);
    assert_eq!(reject_count(&run.stderr, "invalid UTF-8"), 1);
    assert_eq!(reject_count(&run.stderr, "no user id"), 1);
    assert_eq!(reject_count(&run.stderr, "unterminated quote"), 1);
    assert!(run.stderr.contains("rows/s"), "{}", run.stderr);
}

#[test]
fn summary_counts_absent_values_per_key() {
    let dir = TestDir::new();
    let input = dir.write(
        "users.csv",
        "id,email,phone\nu1,mary@example.com,\nu2,not-an-address,+1 650 555 1234\nu3,mary@example.com,+1 650 555 1234\n",
    );
    let run = audsync(["hash", arg(&input)]).success();
    assert_eq!(summary_count(&run.stderr, "rows read"), 3);
    assert_eq!(summary_count(&run.stderr, "members"), 3);
    assert_eq!(summary_count(&run.stderr, "EMAIL"), 1);
    assert_eq!(summary_count(&run.stderr, "PHONE"), 1);
    assert_eq!(summary_count(&run.stderr, "EXTERN_ID"), 0);
}

#[test]
fn emit_normalized_warns_that_the_output_is_personal_data() {
    let dir = TestDir::new();
    let input = dir.write(
        "users.csv",
        "id,email,first_name\nu1, Mary@Example.COM ,José\n",
    );
    let run = audsync(["hash", arg(&input), "--emit", "normalized"]).success();
    assert!(run.stderr.contains("personal data"), "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "user_id,EXTERN_ID,EMAIL,FN,FI\nu1,u1,mary@example.com,josé,j\n"
    );
}

#[test]
fn stdin_is_read_when_the_file_is_a_dash() {
    let run = audsync_with_stdin(["hash", "-"], b"id,email\nu1,mary@example.com\n").success();
    assert_eq!(
        run.stdout,
        format!("user_id,EXTERN_ID,EMAIL\nu1,u1,{MARY_EMAIL_SHA256}\n")
    );
}

#[test]
fn usage_and_io_errors_exit_with_2_and_a_clear_message() {
    let dir = TestDir::new();
    let input = dir.write("users.csv", "id,email\nu1,mary@example.com\n");
    let missing = dir.path("missing.csv");

    let run = audsync(["hash", arg(&missing)]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("cannot open"), "{}", run.stderr);
    assert!(run.stderr.contains("missing.csv"), "{}", run.stderr);

    let run = audsync(["hash", arg(&input), "--map", "email=MAILS"]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("unknown key \"MAILS\""),
        "{}",
        run.stderr
    );

    let run = audsync(["hash", arg(&input), "--map", "mail=EMAIL"]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("no column \"mail\""), "{}", run.stderr);

    let run = audsync(["hash", arg(&input), "--date-order", "dym"]);
    assert_eq!(run.code, Some(2));

    let no_id = dir.write("no-id.csv", "email\nmary@example.com\n");
    let run = audsync(["hash", arg(&no_id)]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("no user id column"), "{}", run.stderr);

    let run = audsync(["hash", arg(&input), "--output", arg(&input)]);
    assert_eq!(run.code, Some(2));
    assert_eq!(dir.read("users.csv"), "id,email\nu1,mary@example.com\n");
}

#[test]
fn output_keeps_input_order_across_many_chunks_and_threads() {
    let n_rows = 50_000;
    let dir = TestDir::new();
    let mut input = String::from("user_id,email\n");
    for row_idx in 0..n_rows {
        input.push_str(&format!("u{row_idx},user{row_idx}@example.com\n"));
    }
    let input = dir.write("many.csv", input);
    let run = audsync(["hash", arg(&input), "--threads", "2"]).success();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), n_rows + 1);
    for (row_idx, line) in lines[1..].iter().enumerate() {
        let expected = format!(
            "u{row_idx},u{row_idx},{}",
            sha256_hex(&format!("user{row_idx}@example.com"))
        );
        assert_eq!(*line, expected, "row {row_idx}");
    }
    assert_eq!(summary_count(&run.stderr, "rows read"), n_rows as u64);
}

#[test]
fn a_closed_stdout_pipe_ends_the_run_quietly() {
    let dir = TestDir::new();
    let mut input = String::from("user_id,email\n");
    for row_idx in 0..200_000 {
        input.push_str(&format!("u{row_idx},user{row_idx}@example.com\n"));
    }
    let input = dir.write("many.csv", input);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_audsync"))
        .args(["hash", arg(&input)])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start audsync");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut first_bytes = [0u8; 100];
    std::io::Read::read_exact(&mut stdout, &mut first_bytes).expect("read the first bytes");
    drop(stdout);
    let output = child.wait_with_output().expect("wait for audsync");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
    assert!(first_bytes.starts_with(b"user_id,EXTERN_ID,EMAIL\n"));
}
