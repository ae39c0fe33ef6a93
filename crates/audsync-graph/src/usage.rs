//! Rate-limit usage headers (`X-Business-Use-Case-Usage`, `X-App-Usage`, `X-Ad-Account-Usage`), read on every response.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::ids::AdAccountId;

const BUSINESS_USE_CASE_HEADER: &str = "x-business-use-case-usage";
const APP_HEADER: &str = "x-app-usage";
const AD_ACCOUNT_HEADER: &str = "x-ad-account-usage";

/// One entry of `X-Business-Use-Case-Usage` (contract §6.2). Percentages are 0–100.
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessUseCaseUsage {
    /// The key the entry was listed under: the numeric ad account id in recorded
    /// custom_audience headers, a business id per Meta's docs.
    pub id: String,
    /// `type`: custom_audience, ads_management, ...
    pub use_case: String,
    pub call_count_pct: f64,
    pub total_cputime_pct: f64,
    pub total_time_pct: f64,
    /// `estimated_time_to_regain_access`, sent in **minutes**; `None` when absent or 0.
    pub regain_access_after: Option<Duration>,
    pub access_tier: Option<String>,
}

/// `X-App-Usage` (contract §6.2). Percentages are 0–100.
#[derive(Debug, Clone, PartialEq)]
pub struct AppUsage {
    pub call_count_pct: f64,
    pub total_cputime_pct: f64,
    pub total_time_pct: f64,
}

/// `X-Ad-Account-Usage` (contract §6.2).
#[derive(Debug, Clone, PartialEq)]
pub struct AdAccountUsage {
    pub util_pct: f64,
    /// `reset_time_duration`, in seconds.
    pub reset_after: Option<Duration>,
    pub access_tier: Option<String>,
}

/// What the usage headers of one response said. Every header is optional (contract §6.2:
/// "client must treat all as optional"); a malformed header is ignored and logged at debug.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UsageReport {
    pub business_use_cases: Vec<BusinessUseCaseUsage>,
    pub app: Option<AppUsage>,
    pub ad_account: Option<AdAccountUsage>,
}

impl UsageReport {
    pub fn from_headers(headers: &HeaderMap) -> UsageReport {
        let header_json = |name: &str| -> Option<Value> {
            let raw = headers.get(name)?;
            match raw
                .to_str()
                .ok()
                .and_then(|text| serde_json::from_str(text).ok())
            {
                Some(value) => Some(value),
                None => {
                    tracing::debug!(
                        http.header = name,
                        "ignoring a usage header that is not JSON"
                    );
                    None
                }
            }
        };
        let business_use_cases = header_json(BUSINESS_USE_CASE_HEADER)
            .map(|value| parse_business_use_cases(&value))
            .unwrap_or_default();
        let app = header_json(APP_HEADER).and_then(|value| logged(APP_HEADER, parse_app(&value)));
        let ad_account = header_json(AD_ACCOUNT_HEADER)
            .and_then(|value| logged(AD_ACCOUNT_HEADER, parse_ad_account(&value)));
        UsageReport {
            business_use_cases,
            app,
            ad_account,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.business_use_cases.is_empty() && self.app.is_none() && self.ad_account.is_none()
    }

    /// The highest usage percentage that concerns `ad_account`: its business-use-case entries
    /// (all entries when none is keyed by it, since the response was about it), the app usage
    /// and the ad account usage.
    pub fn highest_pct(&self, ad_account: Option<&AdAccountId>) -> Option<f64> {
        let from_use_cases = self.relevant_use_cases(ad_account).flat_map(|entry| {
            [
                entry.call_count_pct,
                entry.total_cputime_pct,
                entry.total_time_pct,
            ]
        });
        let from_app = self.app.iter().flat_map(|app| {
            [
                app.call_count_pct,
                app.total_cputime_pct,
                app.total_time_pct,
            ]
        });
        let from_account = self.ad_account.iter().map(|account| account.util_pct);
        from_use_cases
            .chain(from_app)
            .chain(from_account)
            .fold(None, |highest: Option<f64>, pct| {
                Some(highest.map_or(pct, |highest| highest.max(pct)))
            })
    }

    /// The longest `estimated_time_to_regain_access` announced for `ad_account`.
    pub fn regain_access_after(&self, ad_account: Option<&AdAccountId>) -> Option<Duration> {
        self.relevant_use_cases(ad_account)
            .filter_map(|entry| entry.regain_access_after)
            .max()
    }

    fn relevant_use_cases(
        &self,
        ad_account: Option<&AdAccountId>,
    ) -> impl Iterator<Item = &BusinessUseCaseUsage> {
        let keyed_by_account = ad_account.filter(|account| {
            self.business_use_cases
                .iter()
                .any(|entry| entry.id == account.numeric())
        });
        self.business_use_cases.iter().filter(move |entry| {
            keyed_by_account.is_none_or(|account| entry.id == account.numeric())
        })
    }
}

/// Passes `parsed` through, logging at debug when the header could not be read.
fn logged<T>(header: &'static str, parsed: Option<T>) -> Option<T> {
    if parsed.is_none() {
        tracing::debug!(http.header = header, "ignoring a malformed usage header");
    }
    parsed
}

fn parse_business_use_cases(value: &Value) -> Vec<BusinessUseCaseUsage> {
    let Some(by_id) = value.as_object() else {
        tracing::debug!(
            http.header = BUSINESS_USE_CASE_HEADER,
            "ignoring a usage header that is not an object"
        );
        return Vec::new();
    };
    let mut entries = Vec::new();
    for (id, list) in by_id {
        let Some(list) = list.as_array() else {
            tracing::debug!(
                http.header = BUSINESS_USE_CASE_HEADER,
                "ignoring a usage entry that is not a list"
            );
            continue;
        };
        for item in list {
            let entry = item.as_object().map(|item| BusinessUseCaseUsage {
                id: id.clone(),
                use_case: item
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                call_count_pct: number(item.get("call_count")).unwrap_or(0.0),
                total_cputime_pct: number(item.get("total_cputime")).unwrap_or(0.0),
                total_time_pct: number(item.get("total_time")).unwrap_or(0.0),
                regain_access_after: number(item.get("estimated_time_to_regain_access"))
                    .filter(|minutes| *minutes > 0.0)
                    .map(|minutes| Duration::from_secs_f64(minutes.min(1e6) * 60.0)),
                access_tier: item
                    .get("ads_api_access_tier")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            });
            match entry {
                Some(entry) => entries.push(entry),
                None => tracing::debug!(
                    http.header = BUSINESS_USE_CASE_HEADER,
                    "ignoring a usage entry that is not an object"
                ),
            }
        }
    }
    entries
}

fn parse_app(value: &Value) -> Option<AppUsage> {
    let object = value.as_object()?;
    Some(AppUsage {
        call_count_pct: number(object.get("call_count"))?,
        total_cputime_pct: number(object.get("total_cputime")).unwrap_or(0.0),
        total_time_pct: number(object.get("total_time")).unwrap_or(0.0),
    })
}

fn parse_ad_account(value: &Value) -> Option<AdAccountUsage> {
    let object = value.as_object()?;
    Some(AdAccountUsage {
        util_pct: number(object.get("acc_id_util_pct"))?,
        reset_after: number(object.get("reset_time_duration"))
            .filter(|seconds| *seconds > 0.0)
            .map(|seconds| Duration::from_secs_f64(seconds.min(1e8))),
        access_tier: object
            .get("ads_api_access_tier")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// A non-negative finite number, sent as a JSON number or a numeric string.
fn number(value: Option<&Value>) -> Option<f64> {
    let number = match value? {
        Value::Number(number) => number.as_f64()?,
        Value::String(text) => text.trim().parse().ok()?,
        _ => return None,
    };
    (number.is_finite() && number >= 0.0).then_some(number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn fixture_f1_business_use_case_header_is_parsed() {
        let report = UsageReport::from_headers(&headers(&[(
            "x-business-use-case-usage",
            r#"{"542676646349772":[{"type":"custom_audience","call_count":2,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":0}]}"#,
        )]));
        assert_eq!(
            report.business_use_cases,
            vec![BusinessUseCaseUsage {
                id: "542676646349772".to_owned(),
                use_case: "custom_audience".to_owned(),
                call_count_pct: 2.0,
                total_cputime_pct: 1.0,
                total_time_pct: 1.0,
                regain_access_after: None,
                access_tier: None,
            }]
        );
        let account = AdAccountId::parse("act_542676646349772").unwrap();
        assert_eq!(report.highest_pct(Some(&account)), Some(2.0));
        assert_eq!(report.regain_access_after(Some(&account)), None);
    }

    #[test]
    fn fixture_f6_throttle_announces_minutes() {
        let report = UsageReport::from_headers(&headers(&[(
            "x-business-use-case-usage",
            r#"{"542676646349772":[{"type":"custom_audience","call_count":100,"total_cputime":12,"total_time":14,"estimated_time_to_regain_access":5}]}"#,
        )]));
        let account = AdAccountId::parse("542676646349772").unwrap();
        assert_eq!(
            report.regain_access_after(Some(&account)),
            Some(Duration::from_secs(300))
        );
        assert_eq!(report.highest_pct(Some(&account)), Some(100.0));
    }

    #[test]
    fn entries_of_other_ids_are_ignored_when_ours_is_present() {
        let report = UsageReport::from_headers(&headers(&[(
            "x-business-use-case-usage",
            r#"{"1":[{"type":"custom_audience","call_count":99,"total_cputime":0,"total_time":0,"estimated_time_to_regain_access":30}],"2":[{"type":"custom_audience","call_count":10,"total_cputime":0,"total_time":0,"estimated_time_to_regain_access":0}]}"#,
        )]));
        let ours = AdAccountId::parse("2").unwrap();
        assert_eq!(report.highest_pct(Some(&ours)), Some(10.0));
        assert_eq!(report.regain_access_after(Some(&ours)), None);
        let unknown = AdAccountId::parse("3").unwrap();
        assert_eq!(report.highest_pct(Some(&unknown)), Some(99.0));
        assert_eq!(
            report.regain_access_after(None),
            Some(Duration::from_secs(1800))
        );
    }

    #[test]
    fn app_and_ad_account_headers_are_parsed() {
        let report = UsageReport::from_headers(&headers(&[
            (
                "x-app-usage",
                r#"{"call_count":28,"total_time":25,"total_cputime":25}"#,
            ),
            (
                "x-ad-account-usage",
                r#"{"acc_id_util_pct":9.67,"reset_time_duration":100,"ads_api_access_tier":"standard_access"}"#,
            ),
        ]));
        assert_eq!(
            report.app,
            Some(AppUsage {
                call_count_pct: 28.0,
                total_cputime_pct: 25.0,
                total_time_pct: 25.0
            })
        );
        assert_eq!(
            report.ad_account,
            Some(AdAccountUsage {
                util_pct: 9.67,
                reset_after: Some(Duration::from_secs(100)),
                access_tier: Some("standard_access".to_owned()),
            })
        );
        assert_eq!(report.highest_pct(None), Some(28.0));
        // The recorded POST /users form carries only the percentage.
        let recorded = UsageReport::from_headers(&headers(&[(
            "x-ad-account-usage",
            r#"{"acc_id_util_pct":9.67}"#,
        )]));
        assert_eq!(recorded.ad_account.unwrap().reset_after, None);
    }

    #[test]
    fn missing_and_malformed_headers_are_ignored() {
        assert!(UsageReport::from_headers(&HeaderMap::new()).is_empty());
        let table = [
            ("x-business-use-case-usage", "not json"),
            ("x-business-use-case-usage", "[1,2]"),
            ("x-business-use-case-usage", r#"{"1":"nope"}"#),
            ("x-business-use-case-usage", r#"{"1":[5]}"#),
            ("x-app-usage", r#"{"total_time":3}"#),
            ("x-app-usage", "7"),
            ("x-ad-account-usage", r#"{"acc_id_util_pct":"high"}"#),
            ("x-ad-account-usage", r#"{"acc_id_util_pct":-4}"#),
        ];
        for (name, value) in table {
            let report = UsageReport::from_headers(&headers(&[(name, value)]));
            assert!(report.is_empty(), "{name}: {value} gave {report:?}");
        }
    }

    #[test]
    fn numeric_strings_are_accepted() {
        let report = UsageReport::from_headers(&headers(&[(
            "x-app-usage",
            r#"{"call_count":"91","total_time":"1","total_cputime":"2"}"#,
        )]));
        assert_eq!(report.highest_pct(None), Some(91.0));
    }
}
