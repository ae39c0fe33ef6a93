//! The Graph API boundary: the only code of audsync that knows Graph URLs, JSON shapes and error codes.
//!
//! It knows nothing of sources, the store or our HTTP API, and does not depend on
//! `audsync-core`: it sends rows of already hashed keys and says what Graph made of them.
//! The spec is `shared/docs/graph-api-contract.md` (cited as "contract §N").
//!
//! # Invariants
//! - **Only here** are Graph paths, field names, JSON bodies and error codes written down.
//! - **The access token travels only in the `Authorization` header**, never in a URL. The one
//!   exception is `debug_token`'s `input_token`, which Graph takes only as a query
//!   parameter (see [`GraphClient::debug_token`]); URLs are never logged and are stripped
//!   from transport errors.
//! - **No log line or error carries a token, an app secret or a payload.** Secrets are
//!   redacted in `Debug`; server text kept in errors is scrubbed of the secrets and of
//!   64-hex runs (hashed keys) and truncated; rows are never logged, only counts.
//! - **Every failure is classified once**, by [`GraphError::action`]; the retry loop and the
//!   callers act on that and on nothing else.
//! - **Every attempt, first or retried, takes a rate-limit permit** for its ad account.
//! - Payloads go in JSON bodies, for `DELETE /users` too; a batch holds at most 10,000 rows
//!   and hashed keys are checked to be hashed before anything is sent.
//!
//! # Layout
//! - `settings`: [`GraphSettings`] and the secret newtypes.
//! - `ids`: [`AdAccountId`], [`AudienceId`].
//! - `client`: [`GraphClient`], one method per endpoint.
//! - `users`: [`UsersBatch`], [`Session`], [`UsersResponse`] and sample-to-row mapping.
//! - `objects`: what the read endpoints return.
//! - `error`: [`GraphError`], [`ErrorAction`] and the classification table.
//! - `retry`: [`RetryPolicy`] and the loop, with the policy as its doc comment.
//! - `rate_limit`: per-ad-account token bucket, in-flight cap and pauses.
//! - `stats`: [`ClientStats`], the requests, retries and waiting time counted per client.
//! - `usage`: the three usage headers.
//! - `proof`: `appsecret_proof`.
//! - `wire`: the private serde bodies.

mod client;
mod error;
mod ids;
mod objects;
mod proof;
mod rate_limit;
mod retry;
mod settings;
mod stats;
mod usage;
mod users;
mod wire;

pub use client::{ClientBuildError, GraphClient, LIST_PAGE_SIZE};
pub use error::{
    ApiError, BodyKind, DataProblem, ErrorAction, GraphError, MAX_SNIPPET_CHARS, UserProblem,
    terms_url,
};
pub use ids::{AdAccountId, AudienceId, IdError};
pub use objects::{
    AccountStatus, AdAccount, Audience, AudienceStatus, Business, CustomerFileSource, DataSource,
    FoundOrCreated, Me, NewAudience, OPERATION_STATUS_FLAGGED, OPERATION_STATUS_NORMAL, Permission,
    SessionStatus, TokenInfo,
};
pub use retry::RetryPolicy;
pub use settings::{
    AccessTier, AccessToken, AppSecret, DEFAULT_API_VERSION, DEFAULT_BASE_URL,
    DEFAULT_USAGE_PAUSE_THRESHOLD_PCT, DEFAULT_USAGE_WINDOW, GraphSettings, ProofMode,
    RateSettings, Timeouts, hourly_call_budget,
};
pub use stats::ClientStats;
pub use usage::{AdAccountUsage, AppUsage, BusinessUseCaseUsage, UsageReport};
pub use users::{
    BatchError, InvalidSample, MAX_ROWS_PER_REQUEST, MatchKey, RowProblem, RowRejection, Session,
    SingleKey, UsersBatch, UsersResponse, UsersSchema,
};
