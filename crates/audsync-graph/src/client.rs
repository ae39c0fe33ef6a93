//! `GraphClient`: one method per Graph endpoint, each sent through the rate limiter and the retry loop.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, Once};
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, USER_AGENT};
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::error::{ErrorAction, GraphError, MAX_SNIPPET_CHARS, scrub};
use crate::ids::{AdAccountId, AudienceId};
use crate::objects::{
    AdAccount, Audience, FoundOrCreated, Me, NewAudience, Permission, SessionStatus, TokenInfo,
};
use crate::proof::appsecret_proof;
use crate::rate_limit::{RateKey, RateLimiter};
use crate::retry::{Idempotency, send_with_retry};
use crate::settings::{GraphSettings, ProofMode};
use crate::stats::{ClientStats, Counters};
use crate::usage::UsageReport;
use crate::users::{Session, UsersBatch, UsersResponse};
use crate::wire::{
    AdAccountBody, AudienceBody, CreateAudienceRequest, CreatedBody, DebugTokenBody, MeBody,
    PageBody, PermissionBody, SessionStatusBody, SuccessBody, UsersRequest, UsersResponseBody,
    decode_response,
};

/// The ad account fields read by the pre-flight (contract §8.2, F7).
const AD_ACCOUNT_FIELDS: &str =
    "id,account_id,name,account_status,disable_reason,business,user_tasks,tos_accepted";

/// The audience fields read back (contract §2.2, §8.4).
const AUDIENCE_FIELDS: &str = "id,name,description,subtype,account_id,customer_file_source,\
approximate_count_lower_bound,approximate_count_upper_bound,operation_status,delivery_status,\
data_source,time_updated";

/// Audiences per list page. Contract §2.3: no maximum, "best practice 20 + pagination"; we ask
/// for more because every page counts against the hourly budget and an ad account holds at
/// most 500 customer-file audiences (§9).
pub const LIST_PAGE_SIZE: u32 = 100;

/// Pages followed at most when listing, against a server that never stops paging.
const MAX_LIST_PAGES: usize = 1_000;

static INSTALL_CRYPTO_PROVIDER: Once = Once::new();

/// Could not build a client from these settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientBuildError {
    #[error("invalid Graph settings: {}", .0.join("; "))]
    InvalidSettings(Vec<String>),
    #[error("could not build the HTTP client: {0}")]
    Http(String),
}

/// The Graph API client. Cheap to clone; clones share the connection pool, the rate
/// limiter and the counters read by [`GraphClient::stats`].
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// `base_url/api_version`, without a trailing slash.
    versioned_base: String,
    settings: GraphSettings,
    limiter: RateLimiter,
    counters: Counters,
    /// Which ad account owns each audience we have seen, so calls on an audience share its
    /// ad account's budget and errors can link its terms page.
    audience_accounts: Mutex<HashMap<AudienceId, AdAccountId>>,
}

impl fmt::Debug for GraphClient {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("GraphClient")
            .field("versioned_base", &self.inner.versioned_base)
            .finish_non_exhaustive()
    }
}

/// Which token authorizes a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// The configured access token, with `appsecret_proof` when an app secret is set.
    AccessToken,
    /// The app token `APP_ID|APP_SECRET` (only `debug_token`).
    AppToken,
}

/// One logical Graph call; each attempt of it is built from this.
struct Call {
    endpoint: &'static str,
    method: Method,
    /// Relative to `base_url/api_version`, e.g. `act_1/customaudiences`.
    path: String,
    query: Vec<(&'static str, String)>,
    /// Serialised once; every attempt shares it (a 10,000-row body is tens of MB).
    json_body: Option<bytes::Bytes>,
    rate_key: RateKey,
    idempotency: Idempotency,
    auth: Auth,
}

impl Call {
    fn new(endpoint: &'static str, method: Method, path: String) -> Call {
        Call {
            endpoint,
            method,
            path,
            query: Vec::new(),
            json_body: None,
            rate_key: RateKey::Unscoped,
            idempotency: Idempotency::Safe,
            auth: Auth::AccessToken,
        }
    }

    fn query(mut self, name: &'static str, value: impl Into<String>) -> Call {
        self.query.push((name, value.into()));
        self
    }

    fn json(mut self, body: &impl Serialize) -> Call {
        self.json_body = Some(bytes::Bytes::from(
            serde_json::to_vec(body).expect("request bodies always serialise"),
        ));
        self
    }

    fn rate_key(mut self, rate_key: RateKey) -> Call {
        self.rate_key = rate_key;
        self
    }
}

impl GraphClient {
    /// Checks the settings and builds the HTTP client. Installs rustls' ring crypto provider
    /// once per process first, so no caller can forget it.
    pub fn new(settings: GraphSettings) -> Result<GraphClient, ClientBuildError> {
        let problems = settings.problems();
        if !problems.is_empty() {
            return Err(ClientBuildError::InvalidSettings(problems));
        }
        INSTALL_CRYPTO_PROVIDER.call_once(|| {
            // An error means another provider is installed already, which serves as well.
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let http = reqwest::Client::builder()
            .connect_timeout(settings.timeouts.connect)
            .timeout(settings.timeouts.request)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| ClientBuildError::Http(error.without_url().to_string()))?;
        let versioned_base = format!(
            "{}/{}",
            settings.base_url.trim_end_matches('/'),
            settings.api_version
        );
        let limiter = RateLimiter::new(settings.access_tier, settings.rate);
        Ok(GraphClient {
            inner: Arc::new(Inner {
                http,
                versioned_base,
                settings,
                limiter,
                counters: Counters::default(),
                audience_accounts: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// What this client and its clones have sent, retried and waited so far (see
    /// [`ClientStats`] for what counts as what). Cheap: a few atomic loads and two short
    /// locks. Take one before a stretch of work and one after; their difference
    /// (`after.since(&before)`) is what the work cost.
    pub fn stats(&self) -> ClientStats {
        self.inner.counters.snapshot()
    }

    /// Tells the limiter how many active audiences the ad account has; each adds 40 calls per
    /// hour to its budget (contract §6.1).
    pub fn set_active_audience_count(&self, ad_account: &AdAccountId, n_active_audiences: u32) {
        self.inner
            .limiter
            .set_active_audience_count(&RateKey::AdAccount(ad_account.clone()), n_active_audiences);
    }

    /// Tells the client which ad account owns `audience`, so calls on it share that ad
    /// account's rate budget and its errors can link the account's terms page. The client
    /// also learns this from `create_audience`, `list_custom_audiences` and `get_audience`.
    pub fn bind_audience(&self, audience: &AudienceId, ad_account: &AdAccountId) {
        self.remember_account(audience, ad_account);
    }

    /// `GET /debug_token` (contract §8.1, F8).
    ///
    /// **The one exception to "no token in a URL"**: Graph takes the token to inspect only as
    /// the `input_token` query parameter. The call is authorized with the app token
    /// `APP_ID|APP_SECRET` when both are set, else with the token itself; URLs are never
    /// logged, and transport errors have their URL removed. Prefer [`GraphClient::me`] and
    /// [`GraphClient::me_permissions`] where they suffice.
    pub async fn debug_token(&self) -> Result<TokenInfo, GraphError> {
        let settings = &self.inner.settings;
        let mut call = Call::new("debug_token", Method::GET, "debug_token".to_owned())
            .query("input_token", settings.access_token.expose().to_owned());
        if settings.app_id.is_some() && settings.app_secret.is_some() {
            call.auth = Auth::AppToken;
        }
        let body: DebugTokenBody = self.execute(&call).await?;
        Ok(body.into_token_info())
    }

    /// `GET /me?fields=id,name`.
    pub async fn me(&self) -> Result<Me, GraphError> {
        let call = Call::new("me", Method::GET, "me".to_owned()).query("fields", "id,name");
        let body: MeBody = self.execute(&call).await?;
        body.into_me().map_err(decode_error)
    }

    /// `GET /me/permissions`, every page.
    pub async fn me_permissions(&self) -> Result<Vec<Permission>, GraphError> {
        let call = Call::new("me_permissions", Method::GET, "me/permissions".to_owned());
        let bodies: Vec<PermissionBody> = self.collect_pages(call).await?;
        Ok(bodies
            .into_iter()
            .map(PermissionBody::into_permission)
            .collect())
    }

    /// `GET /act_{id}` with the pre-flight fields (contract §8.2).
    pub async fn ad_account(&self, ad_account: &AdAccountId) -> Result<AdAccount, GraphError> {
        let call = Call::new("ad_account", Method::GET, ad_account.as_path())
            .query("fields", AD_ACCOUNT_FIELDS)
            .rate_key(RateKey::AdAccount(ad_account.clone()));
        let body: AdAccountBody = self.execute(&call).await?;
        body.into_ad_account().map_err(decode_error)
    }

    /// `GET /act_{id}/customaudiences`, following the cursor to the last page (contract §2.3).
    pub async fn list_custom_audiences(
        &self,
        ad_account: &AdAccountId,
    ) -> Result<Vec<Audience>, GraphError> {
        let call = Call::new(
            "list_custom_audiences",
            Method::GET,
            format!("{}/customaudiences", ad_account.as_path()),
        )
        .query("fields", AUDIENCE_FIELDS)
        .query("limit", LIST_PAGE_SIZE.to_string())
        .rate_key(RateKey::AdAccount(ad_account.clone()));
        let bodies: Vec<AudienceBody> = self.collect_pages(call).await?;
        let audiences = bodies
            .into_iter()
            .map(AudienceBody::into_audience)
            .collect::<Result<Vec<_>, _>>()
            .map_err(decode_error)?;
        for audience in &audiences {
            self.remember_account(
                &audience.id,
                audience.ad_account.as_ref().unwrap_or(ad_account),
            );
        }
        tracing::debug!(ad_account.id = %ad_account, n_audiences = audiences.len(), "listed custom audiences");
        Ok(audiences)
    }

    /// Finds the customer-file audience (`subtype` CUSTOM) named exactly `name`, looking
    /// through every page so no duplicate is created, or creates it.
    pub async fn find_or_create_audience(
        &self,
        ad_account: &AdAccountId,
        name: &str,
        new_audience: &NewAudience,
    ) -> Result<FoundOrCreated, GraphError> {
        if let Some(audience_id) = self.find_audience(ad_account, name).await? {
            return Ok(FoundOrCreated {
                audience_id,
                created: false,
            });
        }
        match self.create_audience(ad_account, name, new_audience).await {
            Ok(audience_id) => Ok(FoundOrCreated {
                audience_id,
                created: true,
            }),
            // The create may have happened although its answer was lost: look before
            // creating a second one.
            Err(error) if error.may_have_been_applied() => {
                match self.find_audience(ad_account, name).await? {
                    Some(audience_id) => Ok(FoundOrCreated {
                        audience_id,
                        created: true,
                    }),
                    None => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    async fn find_audience(
        &self,
        ad_account: &AdAccountId,
        name: &str,
    ) -> Result<Option<AudienceId>, GraphError> {
        let audiences = self.list_custom_audiences(ad_account).await?;
        let mut matches = audiences.into_iter().filter(|audience| {
            audience.is_customer_file() && audience.name.as_deref() == Some(name)
        });
        let found = matches.next();
        let n_more = matches.count();
        if n_more > 0 {
            tracing::warn!(
                ad_account.id = %ad_account,
                n_duplicates = n_more + 1,
                "several customer-file audiences share this name; using the first listed"
            );
        }
        Ok(found.map(|audience| audience.id))
    }

    /// `POST /act_{id}/customaudiences` with `subtype=CUSTOM` (contract §2.1, F1). Not
    /// retried after a failure that may have created it; prefer
    /// [`GraphClient::find_or_create_audience`].
    pub async fn create_audience(
        &self,
        ad_account: &AdAccountId,
        name: &str,
        new_audience: &NewAudience,
    ) -> Result<AudienceId, GraphError> {
        let mut call = Call::new(
            "create_audience",
            Method::POST,
            format!("{}/customaudiences", ad_account.as_path()),
        )
        .json(&CreateAudienceRequest::new(name, new_audience))
        .rate_key(RateKey::AdAccount(ad_account.clone()));
        call.idempotency = Idempotency::NotSafe;
        let body: CreatedBody = self.execute(&call).await?;
        let audience_id = body.audience_id().map_err(decode_error)?;
        self.remember_account(&audience_id, ad_account);
        tracing::info!(ad_account.id = %ad_account, audience.id = %audience_id, "created a custom audience");
        Ok(audience_id)
    }

    /// `GET /{audience_id}` with counts, statuses, data source and times (contract §2.2).
    pub async fn get_audience(&self, audience: &AudienceId) -> Result<Audience, GraphError> {
        let call = Call::new("get_audience", Method::GET, audience.to_string())
            .query("fields", AUDIENCE_FIELDS)
            .rate_key(self.audience_rate_key(audience));
        let body: AudienceBody = self.execute(&call).await?;
        let audience = body.into_audience().map_err(decode_error)?;
        if let Some(ad_account) = &audience.ad_account {
            self.remember_account(&audience.id, ad_account);
        }
        Ok(audience)
    }

    /// `DELETE /{audience_id}` (contract §2.9).
    pub async fn delete_audience(&self, audience: &AudienceId) -> Result<(), GraphError> {
        let call = Call::new("delete_audience", Method::DELETE, audience.to_string())
            .rate_key(self.audience_rate_key(audience));
        let body: SuccessBody = self.execute(&call).await?;
        if !body.success {
            return Err(decode_error(
                "the delete answered success: false".to_owned(),
            ));
        }
        self.inner
            .audience_accounts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(audience);
        Ok(())
    }

    /// `POST /{audience_id}/users` with the payload in a JSON body (contract §2.4).
    pub async fn add_users(
        &self,
        audience: &AudienceId,
        batch: &UsersBatch,
        session: Option<&Session>,
    ) -> Result<UsersResponse, GraphError> {
        self.send_users("add_users", Method::POST, "users", audience, batch, session)
            .await
    }

    /// `DELETE /{audience_id}/users` with the payload in a JSON body, never in the URL
    /// (contract §2.5, §1.1).
    pub async fn remove_users(
        &self,
        audience: &AudienceId,
        batch: &UsersBatch,
        session: Option<&Session>,
    ) -> Result<UsersResponse, GraphError> {
        self.send_users(
            "remove_users",
            Method::DELETE,
            "users",
            audience,
            batch,
            session,
        )
        .await
    }

    /// `POST /{audience_id}/usersreplace`, one batch of a replace session (contract §2.6).
    /// Start with [`Session::start`], send [`Session::next_batch`] for each further batch and
    /// mark the final one with [`Session::last`].
    pub async fn replace_users(
        &self,
        audience: &AudienceId,
        batch: &UsersBatch,
        session: &Session,
    ) -> Result<UsersResponse, GraphError> {
        self.send_users(
            "replace_users",
            Method::POST,
            "usersreplace",
            audience,
            batch,
            Some(session),
        )
        .await
    }

    /// `GET /{audience_id}/sessions?session_id=...` (contract §2.8).
    pub async fn session_status(
        &self,
        audience: &AudienceId,
        session_id: u64,
    ) -> Result<Vec<SessionStatus>, GraphError> {
        let call = Call::new(
            "session_status",
            Method::GET,
            format!("{audience}/sessions"),
        )
        .query("session_id", session_id.to_string())
        .rate_key(self.audience_rate_key(audience));
        let bodies: Vec<SessionStatusBody> = self.collect_pages(call).await?;
        Ok(bodies
            .into_iter()
            .map(SessionStatusBody::into_status)
            .collect())
    }

    async fn send_users(
        &self,
        endpoint: &'static str,
        method: Method,
        edge: &str,
        audience: &AudienceId,
        batch: &UsersBatch,
        session: Option<&Session>,
    ) -> Result<UsersResponse, GraphError> {
        if batch.is_empty() {
            return Err(GraphError::NotSent {
                reason: "the batch has no rows",
            });
        }
        let call = Call::new(endpoint, method, format!("{audience}/{edge}"))
            .json(&UsersRequest::new(batch, session))
            .rate_key(self.audience_rate_key(audience));
        let span = tracing::info_span!(
            "graph.users",
            graph.endpoint = endpoint,
            audience.id = %audience,
            batch.n_rows = batch.n_rows(),
            session.batch_seq = session.map(|session| session.batch_seq),
        );
        async {
            let started = tokio::time::Instant::now();
            let body: UsersResponseBody = self.execute(&call).await?;
            let response = body.into_response(batch).map_err(decode_error)?;
            tracing::info!(
                num_received = response.num_received,
                num_invalid_entries = response.num_invalid_entries,
                n_invalid_samples = response.invalid_samples.len(),
                duration_ms = started.elapsed().as_millis() as u64,
                "Graph accepted the batch"
            );
            Ok(response)
        }
        .instrument(span)
        .await
    }

    /// Follows `paging.cursors.after` while Graph says there is a `next` page. The cursor is
    /// put on our own URL, never Graph's `next` link, so the URL stays token-free.
    async fn collect_pages<T: DeserializeOwned>(
        &self,
        mut call: Call,
    ) -> Result<Vec<T>, GraphError> {
        let mut items = Vec::new();
        let mut previous_cursor: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let page: PageBody<T> = self.execute(&call).await?;
            let next_cursor = page.next_cursor().map(str::to_owned);
            let n_items = page.data.len();
            items.extend(page.data);
            let Some(cursor) = next_cursor else {
                return Ok(items);
            };
            if n_items == 0 || previous_cursor.as_deref() == Some(cursor.as_str()) {
                return Ok(items);
            }
            call.query.retain(|(name, _)| *name != "after");
            call.query.push(("after", cursor.clone()));
            previous_cursor = Some(cursor);
        }
        Err(decode_error(format!(
            "paging did not end after {MAX_LIST_PAGES} pages"
        )))
    }

    fn audience_rate_key(&self, audience: &AudienceId) -> RateKey {
        let accounts = self
            .inner
            .audience_accounts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        accounts
            .get(audience)
            .map_or(RateKey::Unscoped, |ad_account| {
                RateKey::AdAccount(ad_account.clone())
            })
    }

    fn remember_account(&self, audience: &AudienceId, ad_account: &AdAccountId) {
        self.inner
            .audience_accounts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(audience.clone(), ad_account.clone());
    }

    /// Sends `call` through the retry loop; every attempt takes a rate-limit permit.
    async fn execute<W: DeserializeOwned>(&self, call: &Call) -> Result<W, GraphError> {
        let inner = &self.inner;
        let mut rng = fastrand::Rng::new();
        send_with_retry(
            &inner.settings.retry,
            &mut rng,
            call.idempotency,
            &inner.counters,
            |attempt_idx| self.attempt(call, attempt_idx),
            |error, delay| {
                if matches!(error.action(), ErrorAction::Wait { .. }) {
                    inner.limiter.pause_for(&call.rate_key, delay);
                }
            },
        )
        .await
    }

    async fn attempt<W: DeserializeOwned>(
        &self,
        call: &Call,
        attempt_idx: u32,
    ) -> Result<W, GraphError> {
        let inner = &self.inner;
        let settings = &inner.settings;
        let _permit = inner
            .limiter
            .acquire(&call.rate_key, &inner.counters.throttled)
            .await;
        let secrets = self.secrets();
        let request = self.build_request(call)?;
        let started = tokio::time::Instant::now();
        inner.counters.count_request();
        let response = inner
            .http
            .execute(request)
            .await
            .map_err(|error| transport_error(error, &secrets))?;
        let http_status = response.status().as_u16();
        let usage = UsageReport::from_headers(response.headers());
        inner.limiter.observe_usage(&call.rate_key, &usage);
        if let Some(answered) = response
            .headers()
            .get("facebook-api-version")
            .and_then(|value| value.to_str().ok())
            .filter(|answered| *answered != settings.api_version)
        {
            tracing::debug!(
                graph.api_version = answered,
                "Graph answered with another API version"
            );
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| transport_error(error, &secrets))?;
        let ad_account = call.rate_key.ad_account();
        let decoded = decode_response::<W>(
            http_status,
            &body,
            usage.regain_access_after(ad_account),
            &secrets,
        );
        let duration_ms = started.elapsed().as_millis() as u64;
        match decoded {
            Ok(value) => {
                tracing::debug!(
                    graph.endpoint = call.endpoint,
                    http.status = http_status,
                    attempt_idx,
                    duration_ms,
                    "Graph answered"
                );
                Ok(value)
            }
            Err(error) => {
                let error = match ad_account {
                    Some(ad_account) => error.with_ad_account(ad_account),
                    None => error,
                };
                let api = error.api();
                tracing::debug!(
                    graph.endpoint = call.endpoint,
                    http.status = http_status,
                    graph.code = api.map(|api| api.code),
                    graph.subcode = api.and_then(|api| api.subcode),
                    graph.fbtrace_id = api.and_then(|api| api.fbtrace_id.as_deref()),
                    attempt_idx,
                    duration_ms,
                    %error,
                    "Graph call failed"
                );
                // Other requests for this ad account stop too, even if this one gives up.
                if let ErrorAction::Wait { duration } = error.action() {
                    let floor = settings.retry.throttle_floor;
                    let pause = duration.map_or(floor, |duration| duration.max(floor));
                    inner.limiter.pause_for(&call.rate_key, pause);
                }
                Err(error)
            }
        }
    }

    fn build_request(&self, call: &Call) -> Result<reqwest::Request, GraphError> {
        let settings = &self.inner.settings;
        let mut url =
            Url::parse(&format!("{}/{}", self.inner.versioned_base, call.path)).map_err(|_| {
                GraphError::NotSent {
                    reason: "the request URL is invalid",
                }
            })?;
        let token: String = match call.auth {
            Auth::AccessToken => settings.access_token.expose().to_owned(),
            Auth::AppToken => match (&settings.app_id, &settings.app_secret) {
                (Some(app_id), Some(app_secret)) => format!("{app_id}|{}", app_secret.expose()),
                _ => settings.access_token.expose().to_owned(),
            },
        };
        {
            let mut query = url.query_pairs_mut();
            for (name, value) in &call.query {
                query.append_pair(name, value);
            }
            if let (Auth::AccessToken, Some(app_secret)) = (call.auth, &settings.app_secret) {
                match settings.appsecret_proof {
                    ProofMode::Timestamped => {
                        let now = SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .map_or(0, |since| since.as_secs());
                        query.append_pair(
                            "appsecret_proof",
                            &appsecret_proof(app_secret.expose(), &token, Some(now)),
                        );
                        query.append_pair("appsecret_time", &now.to_string());
                    }
                    ProofMode::Plain => {
                        query.append_pair(
                            "appsecret_proof",
                            &appsecret_proof(app_secret.expose(), &token, None),
                        );
                    }
                }
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| GraphError::NotSent {
                reason: "the access token contains characters not allowed in a header",
            })?;
        authorization.set_sensitive(true);
        let mut builder = self
            .inner
            .http
            .request(call.method.clone(), url)
            .header(AUTHORIZATION, authorization)
            .header(USER_AGENT, concat!("audsync/", env!("CARGO_PKG_VERSION")));
        if let Some(body) = &call.json_body {
            builder = builder
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        builder.build().map_err(|_| GraphError::NotSent {
            reason: "the request could not be built",
        })
    }

    fn secrets(&self) -> Vec<&str> {
        let settings = &self.inner.settings;
        let mut secrets = vec![settings.access_token.expose()];
        if let Some(app_secret) = &settings.app_secret {
            secrets.push(app_secret.expose());
        }
        secrets
    }
}

fn decode_error(detail: String) -> GraphError {
    GraphError::Decode {
        http_status: 200,
        detail,
    }
}

/// Maps a transport failure, with its URL removed (a `debug_token` URL holds a token).
fn transport_error(error: reqwest::Error, secrets: &[&str]) -> GraphError {
    let error = error.without_url();
    if error.is_timeout() {
        return GraphError::Timeout;
    }
    let mut chain = error.to_string();
    let mut is_reset = false;
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        if let Some(io_error) = cause.downcast_ref::<std::io::Error>() {
            is_reset |= matches!(
                io_error.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            );
        }
        source = cause.source();
    }
    let lowercase = chain.to_lowercase();
    is_reset |= [
        "connection closed",
        "connection reset",
        "incomplete",
        "broken pipe",
        "end of file",
    ]
    .iter()
    .any(|phrase| lowercase.contains(phrase));
    let detail = scrub(&chain, secrets, MAX_SNIPPET_CHARS);
    if error.is_connect() {
        GraphError::Connect { detail }
    } else if is_reset {
        GraphError::ConnectionReset { detail }
    } else {
        GraphError::Network { detail }
    }
}
