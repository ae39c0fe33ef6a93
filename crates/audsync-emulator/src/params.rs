//! Request parameters merged from the query string and a form, multipart or JSON body (contract §1.1).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::errors::MetaError;

/// Parameters whose form/query string values are JSON-decoded when they parse as a JSON object
/// or array (contract §1.1 emulator rule; Meta's Python SDK JSON-encodes these).
const STRUCTURED_PARAMS: &[&str] = &[
    "payload",
    "session",
    "fields",
    "filtering",
    "audience_labels",
    "data_source",
    "app_ids",
    "page_ids",
];

/// The merged parameters of one request; body values win over query values.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Params {
    values: BTreeMap<String, Value>,
}

impl Params {
    /// Merges the query string and the body, decoded by its content type.
    pub fn parse(
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Self, MetaError> {
        let mut params = Params::default();
        if let Some(query) = query {
            for (key, value) in parse_urlencoded(query.as_bytes()) {
                params.insert_text(key, value);
            }
        }
        let content_type = content_type.unwrap_or_default();
        let media_type = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match media_type.as_str() {
            "application/x-www-form-urlencoded" => {
                for (key, value) in parse_urlencoded(body) {
                    params.insert_text(key, value);
                }
            }
            "multipart/form-data" => {
                let boundary = content_type
                    .split(';')
                    .map(str::trim)
                    .find_map(|part| {
                        let (name, value) = part.split_once('=')?;
                        name.trim()
                            .eq_ignore_ascii_case("boundary")
                            .then(|| value.trim_matches('"').to_owned())
                    })
                    .ok_or_else(|| {
                        MetaError::invalid_parameter("multipart body without a boundary")
                    })?;
                for (key, value) in parse_multipart(body, &boundary)? {
                    params.insert_text(key, value);
                }
            }
            "application/json" if !body.iter().all(u8::is_ascii_whitespace) => {
                let value: Value = serde_json::from_slice(body).map_err(|error| {
                    MetaError::invalid_parameter(format!(
                        "The request body is not valid JSON: {error}"
                    ))
                })?;
                let Value::Object(object) = value else {
                    return Err(MetaError::invalid_parameter(
                        "The JSON request body must be an object",
                    ));
                };
                for (key, value) in object {
                    match value {
                        Value::String(text) => params.insert_text(key, text),
                        other => {
                            params.values.insert(key, other);
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(params)
    }

    /// Builds parameters from pairs (for tests and internal calls).
    #[cfg(test)]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        let mut params = Params::default();
        for (key, value) in pairs {
            params.insert_text((*key).to_owned(), (*value).to_owned());
        }
        params
    }

    fn insert_text(&mut self, key: String, text: String) {
        let trimmed = text.trim_start();
        let decoded = if STRUCTURED_PARAMS.contains(&key.as_str())
            && (trimmed.starts_with('{') || trimmed.starts_with('['))
        {
            serde_json::from_str::<Value>(&text).ok()
        } else {
            None
        };
        self.values
            .insert(key, decoded.unwrap_or(Value::String(text)));
    }

    /// The raw value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    /// Whether the parameter is present.
    pub fn contains(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// The value as text: strings as they are, numbers and booleans printed.
    pub fn text(&self, key: &str) -> Option<String> {
        match self.values.get(key)? {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            _ => None,
        }
    }

    /// The value as a boolean (`true`/`false`, `1`/`0`).
    pub fn flag(&self, key: &str) -> Option<bool> {
        match self.values.get(key)? {
            Value::Bool(flag) => Some(*flag),
            Value::Number(number) => Some(number.as_i64() != Some(0)),
            Value::String(text) => match text.as_str() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// The `fields` parameter as a list of top-level field names (nested `a{b,c}` selections are
    /// reduced to `a`); `None` when absent.
    pub fn fields(&self) -> Option<Vec<String>> {
        match self.values.get("fields")? {
            Value::Array(items) => Some(
                items
                    .iter()
                    .filter_map(|item| item.as_str().map(str::to_owned))
                    .collect(),
            ),
            Value::String(text) => Some(split_fields(text)),
            _ => Some(Vec::new()),
        }
    }

    /// The value of a session-like object parameter: an object, or a string holding one.
    pub fn object(&self, key: &str) -> Option<Value> {
        match self.values.get(key)? {
            Value::String(text) => serde_json::from_str(text).ok(),
            other => Some(other.clone()),
        }
    }
}

/// Splits `id,name,data_source{type,sub_type}` into top-level names.
fn split_fields(text: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut depth = 0_usize;
    let mut current = String::new();
    for character in text.chars() {
        match character {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                if !current.trim().is_empty() {
                    fields.push(current.trim().to_owned());
                }
                current.clear();
            }
            _ if depth == 0 => current.push(character),
            _ => {}
        }
    }
    if !current.trim().is_empty() {
        fields.push(current.trim().to_owned());
    }
    fields
}

/// Decodes `a=1&b=x%20y+z` into pairs.
pub(crate) fn parse_urlencoded(input: &[u8]) -> Vec<(String, String)> {
    input
        .split(|byte| *byte == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut halves = pair.splitn(2, |byte| *byte == b'=');
            let key = halves.next().unwrap_or_default();
            let value = halves.next().unwrap_or_default();
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(input: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(input.len());
    let mut idx = 0;
    while idx < input.len() {
        match input[idx] {
            b'+' => bytes.push(b' '),
            b'%' if idx + 2 < input.len() => {
                match (hex_value(input[idx + 1]), hex_value(input[idx + 2])) {
                    (Some(high), Some(low)) => {
                        bytes.push(high * 16 + low);
                        idx += 2;
                    }
                    _ => bytes.push(b'%'),
                }
            }
            other => bytes.push(other),
        }
        idx += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes the named parts of a `multipart/form-data` body (files are taken as text values).
fn parse_multipart(body: &[u8], boundary: &str) -> Result<Vec<(String, String)>, MetaError> {
    let delimiter = format!("--{boundary}");
    let malformed = || MetaError::invalid_parameter("malformed multipart body");
    let mut pairs = Vec::new();
    let mut rest = body;
    let start = find(rest, delimiter.as_bytes()).ok_or_else(malformed)?;
    rest = &rest[start + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Ok(pairs);
        }
        rest = rest.strip_prefix(b"\r\n").ok_or_else(malformed)?;
        let headers_end = find(rest, b"\r\n\r\n").ok_or_else(malformed)?;
        let headers = String::from_utf8_lossy(&rest[..headers_end]).into_owned();
        rest = &rest[headers_end + 4..];
        let next_delimiter = format!("\r\n{delimiter}");
        let content_end = find(rest, next_delimiter.as_bytes()).ok_or_else(malformed)?;
        let content = String::from_utf8_lossy(&rest[..content_end]).into_owned();
        rest = &rest[content_end + next_delimiter.len()..];
        let name = headers
            .lines()
            .filter(|line| line.to_ascii_lowercase().starts_with("content-disposition"))
            .flat_map(|line| line.split(';'))
            .filter_map(|part| part.trim().strip_prefix("name="))
            .map(|name| name.trim_matches('"').to_owned())
            .next();
        if let Some(name) = name {
            pairs.push((name, content));
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_payload_is_json_decoded_and_body_wins_over_query() {
        let body = b"payload=%7B%22schema%22%3A%22EMAIL_SHA256%22%2C%22data%22%3A%5B%22ab%22%5D%7D&access_token=EAAbody&name=%5Bnot+json";
        let params = Params::parse(
            Some("access_token=EAAquery&limit=5"),
            Some("application/x-www-form-urlencoded"),
            body,
        )
        .expect("parses");
        assert_eq!(
            params.get("payload"),
            Some(&json!({"schema": "EMAIL_SHA256", "data": ["ab"]}))
        );
        assert_eq!(params.text("access_token").as_deref(), Some("EAAbody"));
        assert_eq!(params.text("limit").as_deref(), Some("5"));
        assert_eq!(params.text("name").as_deref(), Some("[not json"));
    }

    #[test]
    fn multipart_parts_become_params() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n{\"schema\":[\"EMAIL\"],\"data\":[[\"\"]]}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"access_token\"\r\n\r\nEAAx\r\n--XyZ--\r\n";
        let params =
            Params::parse(None, Some("multipart/form-data; boundary=XyZ"), body).expect("parses");
        assert_eq!(
            params.get("payload"),
            Some(&json!({"schema": ["EMAIL"], "data": [[""]]}))
        );
        assert_eq!(params.text("access_token").as_deref(), Some("EAAx"));
    }

    #[test]
    fn json_body_keeps_objects_and_decodes_string_payloads() {
        let params = Params::parse(
            Some("access_token=EAAq"),
            Some("application/json; charset=utf-8"),
            br#"{"payload":"{\"schema\":\"EXTERN_ID\",\"data\":[\"a\"]}","session":{"session_id":1},"is_value_based":false}"#,
        )
        .expect("parses");
        assert_eq!(
            params.get("payload"),
            Some(&json!({"schema": "EXTERN_ID", "data": ["a"]}))
        );
        assert_eq!(params.object("session"), Some(json!({"session_id": 1})));
        assert_eq!(params.flag("is_value_based"), Some(false));
        assert_eq!(params.text("access_token").as_deref(), Some("EAAq"));
    }

    #[test]
    fn invalid_json_body_is_a_100() {
        let error = Params::parse(None, Some("application/json"), b"{nope").expect_err("invalid");
        assert_eq!(error.code, 100);
    }

    #[test]
    fn fields_split_at_top_level_only() {
        let params = Params::from_pairs(&[(
            "fields",
            "id, name,data_source{type,sub_type},operation_status",
        )]);
        assert_eq!(
            params.fields().expect("present"),
            ["id", "name", "data_source", "operation_status"]
        );
        let params = Params::from_pairs(&[("fields", "[\"id\",\"name\"]")]);
        assert_eq!(params.fields().expect("present"), ["id", "name"]);
    }

    #[test]
    fn percent_decoding_handles_plus_utf8_and_stray_percent() {
        assert_eq!(percent_decode(b"a+b%20c"), "a b c");
        assert_eq!(percent_decode(b"Jos%C3%A9"), "José");
        assert_eq!(percent_decode(b"100%"), "100%");
        assert_eq!(percent_decode(b"%zz"), "%zz");
    }
}
