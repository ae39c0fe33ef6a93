//! Contract §11: Meta's known-answer hashes and our computed table, through the whole engine.

use audsync_core::{Field, MatchKey, sha256_hex};

use crate::support::{engine, wire};

#[test]
fn meta_documented_hashes() {
    assert_eq!(
        sha256_hex("mary@example.com"),
        "f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79"
    );
    assert_eq!(
        sha256_hex("15559876543"),
        "1ef970831d7963307784fa8688e8fce101a15685d62aa765fed23f3a2c576a4e"
    );
    let engine = engine(None);
    let email = [Field::Key(MatchKey::Email)];
    assert_eq!(
        wire(&engine, &email, &["Mary@Example.com"], MatchKey::Email).as_deref(),
        Some("f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79")
    );
    let phone = [Field::Key(MatchKey::Phone)];
    assert_eq!(
        wire(&engine, &phone, &["+1 (555) 987-6543"], MatchKey::Phone).as_deref(),
        Some("1ef970831d7963307784fa8688e8fce101a15685d62aa765fed23f3a2c576a4e")
    );
}

/// Every row of contract §11's "computed locally" table, each sent beside an email so the row
/// is eligible.
#[test]
fn contract_section_11_table() {
    let table: &[(&str, MatchKey, &str)] = &[
        (
            "  John.Doe@Example.COM ",
            MatchKey::Email,
            "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f",
        ),
        (
            "+1 (650) 555-1234",
            MatchKey::Phone,
            "6069d14bf122fdfd931dc7beb58e5dfbba395b1faf05bdcd42d12358d63d8599",
        ),
        (
            "John",
            MatchKey::Fn,
            "96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a",
        ),
        (
            "Doe",
            MatchKey::Ln,
            "799ef92a11af918e3fb741df42934f3b568ed2d93ac1df74f1b8d41a27932a6f",
        ),
        (
            "José",
            MatchKey::Fn,
            "d994e1d001886fe5b45b1267bd1fa2b752ac50742579bd3dad7b2a2aa0ed6866",
        ),
        (
            "J.",
            MatchKey::Fi,
            "189f40034be7a199f1fa9891668ee3ab6049f82d38c68be70f596eab2e1857b7",
        ),
        (
            "Female",
            MatchKey::Gen,
            "252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111",
        ),
        (
            "Male",
            MatchKey::Gen,
            "62c66a7a5dd70c3146618063c344e531e6d4b59e379808443ce962b3abd63c5a",
        ),
        (
            "1990",
            MatchKey::Doby,
            "a7be8e1fe282a37cd666e0632b17d933fa13f21addf4798fc0455bc166e2488c",
        ),
        (
            "1",
            MatchKey::Dobm,
            "938db8c9f82c8cb58d3f3ef4fd250036a48d26a712753d2fde5abd03a85cabf4",
        ),
        (
            "5",
            MatchKey::Dobd,
            "c97550ce8213ef5cf6ed4ba48790c137df3ef6a5da20b48961001a634b6cead2",
        ),
        (
            "Menlo Park",
            MatchKey::Ct,
            "0007a3d64c01e23d5075203c5977c14e4f7e01a3fc570686fcc50b5e1dd42685",
        ),
        (
            "California",
            MatchKey::St,
            "6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126",
        ),
        (
            "CA",
            MatchKey::St,
            "6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126",
        ),
        (
            "94025-1234",
            MatchKey::Zip,
            "b9a9cf3cd3723a2e91b7c23ecf68456e872b6e5d86e5cab7f3d45a7302da32c7",
        ),
        (
            "US",
            MatchKey::Country,
            "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621",
        ),
        (
            "AECE52E7-03EE-455A-B3C4-E57283966239",
            MatchKey::Madid,
            "aece52e7-03ee-455a-b3c4-e57283966239",
        ),
        ("", MatchKey::Phone, ""),
        ("", MatchKey::Fn, ""),
    ];
    let engine = engine(Some("US"));
    for (input, key, expected) in table {
        let fields = [Field::Key(MatchKey::Email), Field::Key(*key)];
        let email = if *key == MatchKey::Email {
            *input
        } else {
            "someone@example.com"
        };
        let row = [email, *input];
        assert_eq!(
            wire(&engine, &fields, &row, *key).as_deref(),
            Some(*expected),
            "{input:?} as {key}"
        );
    }
    // The SDK test vector: "test" hashes to 9f86d081…; the SDKs also map "  test  " and
    // "..test.." to it, which we do not (neither is an email address).
    assert_eq!(
        sha256_hex("test"),
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    );
}
