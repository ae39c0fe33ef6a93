//! `appsecret_proof`: the HMAC that ties each call to the app secret (contract §7).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// `hex(HMAC_SHA256(key = app_secret, msg = access_token))`, or with a time
/// `hex(HMAC_SHA256(app_secret, access_token + "|" + appsecret_time))` (contract §7, SEC).
pub(crate) fn appsecret_proof(
    app_secret: &str,
    access_token: &str,
    appsecret_time: Option<u64>,
) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(access_token.as_bytes());
    if let Some(appsecret_time) = appsecret_time {
        mac.update(b"|");
        mac.update(appsecret_time.to_string().as_bytes());
    }
    const_hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vectors of contract §7.
    #[test]
    fn contract_7_test_vectors() {
        assert_eq!(
            appsecret_proof("app_secret_123", "EAAtoken123", None),
            "fe9e12f5eade8f5c2722789f6dec67ec304378a658316335bb7a42e95af6165e"
        );
        assert_eq!(
            appsecret_proof("app_secret_123", "EAAtoken123", Some(1_700_000_000)),
            "07e4519cbdf2afaa378b5a40a304510669fa9d65ab7058854558953910a26241"
        );
    }
}
