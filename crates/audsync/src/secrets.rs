//! Connector secrets at rest: AES-256-GCM encryption of tokens stored in `audsync.toml`, the
//! secret key (from `AUDSYNC_SECRET_KEY` or a 0600 key file), and `audsync connector add`.
//!
//! # Format
//! `encrypted:v1:<key-id>:<nonce>:<ciphertext>`: the key id is the first 8 hex digits of
//! SHA-256 of the key (so a wrong key is named, not just "decryption failed"), the nonce is 96
//! random bits, nonce and ciphertext (with GCM's 16-byte tag) are unpadded URL-safe base64, and
//! the associated data is `audsync secret v1:<key-id>`. Random nonces are safe far beyond the
//! handful of tokens one key encrypts (crate-choices.md, "encryption of tokens at rest").
//!
//! # Where the key comes from (first found wins)
//! 1. `AUDSYNC_SECRET_KEY`: 64 hex digits, or the base64 of 32 bytes (services, CI);
//! 2. `AUDSYNC_SECRET_KEY_FILE`: the path of a key file;
//! 3. `$XDG_CONFIG_HOME/audsync/secret.key`, else `~/.config/audsync/secret.key`, created with
//!    mode 0600 (folder 0700) by the first `connector add`.
//!
//! The key file lives in the user's configuration folder, not next to `audsync.toml`, because
//! config files get copied, shared and committed: a key beside them would travel with the
//! ciphertext it protects. A key file that other users can read is refused, as ssh does.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, Generate, Key, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};

use crate::config::{self, Environment};

/// The key itself, as 64 hex digits or base64 of 32 bytes.
pub const SECRET_KEY_ENV: &str = "AUDSYNC_SECRET_KEY";
/// The path of a key file, instead of the default one.
pub const SECRET_KEY_FILE_ENV: &str = "AUDSYNC_SECRET_KEY_FILE";
/// What every encrypted value starts with.
pub const ENCRYPTED_PREFIX: &str = "encrypted:v1:";

/// AES-256 key length.
const KEY_LEN: usize = 32;
/// AES-GCM's standard 96-bit nonce.
const NONCE_LEN: usize = 12;
/// GCM's authentication tag, appended to the ciphertext.
const TAG_LEN: usize = 16;

/// The first 4 bytes of SHA-256 of a key, shown as 8 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; 4]);

impl KeyId {
    fn parse(text: &str) -> Option<KeyId> {
        let mut bytes = [0u8; 4];
        (text.len() == 8 && const_hex::decode_to_slice(text, &mut bytes).is_ok())
            .then_some(KeyId(bytes))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&const_hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "KeyId({self})")
    }
}

/// Where a key was read from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    Env,
    File(PathBuf),
}

impl fmt::Display for KeyOrigin {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyOrigin::Env => write!(formatter, "{SECRET_KEY_ENV}"),
            KeyOrigin::File(path) => write!(formatter, "key file {}", path.display()),
        }
    }
}

/// The secret key. Its `Debug` shows only its id and origin.
pub struct SecretKey {
    bytes: SecretBox<[u8; KEY_LEN]>,
    id: KeyId,
    origin: KeyOrigin,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SecretKey")
            .field("id", &self.id)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Why a secret could not be loaded, stored or decrypted. No variant holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Nothing to decrypt with: tell the user where a key is looked for.
    #[error(
        "no secret key found: set {SECRET_KEY_ENV} (or {SECRET_KEY_FILE_ENV}) to the key the \
         token was encrypted with{}",
        default_file.as_ref().map(|path| format!(", or put it in {}", path.display())).unwrap_or_default()
    )]
    NoKey { default_file: Option<PathBuf> },
    /// Another key than the one that encrypted the value.
    #[error(
        "token was encrypted with key {encrypted_with}; the current key is {current} (from \
         {origin}): use the key it was encrypted with, or store the token again with \
         `audsync connector add`"
    )]
    WrongKey {
        encrypted_with: KeyId,
        current: KeyId,
        origin: KeyOrigin,
    },
    /// The right key, but the value does not authenticate.
    #[error(
        "the encrypted token was altered or truncated (it does not authenticate with key {key_id})"
    )]
    Tampered { key_id: KeyId },
    /// Not in the `encrypted:v1:…` shape.
    #[error("malformed encrypted value: {0}")]
    Malformed(&'static str),
    /// The key text is not a key.
    #[error("{origin} does not hold a key: expected 64 hex digits or the base64 of 32 bytes")]
    BadKey { origin: KeyOrigin },
    /// A key file others can read.
    #[error(
        "key file {} can be read by other users (mode {mode:o}); run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    KeyFileTooOpen { path: PathBuf, mode: u32 },
    /// The key file could not be read or created.
    #[error("cannot {action} key file {}", path.display())]
    KeyFile {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SecretKey {
    /// Reads a key given as 64 hex digits or as the base64 (padded or not) of 32 bytes.
    pub fn parse(text: &str, origin: KeyOrigin) -> Result<SecretKey, SecretError> {
        let text = text.trim();
        let bytes: Option<[u8; KEY_LEN]> = if text.len() == 2 * KEY_LEN {
            let mut bytes = [0u8; KEY_LEN];
            const_hex::decode_to_slice(text, &mut bytes)
                .ok()
                .map(|()| bytes)
        } else {
            STANDARD
                .decode(text)
                .or_else(|_| STANDARD_NO_PAD.decode(text))
                .or_else(|_| URL_SAFE_NO_PAD.decode(text))
                .ok()
                .and_then(|decoded| decoded.try_into().ok())
        };
        let Some(bytes) = bytes else {
            return Err(SecretError::BadKey { origin });
        };
        Ok(SecretKey::from_bytes(bytes, origin))
    }

    fn from_bytes(bytes: [u8; KEY_LEN], origin: KeyOrigin) -> SecretKey {
        let digest = Sha256::digest(bytes);
        let mut id = [0u8; 4];
        id.copy_from_slice(&digest[..4]);
        SecretKey {
            bytes: SecretBox::new(Box::new(bytes)),
            id: KeyId(id),
            origin,
        }
    }

    /// The default key file: `$XDG_CONFIG_HOME/audsync/secret.key` or
    /// `~/.config/audsync/secret.key`.
    pub fn default_key_file(env: &Environment) -> Option<PathBuf> {
        env.config_home()
            .map(|config_home| config_home.join("audsync").join("secret.key"))
    }

    /// The key file in use: `AUDSYNC_SECRET_KEY_FILE`, else the default one.
    fn key_file(env: &Environment) -> Option<PathBuf> {
        env.var(SECRET_KEY_FILE_ENV)
            .filter(|path| !path.is_empty())
            .map(PathBuf::from)
            .or_else(|| SecretKey::default_key_file(env))
    }

    /// Finds the key (see the module doc for the order); `None` when there is none. Never
    /// creates one.
    pub fn find(env: &Environment) -> Result<Option<SecretKey>, SecretError> {
        if let Some(text) = env
            .var(SECRET_KEY_ENV)
            .filter(|text| !text.trim().is_empty())
        {
            return SecretKey::parse(&text, KeyOrigin::Env).map(Some);
        }
        let Some(path) = SecretKey::key_file(env) else {
            return Ok(None);
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                check_key_file_mode(&path)?;
                SecretKey::parse(&text, KeyOrigin::File(path)).map(Some)
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SecretError::KeyFile {
                action: "read",
                path,
                source,
            }),
        }
    }

    /// Like [`SecretKey::find`], but creates a random key in the key file (mode 0600) when
    /// there is none. Returns the key and, when it was just created, its path.
    pub fn find_or_create(env: &Environment) -> Result<(SecretKey, Option<PathBuf>), SecretError> {
        if let Some(key) = SecretKey::find(env)? {
            return Ok((key, None));
        }
        let Some(path) = SecretKey::key_file(env) else {
            return Err(SecretError::NoKey { default_file: None });
        };
        let bytes: [u8; KEY_LEN] = Key::<Aes256Gcm>::generate().into();
        match create_key_file(&path, &bytes) {
            Ok(()) => Ok((
                SecretKey::from_bytes(bytes, KeyOrigin::File(path.clone())),
                Some(path),
            )),
            // Another process created it first: use theirs.
            Err(SecretError::KeyFile { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                let key = SecretKey::find(env)?.ok_or(SecretError::NoKey {
                    default_file: Some(path),
                })?;
                Ok((key, None))
            }
            Err(error) => Err(error),
        }
    }

    pub fn id(&self) -> KeyId {
        self.id
    }

    pub fn origin(&self) -> &KeyOrigin {
        &self.origin
    }

    /// Encrypts a secret into `encrypted:v1:<key-id>:<nonce>:<ciphertext>`.
    pub fn encrypt(&self, plaintext: &SecretString) -> String {
        let cipher = Aes256Gcm::new(&(*self.bytes.expose_secret()).into());
        let nonce = Nonce::generate();
        let aad = associated_data(self.id);
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.expose_secret().as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            // AES-GCM fails only on inputs longer than 64 GiB.
            .unwrap_or_default();
        format!(
            "{ENCRYPTED_PREFIX}{}:{}:{}",
            self.id,
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(ciphertext)
        )
    }

    /// Decrypts a value written by [`SecretKey::encrypt`].
    pub fn decrypt(&self, stored: &str) -> Result<SecretString, SecretError> {
        let parts = EncryptedParts::parse(stored)?;
        if parts.key_id != self.id {
            return Err(SecretError::WrongKey {
                encrypted_with: parts.key_id,
                current: self.id,
                origin: self.origin.clone(),
            });
        }
        let cipher = Aes256Gcm::new(&(*self.bytes.expose_secret()).into());
        let aad = associated_data(self.id);
        let plaintext = cipher
            .decrypt(
                &Nonce::from(parts.nonce),
                Payload {
                    msg: &parts.ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Tampered { key_id: self.id })?;
        let plaintext =
            String::from_utf8(plaintext).map_err(|_| SecretError::Tampered { key_id: self.id })?;
        Ok(SecretString::from(plaintext))
    }
}

/// Whether a config value is an encrypted secret (rather than `${VAR}`).
pub fn is_encrypted(value: &str) -> bool {
    value.starts_with("encrypted:")
}

/// The id of the key a value was encrypted with, read without any key.
pub fn encrypted_key_id(stored: &str) -> Result<KeyId, SecretError> {
    EncryptedParts::parse(stored).map(|parts| parts.key_id)
}

struct EncryptedParts {
    key_id: KeyId,
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

impl EncryptedParts {
    fn parse(stored: &str) -> Result<EncryptedParts, SecretError> {
        let rest = stored
            .strip_prefix(ENCRYPTED_PREFIX)
            .ok_or(SecretError::Malformed(
                "expected encrypted:v1:<key-id>:<nonce>:<ciphertext> (an unknown version?)",
            ))?;
        let mut fields = rest.split(':');
        let (Some(key_id), Some(nonce), Some(ciphertext), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(SecretError::Malformed(
                "expected encrypted:v1:<key-id>:<nonce>:<ciphertext>",
            ));
        };
        let key_id =
            KeyId::parse(key_id).ok_or(SecretError::Malformed("the key id is not 8 hex digits"))?;
        let nonce: [u8; NONCE_LEN] = URL_SAFE_NO_PAD
            .decode(nonce)
            .ok()
            .and_then(|nonce| nonce.try_into().ok())
            .ok_or(SecretError::Malformed(
                "the nonce is not 12 bytes of base64",
            ))?;
        let ciphertext = URL_SAFE_NO_PAD
            .decode(ciphertext)
            .map_err(|_| SecretError::Malformed("the ciphertext is not base64"))?;
        if ciphertext.len() < TAG_LEN {
            return Err(SecretError::Malformed(
                "the ciphertext is shorter than its tag",
            ));
        }
        Ok(EncryptedParts {
            key_id,
            nonce,
            ciphertext,
        })
    }
}

fn associated_data(key_id: KeyId) -> String {
    format!("audsync secret v1:{key_id}")
}

#[cfg(unix)]
fn check_key_file_mode(path: &Path) -> Result<(), SecretError> {
    use std::os::unix::fs::PermissionsExt as _;
    let metadata = std::fs::metadata(path).map_err(|source| SecretError::KeyFile {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretError::KeyFileTooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_key_file_mode(_path: &Path) -> Result<(), SecretError> {
    Ok(())
}

/// Writes a new key file with mode 0600 (its folder 0700), failing if it exists.
fn create_key_file(path: &Path, bytes: &[u8; KEY_LEN]) -> Result<(), SecretError> {
    let io_error = |action: &'static str| {
        move |source| SecretError::KeyFile {
            action,
            path: path.to_owned(),
            source,
        }
    };
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(parent)
            .map_err(io_error("create the folder of"))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io_error("create"))?;
    let mut text = const_hex::encode(bytes);
    text.push('\n');
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error("write"))
}

/// What `audsync connector add` stores.
#[derive(Debug)]
pub struct NewConnector {
    pub name: String,
    /// With or without `act_`; written as `act_<digits>`.
    pub ad_account_id: String,
    /// Encrypted before it is written.
    pub access_token: SecretString,
    pub app_id: Option<String>,
    /// Encrypted before it is written.
    pub app_secret: Option<SecretString>,
    pub graph_url: Option<String>,
    pub api_version: Option<String>,
    pub access_tier: Option<String>,
}

/// What `add_connector` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorAdded {
    /// A new `[[connector]]` block (false: an existing one was updated).
    pub created: bool,
    /// The key the token was encrypted with.
    pub key_id: KeyId,
    /// The key file, when this call created it (tell the user to back it up).
    pub key_file_created: Option<PathBuf>,
}

/// `audsync connector add`: encrypts the token (and app secret) and writes the connector into
/// the config file, adding a `[[connector]]` block or updating the one with this name, keeping
/// the rest of the file (comments included) as it was. Creates the file if it is missing, and
/// the key file if there is no key. The file is replaced atomically (temporary file + rename).
pub fn add_connector(
    config_path: &Path,
    connector: &NewConnector,
    env: &Environment,
) -> anyhow::Result<ConnectorAdded> {
    let mut problems = Vec::new();
    config::check_name(&connector.name, "name", &mut problems);
    let ad_account_digits =
        config::parse_ad_account_id(&connector.ad_account_id, "ad_account_id", &mut problems);
    if connector.access_token.expose_secret().trim().is_empty() {
        problems.push("access token: empty".to_owned());
    }
    if let Some(api_version) = &connector.api_version {
        config::check_api_version(api_version, "api_version", &mut problems);
    }
    if let Some(graph_url) = &connector.graph_url {
        config::parse_graph_url(graph_url, "graph_url", &mut problems);
    }
    if let Some(access_tier) = &connector.access_tier {
        config::parse_access_tier(access_tier, "access_tier", &mut problems);
    }
    let (true, Some(ad_account_digits)) = (problems.is_empty(), ad_account_digits) else {
        anyhow::bail!(
            "cannot add connector {:?}:\n  - {}",
            connector.name,
            problems.join("\n  - ")
        );
    };

    let text = match std::fs::read_to_string(config_path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read {}", config_path.display()));
        }
    };
    let mut document: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", config_path.display()))?;
    let (key, key_file_created) = SecretKey::find_or_create(env)?;

    let connectors = document
        .entry("connector")
        .or_insert_with(|| toml_edit::Item::ArrayOfTables(toml_edit::ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .with_context(|| {
            format!(
                "{}: `connector` is not a list of [[connector]] tables",
                config_path.display()
            )
        })?;
    let existing = connectors.iter().position(|table| {
        table.get("name").and_then(|name| name.as_str()) == Some(&connector.name)
    });
    let created = existing.is_none();
    let table = match existing {
        Some(position) => connectors
            .get_mut(position)
            .context("the connector table disappeared")?,
        None => {
            let mut table = toml_edit::Table::new();
            table.insert("name", toml_edit::value(connector.name.as_str()));
            connectors.push(table);
            let last = connectors.len() - 1;
            connectors
                .get_mut(last)
                .context("the new connector table is missing")?
        }
    };
    table.insert(
        "ad_account_id",
        toml_edit::value(format!("act_{ad_account_digits}")),
    );
    table.insert(
        "access_token",
        toml_edit::value(key.encrypt(&connector.access_token)),
    );
    if let Some(app_id) = &connector.app_id {
        table.insert("app_id", toml_edit::value(app_id.as_str()));
    }
    if let Some(app_secret) = &connector.app_secret {
        table.insert("app_secret", toml_edit::value(key.encrypt(app_secret)));
    }
    for (name, value) in [
        ("graph_url", &connector.graph_url),
        ("api_version", &connector.api_version),
        ("access_tier", &connector.access_tier),
    ] {
        if let Some(value) = value {
            table.insert(name, toml_edit::value(value.as_str()));
        }
    }
    write_atomically(config_path, document.to_string().as_bytes())?;
    Ok(ConnectorAdded {
        created,
        key_id: key.id(),
        key_file_created,
    })
}

/// Replaces `path` with `contents` through a temporary file in the same folder, keeping the
/// old file's permissions.
fn write_atomically(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let temporary = folder.join(format!(
        ".{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temporary)?;
        if let Ok(metadata) = std::fs::metadata(path) {
            file.set_permissions(metadata.permissions())?;
        }
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    };
    write().map_err(|error| {
        let _ = std::fs::remove_file(&temporary);
        anyhow::Error::new(error).context(format!("cannot write {}", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_bytes([byte; KEY_LEN], KeyOrigin::Env)
    }

    #[test]
    fn a_token_round_trips_and_each_encryption_differs() {
        let key = key(7);
        let token = SecretString::from("EAAtoken123");
        let first = key.encrypt(&token);
        let second = key.encrypt(&token);
        assert!(first.starts_with(&format!("{ENCRYPTED_PREFIX}{}:", key.id())));
        assert_ne!(first, second, "nonces must differ");
        assert!(!first.contains("EAAtoken123"));
        assert_eq!(key.decrypt(&first).unwrap().expose_secret(), "EAAtoken123");
        assert_eq!(encrypted_key_id(&second).unwrap(), key.id());
    }

    #[test]
    fn a_wrong_key_is_named_with_both_ids() {
        let encrypted = key(1).encrypt(&SecretString::from("t"));
        let error = key(2).decrypt(&encrypted).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "token was encrypted with key {}; the current key is {}",
                key(1).id(),
                key(2).id()
            )),
            "{message}"
        );
    }

    #[test]
    fn tampered_or_malformed_values_are_refused() {
        let key = key(3);
        let encrypted = key.encrypt(&SecretString::from("EAAtoken123"));
        let (head, ciphertext) = encrypted.rsplit_once(':').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(ciphertext).unwrap();
        bytes[0] ^= 1;
        let tampered = format!("{head}:{}", URL_SAFE_NO_PAD.encode(&bytes));
        assert!(matches!(
            key.decrypt(&tampered),
            Err(SecretError::Tampered { .. })
        ));
        let truncated = &encrypted[..encrypted.len() - 4];
        assert!(matches!(
            key.decrypt(truncated),
            Err(SecretError::Tampered { .. } | SecretError::Malformed(_))
        ));
        for malformed in [
            "encrypted:v2:00000000:aaaa:bbbb",
            "encrypted:v1:zz:aaaa:bbbb",
            "encrypted:v1:00000000:aaaa",
            "encrypted:v1:00000000:AAAAAAAAAAAAAAAA:x:y",
        ] {
            assert!(
                matches!(key.decrypt(malformed), Err(SecretError::Malformed(_))),
                "{malformed}"
            );
        }
    }

    #[test]
    fn keys_parse_from_hex_or_base64_and_nothing_else() {
        let hex = "11".repeat(32);
        let base64 = STANDARD.encode([0x11u8; 32]);
        let from_hex = SecretKey::parse(&hex, KeyOrigin::Env).unwrap();
        let from_base64 = SecretKey::parse(&base64, KeyOrigin::Env).unwrap();
        assert_eq!(from_hex.id(), from_base64.id());
        assert_eq!(
            SecretKey::parse(base64.trim_end_matches('='), KeyOrigin::Env)
                .unwrap()
                .id(),
            from_hex.id()
        );
        for bad in ["", "abcd", &"1".repeat(63), &STANDARD.encode([1u8; 16])] {
            assert!(SecretKey::parse(bad, KeyOrigin::Env).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_shows_only_the_key_id() {
        let key = key(9);
        let debug = format!("{key:?}");
        assert!(debug.contains(&key.id().to_string()));
        assert!(
            !debug.contains("09, 9") && !debug.contains(&"09".repeat(4)),
            "{debug}"
        );
    }
}
