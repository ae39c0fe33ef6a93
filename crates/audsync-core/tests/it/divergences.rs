//! Every SDK divergence of contract §4.2 and every row of peers.md §3: we produce Meta's rule,
//! through the whole engine.

use audsync_core::{Field, MatchKey, sha256_hex};

use crate::support::{engine, normalized, wire};

/// peers.md §3, row by row: input, key, country column, what Meta's rule gives (None: absent).
#[test]
fn peers_divergence_table() {
    let table: &[(&str, MatchKey, &str, Option<&str>)] = &[
        // `José` (FN): CA-py `jos`; RudderStack hashes Latin-1 bytes.
        ("José", MatchKey::Fn, "", Some("josé")),
        // `정` (FN): CA-py sends sha256("").
        ("정", MatchKey::Fn, "", Some("정")),
        // `São Paulo` (CT): `sopaulo` / `sãopaulo` elsewhere; docs say a–z: transliterate.
        ("São Paulo", MatchKey::Ct, "", Some("saopaulo")),
        // `New York` (ST): everyone gives `newyork`.
        ("New York", MatchKey::St, "US", Some("ny")),
        // `United States` (COUNTRY): CA-py `un`, Node throws, SEG `unitedstates`, RS drops it.
        ("United States", MatchKey::Country, "", Some("us")),
        // `+44 (0)20 7946 0958` (PHONE): every peer keeps the trunk 0.
        (
            "+44 (0)20 7946 0958",
            MatchKey::Phone,
            "",
            Some("442079460958"),
        ),
        // `+0000000000` (PHONE): hashed, or the whole batch fails; Meta: drop.
        ("+0000000000", MatchKey::Phone, "", None),
        // `94107-1234` (ZIP): RS `941071234`.
        ("94107-1234", MatchKey::Zip, "US", Some("94107")),
        // `SW1A 1AA` (ZIP): CA-py keeps the space; others `sw1a1aa`; docs: area/district/sector.
        ("SW1A 1AA", MatchKey::Zip, "GB", Some("sw1a1")),
        // `Female` / `Other` (GEN): CA-py `o`, RS `m`, SEG passes `Other` through.
        ("Female", MatchKey::Gen, "", Some("f")),
        ("Other", MatchKey::Gen, "", None),
        // `5` (DOBM): SEG `5`.
        ("5", MatchKey::Dobm, "", Some("05")),
        // `AbC-123` (EXTERN_ID): CA-py lowercases.
        ("AbC-123", MatchKey::ExternId, "", Some("AbC-123")),
        // `AB12CD34-E123` (MADID): CA-py hashes it, SEG does not lowercase.
        ("AB12CD34-E123", MatchKey::Madid, "", Some("ab12cd34-e123")),
    ];
    let engine = engine(None);
    for (input, key, country, expected) in table {
        assert_eq!(
            normalized(&engine, Field::Key(*key), input, country).as_deref(),
            *expected,
            "{input:?} as {key}"
        );
    }
    // MADID and EXTERN_ID are sent unhashed; hashed keys as SHA-256 of the UTF-8 bytes.
    let fields = [
        Field::Key(MatchKey::Madid),
        Field::Key(MatchKey::ExternId),
        Field::Key(MatchKey::Fn),
    ];
    let row = ["AB12CD34-E123", "AbC-123", "정"];
    assert_eq!(
        wire(&engine, &fields, &row, MatchKey::Madid).as_deref(),
        Some("ab12cd34-e123")
    );
    assert_eq!(
        wire(&engine, &fields, &row, MatchKey::ExternId).as_deref(),
        Some("AbC-123")
    );
    let fn_hash = wire(&engine, &fields, &row, MatchKey::Fn).unwrap();
    assert!(
        fn_hash.starts_with("8fa8cd9c"),
        "UTF-8 digest of 정, not RudderStack's 2f0fd1e8…"
    );
    assert_ne!(fn_hash, sha256_hex(""));
}

/// Contract §4.2's numbered disagreements between the Python/PHP SDKs and the docs.
#[test]
fn python_and_php_sdk_disagreements() {
    let engine = engine(None);
    let fields = [
        Field::Key(MatchKey::Email),
        Field::Key(MatchKey::Fn),
        Field::Key(MatchKey::Phone),
    ];
    // (1) FN/LN keep non-ASCII letters.
    assert_eq!(
        normalized(&engine, Field::Key(MatchKey::Ln), "Groß", "").as_deref(),
        Some("groß")
    );
    // (2) MADID is not hashed.
    assert_eq!(
        wire(
            &engine,
            &[Field::Key(MatchKey::Madid)],
            &["AECE52E7-03EE-455A-B3C4-E57283966239"],
            MatchKey::Madid
        )
        .as_deref(),
        Some("aece52e7-03ee-455a-b3c4-e57283966239")
    );
    // (3) EXTERN_ID is neither case-folded nor hashed (outer white space only is trimmed).
    assert_eq!(
        normalized(&engine, Field::Key(MatchKey::ExternId), "  CRM-ID-42 ", "").as_deref(),
        Some("CRM-ID-42")
    );
    // (4) Empty values are sent as "", never sha256("").
    assert_eq!(
        wire(&engine, &fields, &["a@b.co", "", "  "], MatchKey::Fn).as_deref(),
        Some("")
    );
    assert_eq!(
        wire(&engine, &fields, &["a@b.co", "", "  "], MatchKey::Phone).as_deref(),
        Some("")
    );
    // (5) Leading zeros of national numbers go; the country code comes in.
    assert_eq!(
        normalized(&engine, Field::Key(MatchKey::Phone), "06 12 34 56 78", "FR").as_deref(),
        Some("33612345678")
    );
    // (6) State names become ANSI codes.
    assert_eq!(
        normalized(&engine, Field::Key(MatchKey::St), "California", "US").as_deref(),
        Some("ca")
    );
    // (7) Alpha-3 is mapped, not truncated (`aut` is Austria, not Australia).
    assert_eq!(
        normalized(&engine, Field::Key(MatchKey::Country), "AUT", "").as_deref(),
        Some("at")
    );
    // (8) EMAIL trims white space only; dots stay.
    assert_eq!(
        normalized(&engine, Field::Key(MatchKey::Email), "..test..", "").as_deref(),
        None
    );
    assert_eq!(
        normalized(
            &engine,
            Field::Key(MatchKey::Email),
            " j.o.e@example.com ",
            ""
        )
        .as_deref(),
        Some("j.o.e@example.com")
    );
    // PHP takes the first byte of GEN without lowercasing (`Female` → `F`).
    assert_eq!(
        normalized(&engine, Field::Key(MatchKey::Gen), "Female", "").as_deref(),
        Some("f")
    );
    // FI is one letter, not the whole first name (PY).
    assert_eq!(
        wire(
            &engine,
            &[Field::Key(MatchKey::Email), Field::Key(MatchKey::Fn)],
            &["a@b.co", "John"],
            MatchKey::Fi
        )
        .as_deref(),
        Some(sha256_hex("j").as_str())
    );
    // ZIP: `D-70997` is not `d`; a ZIP+4 without dash is cut.
    assert_eq!(
        normalized(&engine, Field::Key(MatchKey::Zip), "D-70997", "DE").as_deref(),
        Some("70997")
    );
    assert_eq!(
        normalized(&engine, Field::Key(MatchKey::Zip), "79385 4378", "US").as_deref(),
        Some("79385")
    );
    // Extension digits are dropped, not appended; Arabic-Indic digits are read.
    assert_eq!(
        normalized(
            &engine,
            Field::Key(MatchKey::Phone),
            "+1 650 555 0162 ext. 12",
            ""
        )
        .as_deref(),
        Some("16505550162")
    );
    assert_eq!(
        normalized(
            &engine,
            Field::Key(MatchKey::Phone),
            "+٣٣ ٦ ١٢ ٣٤ ٥٦ ٧٨",
            ""
        )
        .as_deref(),
        Some("33612345678")
    );
    // Pre-hashed input (any case) passes through lowercased, never hashed twice.
    let hashed = "F1904CF1A9D73A55FA5DE0AC823C4403DED71AFD4C3248D00BDCD0866552BB79";
    assert_eq!(
        wire(
            &engine,
            &[Field::Key(MatchKey::Email)],
            &[hashed],
            MatchKey::Email
        )
        .as_deref(),
        Some(hashed.to_lowercase().as_str())
    );
}
