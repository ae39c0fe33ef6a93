//! What the read endpoints return, in our words: tokens, the ad account, audiences, sessions.

use std::collections::BTreeMap;

use crate::error::terms_url;
use crate::ids::{AdAccountId, AudienceId};

/// `operation_status.code` of a usable audience (contract §2.2: 200 Normal).
pub const OPERATION_STATUS_NORMAL: i64 = 200;

/// `operation_status.code` of an audience flagged for integrity: uploads are blocked
/// (contract §2.2, R-CA, since Sep 2 2025).
pub const OPERATION_STATUS_FLAGGED: i64 = 471;

/// `customer_file_source` of a new audience (contract §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CustomerFileSource {
    /// Collected directly from customers.
    #[default]
    UserProvidedOnly,
    /// Obtained directly from partners (agencies, data providers).
    PartnerProvidedOnly,
    BothUserAndPartnerProvided,
}

impl CustomerFileSource {
    pub fn wire_name(self) -> &'static str {
        match self {
            CustomerFileSource::UserProvidedOnly => "USER_PROVIDED_ONLY",
            CustomerFileSource::PartnerProvidedOnly => "PARTNER_PROVIDED_ONLY",
            CustomerFileSource::BothUserAndPartnerProvided => "BOTH_USER_AND_PARTNER_PROVIDED",
        }
    }
}

/// The optional parts of a new customer-file audience; it is always created with
/// `subtype=CUSTOM`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewAudience {
    pub description: Option<String>,
    pub customer_file_source: CustomerFileSource,
}

/// A custom audience as read back (contract §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience {
    pub id: AudienceId,
    pub name: Option<String>,
    pub description: Option<String>,
    pub subtype: Option<String>,
    /// From `account_id` (the bare number).
    pub ad_account: Option<AdAccountId>,
    pub customer_file_source: Option<String>,
    /// `None` while Graph reports -1 (too small or not yet populated).
    pub approximate_count_lower_bound: Option<u64>,
    pub approximate_count_upper_bound: Option<u64>,
    pub operation_status: Option<AudienceStatus>,
    pub delivery_status: Option<AudienceStatus>,
    pub data_source: Option<DataSource>,
    /// Unix seconds.
    pub time_updated: Option<i64>,
}

impl Audience {
    pub fn is_customer_file(&self) -> bool {
        self.subtype.as_deref() == Some("CUSTOM")
    }

    pub fn is_flagged(&self) -> bool {
        self.operation_status
            .as_ref()
            .is_some_and(|status| status.code == OPERATION_STATUS_FLAGGED)
    }

    /// Whether another update may start: `operation_status` is Normal (what
    /// [`ErrorAction::ReplaceConflict`](crate::ErrorAction::ReplaceConflict) waits for).
    pub fn is_operation_normal(&self) -> bool {
        self.operation_status
            .as_ref()
            .is_some_and(|status| status.code == OPERATION_STATUS_NORMAL)
    }
}

/// `operation_status` / `delivery_status`: a code and Graph's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudienceStatus {
    pub code: i64,
    pub description: String,
}

/// `data_source`: e.g. `FILE_IMPORTED` / `MULTI_HASHES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSource {
    pub kind: Option<String>,
    pub sub_type: Option<String>,
}

/// The result of [`GraphClient::find_or_create_audience`](crate::GraphClient::find_or_create_audience).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundOrCreated {
    pub audience_id: AudienceId,
    pub created: bool,
}

/// `account_status` (contract §8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    Disabled,
    Unsettled,
    PendingRiskReview,
    PendingSettlement,
    InGracePeriod,
    PendingClosure,
    Closed,
    AnyActive,
    AnyClosed,
    Other(u32),
}

impl AccountStatus {
    pub fn from_code(code: u32) -> AccountStatus {
        match code {
            1 => AccountStatus::Active,
            2 => AccountStatus::Disabled,
            3 => AccountStatus::Unsettled,
            7 => AccountStatus::PendingRiskReview,
            8 => AccountStatus::PendingSettlement,
            9 => AccountStatus::InGracePeriod,
            100 => AccountStatus::PendingClosure,
            101 => AccountStatus::Closed,
            201 => AccountStatus::AnyActive,
            202 => AccountStatus::AnyClosed,
            other => AccountStatus::Other(other),
        }
    }

    /// Accept 1 (active) and 9 (in grace period); fail the others (contract §8.2).
    pub fn is_usable(self) -> bool {
        matches!(self, AccountStatus::Active | AccountStatus::InGracePeriod)
    }
}

/// The ad account pre-flight read (contract §8.2, F7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdAccount {
    pub id: AdAccountId,
    pub name: Option<String>,
    pub account_status: Option<AccountStatus>,
    pub disable_reason: Option<u32>,
    pub business: Option<Business>,
    /// MANAGE, ADVERTISE, ANALYZE, DRAFT, ...
    pub user_tasks: Vec<String>,
    /// e.g. `custom_audience_tos → 1`.
    pub tos_accepted: BTreeMap<String, i64>,
}

impl AdAccount {
    /// `tos_accepted.custom_audience_tos == 1` (contract §8.3). A false negative is possible;
    /// the authoritative signal is error 200/1870034 on create or upload.
    pub fn custom_audience_terms_accepted(&self) -> bool {
        self.tos_accepted.get("custom_audience_tos") == Some(&1)
    }

    /// MANAGE is the admin task (contract §8.2).
    pub fn can_manage(&self) -> bool {
        self.user_tasks.iter().any(|task| task == "MANAGE")
    }

    pub fn terms_url(&self) -> String {
        terms_url(&self.id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Business {
    pub id: String,
    pub name: Option<String>,
}

/// `debug_token` data (contract §8.1, F8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub is_valid: bool,
    pub app_id: Option<String>,
    /// e.g. USER, SYSTEM_USER, APP.
    pub token_type: Option<String>,
    pub application: Option<String>,
    pub user_id: Option<String>,
    pub scopes: Vec<String>,
    /// Unix seconds; `None` when the token never expires (`expires_at: 0`).
    pub expires_at: Option<i64>,
    pub data_access_expires_at: Option<i64>,
    pub issued_at: Option<i64>,
}

impl TokenInfo {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|granted| granted == scope)
    }
}

/// `/me`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    pub id: String,
    pub name: Option<String>,
}

/// One entry of `/me/permissions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub permission: String,
    /// granted, declined, expired.
    pub status: String,
}

impl Permission {
    pub fn is_granted(&self) -> bool {
        self.status == "granted"
    }
}

/// One entry of `/{audience}/sessions` (contract §2.8, R-SESS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStatus {
    pub session_id: Option<u64>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub num_received: Option<u64>,
    pub num_invalid_entries: Option<u64>,
    pub num_matched: Option<u64>,
    pub progress: Option<u64>,
    pub stage: Option<String>,
}
