//! The per-segment lease: one row per segment naming its holder and when the lease expires.
//!
//! Acquiring is one atomic upsert (insert, or take over a row that expired or is already
//! ours), so two processes never both hold a segment, on SQLite (one writer at a time) or
//! PostgreSQL (the conflicting insert waits for the row lock, then re-checks the condition).
//! A holder known to be dead (a killed process of this host) is replaced at once by
//! [`Store::take_over_lease`], one conditional update, without waiting for the expiry.
//! Expiry compares the callers' clocks: hosts sharing a PostgreSQL store need clocks that agree
//! to well within the lease's time to live.

use std::time::{Duration, SystemTime};

use sqlx::Row;

use super::{Store, StoreError, from_millis, to_millis};

/// A held lease. Renew it before `expires_at`; release it when done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub segment: String,
    pub holder: String,
    pub expires_at: SystemTime,
}

/// A holder id unique to this process: `pid <pid> on <host> (<random>)`.
pub fn lease_holder_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown host".to_owned());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("pid {} on {host} ({})", std::process::id(), &random[..8])
}

/// How often `acquire_lease` retries when the lease disappears between its two statements.
const ACQUIRE_ATTEMPTS: usize = 3;

impl Store {
    /// Takes the segment's lease for `ttl`, or fails with [`StoreError::LeaseHeld`] naming the
    /// current holder. Taking over an expired lease is allowed; the same holder may re-acquire.
    pub async fn acquire_lease(
        &self,
        segment: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Lease, StoreError> {
        for _ in 0..ACQUIRE_ATTEMPTS {
            let now = SystemTime::now();
            let expires_at = now + ttl;
            let taken = sqlx::query(
                "INSERT INTO leases (segment, holder, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (segment) DO UPDATE SET holder = excluded.holder, \
                 expires_at = excluded.expires_at \
                 WHERE leases.expires_at <= $4 OR leases.holder = excluded.holder \
                 RETURNING holder",
            )
            .bind(segment)
            .bind(holder)
            .bind(to_millis(expires_at))
            .bind(to_millis(now))
            .fetch_optional(&self.pool)
            .await?;
            if taken.is_some() {
                return Ok(Lease {
                    segment: segment.to_owned(),
                    holder: holder.to_owned(),
                    expires_at: from_millis(to_millis(expires_at)),
                });
            }
            let current = sqlx::query("SELECT holder, expires_at FROM leases WHERE segment = $1")
                .bind(segment)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(current) = current {
                return Err(StoreError::LeaseHeld {
                    segment: segment.to_owned(),
                    holder: current.try_get(0)?,
                    expires_at: from_millis(current.try_get(1)?),
                });
            }
            // Released between the two statements: try again.
        }
        Err(StoreError::LeaseLost {
            segment: segment.to_owned(),
        })
    }

    /// Takes the segment's lease from `dead_holder` (a process the caller knows is gone), in one
    /// atomic update that succeeds only while `dead_holder` still holds it, whether or not it
    /// expired. If it no longer does (it was released, or another process took it meanwhile),
    /// this is [`Store::acquire_lease`]: the lease is taken if free, else
    /// [`StoreError::LeaseHeld`] names the holder now.
    pub async fn take_over_lease(
        &self,
        segment: &str,
        dead_holder: &str,
        new_holder: &str,
        ttl: Duration,
    ) -> Result<Lease, StoreError> {
        let expires_at = from_millis(to_millis(SystemTime::now() + ttl));
        let taken = sqlx::query(
            "UPDATE leases SET holder = $3, expires_at = $4 WHERE segment = $1 AND holder = $2",
        )
        .bind(segment)
        .bind(dead_holder)
        .bind(new_holder)
        .bind(to_millis(expires_at))
        .execute(&self.pool)
        .await?;
        if taken.rows_affected() == 0 {
            return self.acquire_lease(segment, new_holder, ttl).await;
        }
        Ok(Lease {
            segment: segment.to_owned(),
            holder: new_holder.to_owned(),
            expires_at,
        })
    }

    /// Extends a held lease to `now + ttl`; [`StoreError::LeaseLost`] if another process took
    /// it (after it expired) or it was released.
    pub async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<Lease, StoreError> {
        let expires_at = from_millis(to_millis(SystemTime::now() + ttl));
        let renewed =
            sqlx::query("UPDATE leases SET expires_at = $3 WHERE segment = $1 AND holder = $2")
                .bind(&lease.segment)
                .bind(&lease.holder)
                .bind(to_millis(expires_at))
                .execute(&self.pool)
                .await?;
        if renewed.rows_affected() == 0 {
            return Err(StoreError::LeaseLost {
                segment: lease.segment.clone(),
            });
        }
        Ok(Lease {
            expires_at,
            ..lease.clone()
        })
    }

    /// Gives the lease up (a no-op if it was already taken over).
    pub async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM leases WHERE segment = $1 AND holder = $2")
            .bind(&lease.segment)
            .bind(&lease.holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
