//! The `payload` of /users, /usersreplace and /usersofanyaudience: structure checks that refuse
//! the request, then per-row checks that count invalid rows (contract §3, §12).

use serde_json::{Map, Value};

use crate::errors::MetaError;
use crate::members::{IDENTIFYING_KEYS, Member, VALUE_KEYS};

/// A request carries at most 10,000 rows (contract §9, G-CA, R-USERS).
pub(crate) const MAX_ROWS_PER_REQUEST: usize = 10_000;

/// At most 100 invalid rows are sampled per request (contract §2.4, G-CA).
pub(crate) const MAX_INVALID_SAMPLES: usize = 100;

/// Multi-key schema keys (contract §3, R-REPL, PHP/PY SDK key lists, G-CA LDU).
pub(crate) const MULTI_KEYS: &[&str] = &[
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
    "COUNTRY",
    "APPUID",
    "PAGEUID",
    "LOOKALIKE_VALUE",
    "DATA_PROCESSING_OPTIONS",
    "DATA_PROCESSING_OPTIONS_COUNTRY",
    "DATA_PROCESSING_OPTIONS_STATE",
];

/// Keys that must be SHA-256 lowercase hex or `""` (contract §4.1: hashing is required for all
/// keys except external ids, app/page user ids and advertising ids).
const HASHED_KEYS: &[&str] = &[
    "EMAIL", "PHONE", "GEN", "DOBY", "DOBM", "DOBD", "LN", "FN", "FI", "CT", "ST", "ZIP", "COUNTRY",
];

/// Single-key schemas and the multi-key name they are stored under (contract §3).
const SINGLE_KEYS: &[(&str, &str)] = &[
    ("EMAIL_SHA256", "EMAIL"),
    ("PHONE_SHA256", "PHONE"),
    ("MOBILE_ADVERTISER_ID", "MADID"),
    ("EXTERN_ID", "EXTERN_ID"),
    ("UID", "APPUID"),
];

/// Multi-key or single-key: the data source an upload claims (contract §3 lock-in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SchemaStyle {
    /// `schema` is an array.
    MultiKey,
    /// `schema` is a string.
    SingleKey,
}

impl SchemaStyle {
    /// The `data_source.sub_type` this style gives an audience.
    pub fn sub_type(self) -> &'static str {
        match self {
            SchemaStyle::MultiKey => "MULTI_HASHES",
            SchemaStyle::SingleKey => "HASHES_OR_USER_IDS",
        }
    }
}

/// A payload that passed the structure checks.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Payload {
    /// Multi-key or single-key.
    pub style: SchemaStyle,
    /// The stored key name of each column.
    pub columns: Vec<String>,
    /// The rows, each with exactly one cell per column.
    pub rows: Vec<Vec<Value>>,
}

/// The per-row verdict of a payload.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct RowOutcome {
    /// Rows that passed, as members.
    pub valid: Vec<Member>,
    /// How many rows were invalid.
    pub n_invalid: usize,
    /// Up to 100 invalid rows: the row's compact JSON array → reason.
    pub samples: Map<String, Value>,
}

/// Checks the payload's structure in the order of contract §12: present and JSON, at most
/// 10,000 rows, a known schema, every row as long as the schema.
pub(crate) fn parse(payload: Option<&Value>) -> Result<Payload, MetaError> {
    let payload = match payload {
        None => return Err(MetaError::missing_parameter("payload")),
        Some(Value::Object(object)) => object,
        Some(Value::String(_)) => {
            return Err(MetaError::invalid_parameter(
                "param payload must be a valid JSON object",
            ));
        }
        Some(_) => {
            return Err(MetaError::invalid_parameter(
                "param payload must be a JSON object",
            ));
        }
    };
    let data = match payload.get("data") {
        None => return Err(MetaError::missing_parameter("payload.data")),
        Some(Value::Array(data)) => data,
        Some(_) => {
            return Err(MetaError::invalid_parameter(
                "param payload.data must be an array",
            ));
        }
    };
    if data.len() > MAX_ROWS_PER_REQUEST {
        return Err(MetaError::invalid_parameter(format!(
            "Too many rows: a request carries at most {MAX_ROWS_PER_REQUEST} rows, this one has {}",
            data.len()
        )));
    }
    let (style, columns) = match payload.get("schema") {
        None => return Err(MetaError::missing_parameter("payload.schema")),
        Some(Value::String(schema)) => {
            let (_, stored) = SINGLE_KEYS
                .iter()
                .find(|(name, _)| name == schema)
                .ok_or_else(|| MetaError::invalid_parameter(format!("Invalid schema: {schema}")))?;
            (SchemaStyle::SingleKey, vec![(*stored).to_owned()])
        }
        Some(Value::Array(keys)) => {
            let mut columns = Vec::with_capacity(keys.len());
            for key in keys {
                let key = key
                    .as_str()
                    .filter(|key| MULTI_KEYS.contains(key))
                    .ok_or_else(|| {
                        let shown = key.as_str().map_or_else(|| key.to_string(), str::to_owned);
                        MetaError::invalid_parameter(format!("Invalid schema: {shown}"))
                    })?;
                if columns.iter().any(|column| column == key) {
                    return Err(MetaError::invalid_parameter(format!(
                        "Invalid schema: {key} appears twice"
                    )));
                }
                columns.push(key.to_owned());
            }
            if columns.is_empty() {
                return Err(MetaError::invalid_parameter("Invalid schema: empty"));
            }
            (SchemaStyle::MultiKey, columns)
        }
        Some(other) => {
            return Err(MetaError::invalid_parameter(format!(
                "Invalid schema: {other}"
            )));
        }
    };
    let mut rows = Vec::with_capacity(data.len());
    for row in data {
        match (style, row) {
            (SchemaStyle::SingleKey, Value::String(_)) => rows.push(vec![row.clone()]),
            (_, Value::Array(cells)) if cells.len() == columns.len() => rows.push(cells.clone()),
            _ => return Err(MetaError::schema_mismatch()),
        }
    }
    Ok(Payload {
        style,
        columns,
        rows,
    })
}

/// Checks each row; invalid rows are counted and sampled, never fatal (contract §2.4).
pub(crate) fn check_rows(payload: &Payload) -> RowOutcome {
    let mut outcome = RowOutcome::default();
    for cells in &payload.rows {
        match check_row(&payload.columns, cells) {
            Ok(member) => outcome.valid.push(member),
            Err(reason) => {
                outcome.n_invalid += 1;
                if outcome.samples.len() < MAX_INVALID_SAMPLES {
                    let key = serde_json::to_string(cells).unwrap_or_default();
                    outcome.samples.insert(key, Value::String(reason));
                }
            }
        }
    }
    outcome
}

fn check_row(columns: &[String], cells: &[Value]) -> Result<Member, String> {
    if let Some(idx) = columns.iter().position(|column| column == "EXTERN_ID")
        && cells[idx].as_str().is_none_or(str::is_empty)
    {
        return Err("empty external ID".to_owned());
    }
    let mut member = Member::new();
    for (column, cell) in columns.iter().zip(cells) {
        let value = check_cell(column, cell)?;
        if !value.is_empty() {
            member.insert(column.clone(), value);
        }
    }
    let identifies = member
        .keys()
        .any(|key| IDENTIFYING_KEYS.contains(&key.as_str()) || !VALUE_KEYS.contains(&key.as_str()));
    if !identifies {
        return Err("empty row: no key has a value".to_owned());
    }
    Ok(member)
}

/// Checks one cell and returns the value to store.
fn check_cell(column: &str, cell: &Value) -> Result<String, String> {
    let invalid = || format!("invalid value for {column}");
    match column {
        "LOOKALIKE_VALUE" => match cell {
            Value::Number(number) if number.as_f64().is_some_and(|value| value >= 0.0) => {
                Ok(number.to_string())
            }
            Value::String(text) if text.is_empty() => Ok(String::new()),
            Value::String(text) if text.parse::<f64>().is_ok_and(|value| value >= 0.0) => {
                Ok(text.clone())
            }
            _ => Err(format!("{column} must be a number of at least 0")),
        },
        "DATA_PROCESSING_OPTIONS" => match cell {
            Value::Array(options) if options.iter().all(Value::is_string) => {
                Ok(serde_json::to_string(options).unwrap_or_default())
            }
            _ => Err(format!("{column} must be an array of strings")),
        },
        "DATA_PROCESSING_OPTIONS_COUNTRY" | "DATA_PROCESSING_OPTIONS_STATE" => match cell {
            Value::Number(number) if number.is_i64() => Ok(number.to_string()),
            Value::String(text) if text.is_empty() || text.parse::<i64>().is_ok() => {
                Ok(text.clone())
            }
            _ => Err(format!("{column} must be an integer")),
        },
        _ => {
            let text = cell.as_str().ok_or_else(invalid)?;
            if text.is_empty() {
                return Ok(String::new());
            }
            if HASHED_KEYS.contains(&column) {
                if !is_sha256_hex(text) {
                    return Err(format!(
                        "invalid {column} hash: expected 64 lowercase hexadecimal characters (SHA-256)"
                    ));
                }
            } else if column == "MADID" {
                if !is_advertising_id(text) {
                    return Err(
                        "invalid MADID: expected an unhashed lowercase advertising id".to_owned(),
                    );
                }
            } else if (column == "APPUID" || column == "PAGEUID")
                && !text.bytes().all(|byte| byte.is_ascii_digit())
            {
                return Err(format!("invalid {column}: expected a numeric id"));
            }
            Ok(text.to_owned())
        }
    }
}

/// `^[0-9a-f]{64}$` (contract §12 rule).
pub(crate) fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
}

/// A lowercase UUID-form advertising id (IDFA / AAID), e.g. `aece52e7-03ee-455a-b3c4-e57283966239`
/// (contract §4.1: MADID is sent lowercase with hyphens, not hashed).
fn is_advertising_id(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(group, length)| {
            group.len() == length
                && group
                    .bytes()
                    .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EMAIL: &str = "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f";
    const FN: &str = "96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a";

    #[test]
    fn structure_errors_refuse_the_request() {
        let cases = [
            (None, "(#100) The parameter payload is required"),
            (
                Some(json!("not json")),
                "(#100) param payload must be a valid JSON object",
            ),
            (
                Some(json!({"data": []})),
                "(#100) The parameter payload.schema is required",
            ),
            (
                Some(json!({"schema": "EMAIL"})),
                "(#100) The parameter payload.data is required",
            ),
            (
                Some(json!({"schema": "EMAIL", "data": []})),
                "(#100) Invalid schema: EMAIL",
            ),
            (
                Some(json!({"schema": ["EMAIL", "NAME"], "data": []})),
                "(#100) Invalid schema: NAME",
            ),
            (
                Some(json!({"schema": ["EMAIL", "FN"], "data": [[EMAIL]]})),
                "(#100) Data is missing or does not match schema",
            ),
            (
                Some(json!({"schema": ["EMAIL"], "data": [EMAIL]})),
                "(#100) Data is missing or does not match schema",
            ),
        ];
        for (payload, message) in cases {
            let error = parse(payload.as_ref()).expect_err(message);
            assert_eq!((error.code, error.message.as_str()), (100, message));
        }
    }

    #[test]
    fn more_than_ten_thousand_rows_are_refused() {
        let rows = vec![json!([EMAIL]); MAX_ROWS_PER_REQUEST + 1];
        let error = parse(Some(&json!({"schema": ["EMAIL"], "data": rows}))).expect_err("too many");
        assert!(
            error.message.contains("at most 10000 rows"),
            "{}",
            error.message
        );
        let rows = vec![json!([EMAIL]); MAX_ROWS_PER_REQUEST];
        assert!(parse(Some(&json!({"schema": ["EMAIL"], "data": rows}))).is_ok());
    }

    #[test]
    fn single_key_accepts_flat_and_nested_rows() {
        let payload = parse(Some(
            &json!({"schema": "EMAIL_SHA256", "data": [EMAIL, [FN]]}),
        ))
        .expect("valid");
        assert_eq!(payload.style, SchemaStyle::SingleKey);
        assert_eq!(payload.columns, ["EMAIL"]);
        assert_eq!(check_rows(&payload).valid.len(), 2);
    }

    #[test]
    fn row_checks_table() {
        let schema = json!(["EMAIL", "EXTERN_ID", "MADID", "LOOKALIKE_VALUE"]);
        let cases: &[(Value, Option<&str>)] = &[
            (json!([EMAIL, "crm-1", "", 1.5]), None),
            (
                json!(["", "crm-2", "aece52e7-03ee-455a-b3c4-e57283966239", "0"]),
                None,
            ),
            (json!([EMAIL, "", "", 0]), Some("empty external ID")),
            (
                json!([EMAIL.to_uppercase(), "crm-3", "", 0]),
                Some("invalid EMAIL hash: expected 64 lowercase hexadecimal characters (SHA-256)"),
            ),
            (
                json!(["john@example.com", "crm-3", "", 0]),
                Some("invalid EMAIL hash: expected 64 lowercase hexadecimal characters (SHA-256)"),
            ),
            (
                json!([EMAIL, "crm-4", EMAIL, 0]),
                Some("invalid MADID: expected an unhashed lowercase advertising id"),
            ),
            (
                json!([EMAIL, "crm-5", "", -1]),
                Some("LOOKALIKE_VALUE must be a number of at least 0"),
            ),
            (
                json!([EMAIL, "crm-6", 7, 0]),
                Some("invalid value for MADID"),
            ),
        ];
        for (row, expected) in cases {
            let payload =
                parse(Some(&json!({"schema": schema, "data": [row]}))).expect("structure ok");
            let outcome = check_rows(&payload);
            match expected {
                None => assert_eq!(outcome.valid.len(), 1, "{row}: {:?}", outcome.samples),
                Some(reason) => {
                    let key = serde_json::to_string(row).expect("json");
                    assert_eq!(outcome.samples.get(&key), Some(&json!(reason)), "{row}");
                }
            }
        }
    }

    #[test]
    fn all_empty_row_is_invalid_and_samples_stop_at_one_hundred() {
        let rows = vec![json!(["", ""]); 150];
        let payload =
            parse(Some(&json!({"schema": ["EMAIL", "FN"], "data": rows}))).expect("structure ok");
        let outcome = check_rows(&payload);
        assert_eq!(outcome.n_invalid, 150);
        assert_eq!(
            outcome.samples.len(),
            1,
            "identical rows share one sample key"
        );
        let rows: Vec<Value> = (0..150)
            .map(|idx| json!([format!("{idx:064x}"), "not-hex"]))
            .collect();
        let payload =
            parse(Some(&json!({"schema": ["EMAIL", "FN"], "data": rows}))).expect("structure ok");
        let outcome = check_rows(&payload);
        assert_eq!(
            (outcome.n_invalid, outcome.samples.len()),
            (150, MAX_INVALID_SAMPLES)
        );
    }

    #[test]
    fn sample_key_is_the_compact_json_of_the_row() {
        // Contract §10 F3.
        let row = json!([
            "e190e9b20a82820ff09d873ae4dfe092b21bd625c259d54ab8773ff022eb08e0",
            "",
            "e96e02d8e47f2a7c03be5117b3ed175c52aa30fb22028cf9c96f261563577605",
            "",
            ""
        ]);
        let payload = parse(Some(
            &json!({"schema": ["EMAIL", "EXTERN_ID", "FN", "LN", "ZIP"], "data": [row]}),
        ))
        .expect("ok");
        let outcome = check_rows(&payload);
        let expected = "[\"e190e9b20a82820ff09d873ae4dfe092b21bd625c259d54ab8773ff022eb08e0\",\"\",\"e96e02d8e47f2a7c03be5117b3ed175c52aa30fb22028cf9c96f261563577605\",\"\",\"\"]";
        assert_eq!(
            outcome.samples.get(expected),
            Some(&json!("empty external ID"))
        );
    }
}
