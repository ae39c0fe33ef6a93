//! Audience membership uploads: match-key schemas, checked batches, sessions, and responses mapped back to rows.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;

use crate::error::{MAX_SNIPPET_CHARS, scrub};
use crate::ids::AudienceId;

/// Graph accepts at most 10,000 rows per `/users` or `/usersreplace` request (contract §9,
/// G-CA, R-USERS).
pub const MAX_ROWS_PER_REQUEST: usize = 10_000;

/// A multi-key schema column (contract §3, R-REPL key list). Our own enum: this crate does
/// not depend on `audsync-core`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchKey {
    ExternId,
    Email,
    Phone,
    Gender,
    BirthYear,
    BirthMonth,
    BirthDay,
    LastName,
    FirstName,
    FirstInitial,
    City,
    State,
    Zip,
    MobileAdvertiserId,
    Country,
}

impl MatchKey {
    pub const ALL: [MatchKey; 15] = [
        MatchKey::ExternId,
        MatchKey::Email,
        MatchKey::Phone,
        MatchKey::Gender,
        MatchKey::BirthYear,
        MatchKey::BirthMonth,
        MatchKey::BirthDay,
        MatchKey::LastName,
        MatchKey::FirstName,
        MatchKey::FirstInitial,
        MatchKey::City,
        MatchKey::State,
        MatchKey::Zip,
        MatchKey::MobileAdvertiserId,
        MatchKey::Country,
    ];

    /// The name Graph uses in `schema`.
    pub fn wire_name(self) -> &'static str {
        match self {
            MatchKey::ExternId => "EXTERN_ID",
            MatchKey::Email => "EMAIL",
            MatchKey::Phone => "PHONE",
            MatchKey::Gender => "GEN",
            MatchKey::BirthYear => "DOBY",
            MatchKey::BirthMonth => "DOBM",
            MatchKey::BirthDay => "DOBD",
            MatchKey::LastName => "LN",
            MatchKey::FirstName => "FN",
            MatchKey::FirstInitial => "FI",
            MatchKey::City => "CT",
            MatchKey::State => "ST",
            MatchKey::Zip => "ZIP",
            MatchKey::MobileAdvertiserId => "MADID",
            MatchKey::Country => "COUNTRY",
        }
    }

    /// Whether values must be SHA-256 hex. Only EXTERN_ID and MADID are sent as they are
    /// (contract §4.1).
    pub fn is_hashed(self) -> bool {
        !matches!(self, MatchKey::ExternId | MatchKey::MobileAdvertiserId)
    }
}

/// A legacy single-key schema (contract §3: `schema` is a string).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SingleKey {
    EmailSha256,
    PhoneSha256,
    MobileAdvertiserId,
    ExternId,
}

impl SingleKey {
    pub fn wire_name(self) -> &'static str {
        match self {
            SingleKey::EmailSha256 => "EMAIL_SHA256",
            SingleKey::PhoneSha256 => "PHONE_SHA256",
            SingleKey::MobileAdvertiserId => "MOBILE_ADVERTISER_ID",
            SingleKey::ExternId => "EXTERN_ID",
        }
    }

    pub fn is_hashed(self) -> bool {
        matches!(self, SingleKey::EmailSha256 | SingleKey::PhoneSha256)
    }
}

/// The `schema` of an upload. Keep one style per audience: Graph locks an audience to the
/// data source of its first upload (contract §3, 2650).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsersSchema {
    MultiKey(Vec<MatchKey>),
    SingleKey(SingleKey),
}

impl UsersSchema {
    pub fn n_columns(&self) -> usize {
        match self {
            UsersSchema::MultiKey(keys) => keys.len(),
            UsersSchema::SingleKey(_) => 1,
        }
    }

    fn column_is_hashed(&self, column_idx: usize) -> bool {
        match self {
            UsersSchema::MultiKey(keys) => keys[column_idx].is_hashed(),
            UsersSchema::SingleKey(key) => key.is_hashed(),
        }
    }

    fn column_name(&self, column_idx: usize) -> &'static str {
        match self {
            UsersSchema::MultiKey(keys) => keys[column_idx].wire_name(),
            UsersSchema::SingleKey(key) => key.wire_name(),
        }
    }

    fn is_extern_id(&self, column_idx: usize) -> bool {
        match self {
            UsersSchema::MultiKey(keys) => keys[column_idx] == MatchKey::ExternId,
            UsersSchema::SingleKey(key) => *key == SingleKey::ExternId,
        }
    }
}

/// A batch that cannot be built at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("the schema has no keys")]
    EmptySchema,
    #[error("the schema lists {} twice", .0.wire_name())]
    DuplicateKey(MatchKey),
    #[error("{n_rows} rows are more than the {MAX_ROWS_PER_REQUEST} Graph accepts per request")]
    TooManyRows { n_rows: usize },
}

/// Why one row was left out of a batch. Never carries the row's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowProblem {
    /// The row has a different number of values than the schema has keys.
    WrongLength { expected: usize, found: usize },
    /// A hashed key holds something other than 64 lowercase hex characters or `""`: sending
    /// it could leak personal data in the clear.
    NotHashed { key: &'static str },
    /// Every value is empty.
    AllEmpty,
    /// The schema has EXTERN_ID and the row's is empty; Graph rejects such rows ("empty
    /// external ID", contract §10 F3).
    EmptyExternId,
}

impl fmt::Display for RowProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowProblem::WrongLength { expected, found } => {
                write!(
                    formatter,
                    "the row has {found} values but the schema has {expected} keys"
                )
            }
            RowProblem::NotHashed { key } => {
                write!(
                    formatter,
                    "the {key} value is not a lowercase SHA-256 hex digest"
                )
            }
            RowProblem::AllEmpty => formatter.write_str("every value of the row is empty"),
            RowProblem::EmptyExternId => formatter.write_str("the row's EXTERN_ID is empty"),
        }
    }
}

/// A row left out of a batch, by its index in the rows given to [`UsersBatch::build`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowRejection {
    pub row_index: usize,
    pub problem: RowProblem,
}

/// Rows ready to send: every row matches the schema and hashed keys are hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsersBatch {
    schema: UsersSchema,
    rows: Vec<Vec<String>>,
    /// For each row kept, its index in the rows given to `build`.
    row_refs: Vec<usize>,
}

impl UsersBatch {
    /// Checks `rows` against `schema`. Rows that cannot be sent are returned as rejections,
    /// each with its index in `rows`; they are never silently dropped.
    pub fn build(
        schema: UsersSchema,
        rows: Vec<Vec<String>>,
    ) -> Result<(UsersBatch, Vec<RowRejection>), BatchError> {
        check_batch(&schema, rows.len())?;
        let mut kept = Vec::with_capacity(rows.len());
        let mut row_refs = Vec::with_capacity(rows.len());
        let mut rejections = Vec::new();
        for (row_index, row) in rows.into_iter().enumerate() {
            match check_row(&schema, &row) {
                Ok(()) => {
                    kept.push(row);
                    row_refs.push(row_index);
                }
                Err(problem) => rejections.push(RowRejection { row_index, problem }),
            }
        }
        let batch = UsersBatch {
            schema,
            rows: kept,
            row_refs,
        };
        Ok((batch, rejections))
    }

    /// The rejections [`UsersBatch::build`] would return for these rows, without taking them:
    /// a caller that must record the rows it sends before sending them (a write-ahead journal)
    /// checks first, then moves the rows it kept into `build` and takes them back with
    /// [`UsersBatch::into_rows`], so that a batch's rows are never held twice.
    pub fn check<'r>(
        schema: &UsersSchema,
        rows: impl ExactSizeIterator<Item = &'r [String]>,
    ) -> Result<Vec<RowRejection>, BatchError> {
        check_batch(schema, rows.len())?;
        Ok(rows
            .enumerate()
            .filter_map(|(row_index, row)| {
                let problem = check_row(schema, row).err()?;
                Some(RowRejection { row_index, problem })
            })
            .collect())
    }

    /// The rows kept, in batch order (the rows given to `build` minus the rejected ones).
    pub fn into_rows(self) -> Vec<Vec<String>> {
        self.rows
    }

    pub fn schema(&self) -> &UsersSchema {
        &self.schema
    }

    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    pub fn n_rows(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The index, in the rows given to `build`, of the batch's row `batch_row_idx`.
    pub fn source_index(&self, batch_row_idx: usize) -> Option<usize> {
        self.row_refs.get(batch_row_idx).copied()
    }

    /// Maps `invalid_entry_samples` (key: the row serialised as a JSON array, value: the
    /// reason) back to rows. Every row equal to a sample gets its own entry; a sample that
    /// matches no row is kept with `row_index: None`.
    pub(crate) fn map_samples(&self, samples: Vec<(String, String)>) -> Vec<InvalidSample> {
        if samples.is_empty() {
            return Vec::new();
        }
        let mut rows_by_json: HashMap<String, Vec<usize>> = HashMap::new();
        for (batch_row_idx, row) in self.rows.iter().enumerate() {
            let json = serde_json::to_string(row).expect("a list of strings always serialises");
            rows_by_json.entry(json).or_default().push(batch_row_idx);
        }
        let mut invalid_samples = Vec::new();
        for (key, reason) in samples {
            let reason = scrub(&reason, &[], MAX_SNIPPET_CHARS);
            let matched = canonical_row_json(&key).and_then(|json| rows_by_json.get(&json));
            match matched {
                Some(batch_row_indices) => {
                    invalid_samples.extend(batch_row_indices.iter().map(|batch_row_idx| {
                        InvalidSample {
                            row_index: self.source_index(*batch_row_idx),
                            reason: reason.clone(),
                        }
                    }));
                }
                None => invalid_samples.push(InvalidSample {
                    row_index: None,
                    reason,
                }),
            }
        }
        invalid_samples.sort_by_key(|sample| sample.row_index.unwrap_or(usize::MAX));
        invalid_samples
    }
}

/// The problems of a whole batch: its schema, its size.
fn check_batch(schema: &UsersSchema, n_rows: usize) -> Result<(), BatchError> {
    if let UsersSchema::MultiKey(keys) = schema {
        if keys.is_empty() {
            return Err(BatchError::EmptySchema);
        }
        for (key_idx, key) in keys.iter().enumerate() {
            if keys[..key_idx].contains(key) {
                return Err(BatchError::DuplicateKey(*key));
            }
        }
    }
    if n_rows > MAX_ROWS_PER_REQUEST {
        return Err(BatchError::TooManyRows { n_rows });
    }
    Ok(())
}

fn check_row(schema: &UsersSchema, row: &[String]) -> Result<(), RowProblem> {
    let expected = schema.n_columns();
    if row.len() != expected {
        return Err(RowProblem::WrongLength {
            expected,
            found: row.len(),
        });
    }
    if row.iter().all(String::is_empty) {
        return Err(RowProblem::AllEmpty);
    }
    for (column_idx, value) in row.iter().enumerate() {
        if schema.is_extern_id(column_idx) && value.is_empty() {
            return Err(RowProblem::EmptyExternId);
        }
        if schema.column_is_hashed(column_idx) && !value.is_empty() && !is_sha256_hex(value) {
            return Err(RowProblem::NotHashed {
                key: schema.column_name(column_idx),
            });
        }
    }
    Ok(())
}

fn is_sha256_hex(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A sample key re-serialised the way we serialise rows, so escaping differences (`\/`,
/// `\u00e9`) on Graph's side do not break the match.
fn canonical_row_json(key: &str) -> Option<String> {
    let cell = |value: &Value| match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let row: Vec<String> = match serde_json::from_str::<Value>(key).ok()? {
        Value::Array(values) => values.iter().map(cell).collect(),
        Value::String(text) => vec![text],
        _ => return None,
    };
    serde_json::to_string(&row).ok()
}

/// The `session` object of `/users` and `/usersreplace` (contract §2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// Positive 64-bit, unique within the ad account.
    pub session_id: u64,
    /// Starts at 1.
    pub batch_seq: u32,
    pub last_batch_flag: bool,
    pub estimated_num_total: Option<u64>,
}

impl Session {
    /// A new session at batch 1 with a random positive 63-bit id.
    pub fn start(estimated_num_total: Option<u64>) -> Session {
        Session::start_with_rng(&mut fastrand::Rng::new(), estimated_num_total)
    }

    pub fn start_with_rng(rng: &mut fastrand::Rng, estimated_num_total: Option<u64>) -> Session {
        Session {
            session_id: rng.u64(1..=i64::MAX as u64),
            batch_seq: 1,
            last_batch_flag: false,
            estimated_num_total,
        }
    }

    /// The same session, one batch later.
    pub fn next_batch(&self) -> Session {
        Session {
            batch_seq: self.batch_seq + 1,
            ..*self
        }
    }

    /// The same batch, marked as the session's last.
    pub fn last(self) -> Session {
        Session {
            last_batch_flag: true,
            ..self
        }
    }
}

/// What Graph said about an upload (contract §2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsersResponse {
    pub audience_id: Option<AudienceId>,
    /// Ours when we sent a session, else one Graph generated.
    pub session_id: Option<u64>,
    /// Users received in this session so far (cumulative).
    pub num_received: u64,
    /// Invalid entries; "not an exact number but represents a range" (G-CA).
    pub num_invalid_entries: u64,
    /// Up to 100 samples, mapped back to rows.
    pub invalid_samples: Vec<InvalidSample>,
}

/// One invalid row Graph reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSample {
    /// Index in the rows given to [`UsersBatch::build`]; `None` when the sample matches no
    /// row of the batch.
    pub row_index: Option<usize>,
    /// Graph's reason, e.g. "empty external ID".
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMAIL: &str = "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f";
    const MARY: &str = "f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79";

    fn row(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| value.to_string()).collect()
    }

    fn schema() -> UsersSchema {
        UsersSchema::MultiKey(vec![MatchKey::Email, MatchKey::ExternId, MatchKey::Country])
    }

    #[test]
    fn bad_rows_are_rejected_with_their_index_and_good_rows_kept() {
        let rows = vec![
            row(&[EMAIL, "crm-1", ""]),
            row(&[EMAIL, "crm-2"]),
            row(&["john@example.com", "crm-3", ""]),
            row(&[MARY, "", ""]),
            row(&["", "", ""]),
            row(&[&EMAIL.to_uppercase(), "crm-5", ""]),
            row(&[MARY, "crm-6", ""]),
        ];
        let checked = UsersBatch::check(&schema(), rows.iter().map(Vec::as_slice)).unwrap();
        let (batch, rejections) = UsersBatch::build(schema(), rows.clone()).unwrap();
        assert_eq!(checked, rejections);
        assert_eq!(batch.n_rows(), 2);
        assert_eq!(batch.source_index(0), Some(0));
        assert_eq!(batch.source_index(1), Some(6));
        assert_eq!(batch.into_rows(), vec![rows[0].clone(), rows[6].clone()]);
        assert_eq!(
            rejections,
            vec![
                RowRejection {
                    row_index: 1,
                    problem: RowProblem::WrongLength {
                        expected: 3,
                        found: 2
                    }
                },
                RowRejection {
                    row_index: 2,
                    problem: RowProblem::NotHashed { key: "EMAIL" }
                },
                RowRejection {
                    row_index: 3,
                    problem: RowProblem::EmptyExternId
                },
                RowRejection {
                    row_index: 4,
                    problem: RowProblem::AllEmpty
                },
                RowRejection {
                    row_index: 5,
                    problem: RowProblem::NotHashed { key: "EMAIL" }
                },
            ]
        );
        for rejection in &rejections {
            assert!(!rejection.problem.to_string().contains("john"));
        }
    }

    #[test]
    fn whole_batch_problems_are_errors() {
        assert_eq!(
            UsersBatch::build(UsersSchema::MultiKey(vec![]), vec![]).unwrap_err(),
            BatchError::EmptySchema
        );
        assert_eq!(
            UsersBatch::build(
                UsersSchema::MultiKey(vec![MatchKey::Email, MatchKey::Email]),
                vec![]
            )
            .unwrap_err(),
            BatchError::DuplicateKey(MatchKey::Email)
        );
        let rows = vec![row(&[MARY]); MAX_ROWS_PER_REQUEST + 1];
        let email_schema = UsersSchema::SingleKey(SingleKey::EmailSha256);
        assert_eq!(
            UsersBatch::check(&email_schema, rows.iter().map(Vec::as_slice)).unwrap_err(),
            BatchError::TooManyRows { n_rows: 10_001 }
        );
        assert_eq!(
            UsersBatch::build(email_schema, rows).unwrap_err(),
            BatchError::TooManyRows { n_rows: 10_001 }
        );
        assert_eq!(
            UsersBatch::check(&UsersSchema::MultiKey(vec![]), std::iter::empty()).unwrap_err(),
            BatchError::EmptySchema
        );
        let rows = vec![row(&[MARY]); MAX_ROWS_PER_REQUEST];
        let (batch, _) =
            UsersBatch::build(UsersSchema::SingleKey(SingleKey::EmailSha256), rows).unwrap();
        assert_eq!(batch.n_rows(), 10_000);
    }

    #[test]
    fn unhashed_keys_accept_any_value() {
        let schema = UsersSchema::MultiKey(vec![MatchKey::MobileAdvertiserId, MatchKey::Phone]);
        let (batch, rejections) = UsersBatch::build(
            schema,
            vec![row(&["aece52e7-03ee-455a-b3c4-e57283966239", ""])],
        )
        .unwrap();
        assert!(rejections.is_empty());
        assert_eq!(batch.n_rows(), 1);
    }

    #[test]
    fn fixture_f3_sample_maps_back_to_the_row_it_came_from() {
        let schema = UsersSchema::MultiKey(vec![
            MatchKey::Email,
            MatchKey::ExternId,
            MatchKey::FirstName,
            MatchKey::LastName,
            MatchKey::Zip,
        ]);
        let first = "e190e9b20a82820ff09d873ae4dfe092b21bd625c259d54ab8773ff022eb08e0";
        let fn_hash = "e96e02d8e47f2a7c03be5117b3ed175c52aa30fb22028cf9c96f261563577605";
        // Build a batch whose second and fourth rows equal F3's invalid row, bypassing the
        // local EXTERN_ID check, as Graph would see them from another client.
        let invalid = row(&[first, "", fn_hash, "", ""]);
        let batch = UsersBatch {
            schema,
            rows: vec![
                row(&[MARY, "a", "", "", ""]),
                invalid.clone(),
                row(&[EMAIL, "b", "", "", ""]),
                invalid,
            ],
            row_refs: vec![10, 11, 12, 13],
        };
        let key = format!("[\"{first}\",\"\",\"{fn_hash}\",\"\",\"\"]");
        let samples = batch.map_samples(vec![
            (key, "empty external ID".to_owned()),
            ("[\"nothing\"]".to_owned(), "other".to_owned()),
            ("not json".to_owned(), "broken".to_owned()),
        ]);
        assert_eq!(
            samples,
            vec![
                InvalidSample {
                    row_index: Some(11),
                    reason: "empty external ID".to_owned()
                },
                InvalidSample {
                    row_index: Some(13),
                    reason: "empty external ID".to_owned()
                },
                InvalidSample {
                    row_index: None,
                    reason: "other".to_owned()
                },
                InvalidSample {
                    row_index: None,
                    reason: "broken".to_owned()
                },
            ]
        );
    }

    #[test]
    fn samples_match_despite_different_escaping_and_single_key_strings() {
        let (batch, _) = UsersBatch::build(
            UsersSchema::MultiKey(vec![MatchKey::ExternId]),
            vec![row(&["a/b"]), row(&["josé"])],
        )
        .unwrap();
        let samples = batch.map_samples(vec![
            (r#"["a\/b"]"#.to_owned(), "r1".to_owned()),
            (r#""jos\u00e9""#.to_owned(), "r2".to_owned()),
        ]);
        assert_eq!(samples[0].row_index, Some(0));
        assert_eq!(samples[1].row_index, Some(1));
    }

    #[test]
    fn sessions_start_random_positive_and_advance() {
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..1_000 {
            let session = Session::start_with_rng(&mut rng, Some(15_000));
            assert!(session.session_id >= 1 && session.session_id <= i64::MAX as u64);
            assert_eq!(session.batch_seq, 1);
            assert!(!session.last_batch_flag);
        }
        let first = Session::start(None);
        let second = first.next_batch();
        assert_eq!(second.session_id, first.session_id);
        assert_eq!(second.batch_seq, 2);
        let last = second.next_batch().last();
        assert_eq!((last.batch_seq, last.last_batch_flag), (3, true));
        assert_ne!(
            Session::start(None).session_id,
            Session::start(None).session_id
        );
    }

    #[test]
    fn match_key_names_follow_the_contract() {
        let names: Vec<_> = MatchKey::ALL.iter().map(|key| key.wire_name()).collect();
        assert_eq!(
            names,
            [
                "EXTERN_ID",
                "EMAIL",
                "PHONE",
                "GEN",
                "DOBY",
                "DOBM",
                "DOBD",
                "LN",
                "FN",
                "FI",
                "CT",
                "ST",
                "ZIP",
                "MADID",
                "COUNTRY"
            ]
        );
        let unhashed: Vec<_> = MatchKey::ALL
            .iter()
            .filter(|key| !key.is_hashed())
            .collect();
        assert_eq!(
            unhashed,
            [&MatchKey::ExternId, &MatchKey::MobileAdvertiserId]
        );
    }
}
