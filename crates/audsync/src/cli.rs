//! The command line: subcommands and their flags (clap derive). Parsing only; `main.rs`
//! dispatches each subcommand to one function.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Keeps Meta Custom Audiences equal to customer segments.
#[derive(Debug, Parser)]
#[command(name = "audsync", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Normalize and hash a customer file into Meta's match keys (CSV out), offline.
    Hash(HashArgs),
    /// Run the main job on a bundled segment against a sandbox Meta: check, sync, change, sync
    /// again, status (seconds long; leaves nothing behind).
    Demo(DemoArgs),
    /// Run the local Graph API emulator (a sandbox Meta) until Ctrl-C.
    Emulator(EmulatorArgs),
    /// Write a commented example configuration file.
    Init(InitArgs),
    /// Manage connectors (a Meta ad account and its access token).
    #[command(subcommand)]
    Connector(ConnectorCommand),
    /// Check that a connector can sync: token, permissions, ad account, terms, limits.
    Check(CheckArgs),
    /// Show each segment's audience: members, last run, size and status at Meta.
    Status(StatusArgs),
    /// Show what `sync SEGMENT` would change, sending nothing (a dry run).
    Plan(SyncArgs),
    /// Make the segment's Meta audience equal to the segment: adds, removes, or --replace.
    Sync(SyncArgs),
}

/// Where the configuration file is (`--config`, or `AUDSYNC_CONFIG`).
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The configuration file.
    #[arg(
        long,
        short = 'c',
        value_name = "PATH",
        env = "AUDSYNC_CONFIG",
        default_value = "audsync.toml"
    )]
    pub config: PathBuf,
}

/// `audsync emulator`: serves the Graph API emulator and prints its URL and credentials.
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on; port 0 picks a free port (the real one is printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4010")]
    pub listen: std::net::SocketAddr,

    /// An ad account to serve (`act_123` or `123`), active with accepted terms. The first
    /// replaces the default account; repeat to add more.
    #[arg(long = "ad-account", value_name = "act_ID")]
    pub ad_accounts: Vec<String>,

    /// An access token to accept (a never-expiring system-user token with admin rights on
    /// every account). The first replaces the default token; repeat to add more.
    #[arg(long = "token", value_name = "TOKEN")]
    pub tokens: Vec<String>,

    /// A scenario to start with: a built-in name (tos-not-accepted, expired-token,
    /// revoked-token, no-ads-management, not-admin, disabled-account, flagged-audience,
    /// throttled, flaky, slow, transient-burst, flaky-and-throttled) or a .toml file. Repeat to
    /// stack them.
    #[arg(long = "scenario", value_name = "NAME")]
    pub scenarios: Vec<String>,

    /// Keep audiences and members in this JSON file (loaded at start, written after every
    /// change) instead of in memory.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
}

/// `audsync demo`: the main job on the bundled example segment, against the emulator.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the temporary folder (configuration, state store, segment file, the emulator's
    /// state) and print where it is.
    #[arg(long)]
    pub keep: bool,
}

/// `audsync init`: writes the commented example configuration.
#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub config: ConfigArg,

    /// Overwrite the file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `audsync connector ...`.
#[derive(Debug, Subcommand)]
pub enum ConnectorCommand {
    /// Add a connector to the configuration, storing its access token encrypted, then check it.
    Add(ConnectorAddArgs),
}

/// `audsync connector add NAME`.
#[derive(Debug, Args)]
pub struct ConnectorAddArgs {
    /// The connector's name (segments refer to it).
    pub name: String,

    /// The Meta ad account id, with or without `act_` (Business Settings → Accounts → Ad
    /// accounts).
    #[arg(long, value_name = "ID")]
    pub ad_account_id: String,

    /// The environment variable holding the access token to store (encrypted) in the
    /// configuration. The token is never taken on the command line, where it would stay in
    /// the shell history.
    #[arg(long, value_name = "VAR")]
    pub access_token_env: String,

    /// The Meta app id (lets `check` inspect the token's expiry with the app token).
    #[arg(long, value_name = "ID")]
    pub app_id: Option<String>,

    /// The environment variable holding the app secret (stored encrypted; signs every call
    /// with appsecret_proof).
    #[arg(long, value_name = "VAR")]
    pub app_secret_env: Option<String>,

    /// The Graph API base URL [default: https://graph.facebook.com]; the emulator's URL for a
    /// sandbox.
    #[arg(long, value_name = "URL")]
    pub graph_url: Option<String>,

    #[command(flatten)]
    pub config: ConfigArg,
}

/// `audsync check [CONNECTOR]`.
#[derive(Debug, Args)]
#[command(after_long_help = CHECK_AFTER_HELP)]
pub struct CheckArgs {
    /// The connector to check [default: every connector].
    pub connector: Option<String>,

    #[command(flatten)]
    pub config: ConfigArg,
}

const CHECK_AFTER_HELP: &str = "\
Checks, each printed as pass, warn, fail (or skip when an earlier failure prevents it), with
what to do: access token valid (and when it expires), ads_management granted, ad account found
and active, admin (MANAGE) rights on it, Custom Audience terms accepted, ad account owned by a
business, fewer than 500 customer-file audiences.

Exit status: 0 when nothing failed (warnings allowed); 1 when a check failed; 2 on a usage or
configuration error.";

/// `audsync status [SEGMENT]`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The segment to show [default: every segment].
    pub segment: Option<String>,

    /// Do not call Meta; show only what the state store holds.
    #[arg(long)]
    pub offline: bool,

    #[command(flatten)]
    pub config: ConfigArg,
}

/// `audsync hash`: reads a CSV or JSON Lines customer file, writes one row of match keys per
/// user in Meta's schema order, and the rows it rejected, with reasons, to a separate file.
#[derive(Debug, Args)]
#[command(after_long_help = HASH_AFTER_HELP)]
pub struct HashArgs {
    /// The customer file: CSV (delimiter sniffed among , ; tab |) or JSON Lines (.jsonl,
    /// .ndjson); `-` reads stdin.
    pub file: PathBuf,

    /// Map a column (or JSON key) to a key: EXTERN_ID, EMAIL, PHONE, GEN, DOBY, DOBM, DOBD, LN,
    /// FN, FI, CT, ST, ZIP, COUNTRY, MADID, LOOKALIKE_VALUE, DOB (a full date) or CONSENT.
    /// Repeat for each column. Without any, columns are mapped from their names.
    #[arg(long = "map", value_name = "COLUMN=KEY", value_parser = parse_map_pair)]
    pub map: Vec<(String, String)>,

    /// Country assumed for users without a COUNTRY (ISO code or name, e.g. `us`, `FR`):
    /// region of national phone numbers, ZIP rules, date order.
    #[arg(long, value_name = "CC")]
    pub default_country: Option<String>,

    /// How to read ambiguous dates like 02/08/1956 [default: month first for US users, day
    /// first for others].
    #[arg(long, value_enum, value_name = "ORDER")]
    pub date_order: Option<DateOrderArg>,

    /// Letters kept in FN and LN: `unicode` (any script, as Meta's docs ask) or `ascii`
    /// (transliterated, `José` → `jose`).
    #[arg(long, value_enum, default_value_t = NamesArg::Unicode)]
    pub names: NamesArg,

    /// `hashed` writes what Meta receives; `normalized` writes the values before hashing
    /// (personal data: for checking a mapping, never for upload).
    #[arg(long, value_enum, default_value_t = EmitArg::Hashed)]
    pub emit: EmitArg,

    /// Where to write the members CSV [default: stdout].
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Where to write rejected rows as CSV `line,user_id,reason` (no other values).
    #[arg(long, value_name = "PATH")]
    pub rejects: Option<PathBuf>,

    /// Input format [default: from the extension; CSV for stdin].
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,

    /// Column giving each row's user id [default: the column mapped to EXTERN_ID]. A row
    /// whose user id is empty is rejected ("no user id").
    #[arg(long, value_name = "NAME")]
    pub user_id_column: Option<String>,

    /// Eligibility rule: which keys make a user matchable [default: EMAIL | PHONE | MADID |
    /// (FN & LN & (ZIP | CT | DOBY))].
    #[arg(long, value_name = "EXPR")]
    pub rule: Option<String>,

    /// Worker threads for normalizing and hashing [default: the number of cores].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
}

const HASH_AFTER_HELP: &str = "\
Automatic mapping (no --map): column names are compared ignoring case, spaces, dashes, dots and
underscores: email, e-mail, email_address → EMAIL; phone, mobile, phone_number, tel → PHONE;
first_name, firstname, given_name → FN; last_name, lastname, surname → LN; city → CT;
state, region, province → ST; zip, zipcode, postal_code, postcode → ZIP; country,
country_code → COUNTRY; dob, birth_date, birthday, date_of_birth → DOB (fills DOBY, DOBM,
DOBD); birth_year / birth_month / birth_day → DOBY / DOBM / DOBD; gender, sex → GEN; madid,
idfa, gaid → MADID; user_id, id, external_id, customer_id → EXTERN_ID; consent, opt_in →
CONSENT. The mapping used is printed on stderr.

Output: CSV with header user_id,<KEY>,... for the keys the mapping fills, in Meta's schema
order (DOB gives DOBY,DOBM,DOBD; FN also gives FI). Hashed keys are 64 lowercase hex digits;
EXTERN_ID and MADID are not hashed; an absent value is an empty cell. Rows come out in input
order.

Rejects: users that do not carry enough to match (e.g. only a ZIP), that did not consent, that
have no user id, and rows that cannot be read (wrong column count, invalid UTF-8, unterminated
quote, field over 64 KiB, JSON line that is not an object) go to --rejects as
line,user_id,reason; a summary with counts goes to stderr.

Exit status: 0 when the file was processed (even with rejects); 2 on a usage or I/O error
(unreadable file, unknown key in --map, bad flag).";

/// `audsync plan SEGMENT` and `audsync sync SEGMENT`.
#[derive(Debug, Args)]
#[command(after_long_help = SYNC_AFTER_HELP)]
pub struct SyncArgs {
    /// The segments (their `name` in the configuration), one after the other.
    #[arg(required_unless_present = "all", value_name = "SEGMENT")]
    pub segments: Vec<String>,

    /// Every segment of the configuration, in its order.
    #[arg(long, conflicts_with = "segments")]
    pub all: bool,

    /// Print each report as one line of JSON (the stored run record) instead of text.
    #[arg(long)]
    pub json: bool,

    /// Upload the whole segment in one `/usersreplace` session instead of adds and removes
    /// (needed once after a mapping change; Meta then swaps the audience's members).
    #[arg(long)]
    pub replace: bool,

    /// No progress on stderr (the report is still printed).
    #[arg(long, short = 'q')]
    pub quiet: bool,

    #[command(flatten)]
    pub config: ConfigArg,
}

const SYNC_AFTER_HELP: &str = "\
A sync reads the segment's source, normalizes and hashes it, compares it with what was sent
before (the state store), then removes the users who left or changed and adds the new and
changed ones, in batches of up to 10,000, each committed to the store only after Meta accepted
it. A crash loses nothing: the next run sends what is pending. `plan` prints the same counts
and sends nothing.

Exit status: 0 when the run succeeded (or the plan was made); 1 when Meta stopped the run (the
report says why and what to do); 3 when some changes were refused or held back and stay
pending; 2 on a usage, configuration or I/O error, or when another process is syncing the
segment. With several segments (or --all) they run one after the other, each even if another
failed, and the exit status is the gravest: 2, then 1, then 3, else 0.

Scripts and monitoring: --json prints each report as one line of JSON, the run record that
`audsync status` reads (counts by name, outcome, problem and fix, warnings).";

/// `--date-order` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DateOrderArg {
    Dmy,
    Mdy,
    Ymd,
}

/// `--names` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum NamesArg {
    Unicode,
    Ascii,
}

/// `--emit` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EmitArg {
    Hashed,
    Normalized,
}

/// `--format` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Csv,
    Jsonl,
}

/// Splits `COLUMN=KEY` at its last `=` (column names may contain `=`, keys never do).
fn parse_map_pair(text: &str) -> Result<(String, String), String> {
    match text.rsplit_once('=') {
        Some((column, key)) if !column.is_empty() && !key.trim().is_empty() => {
            Ok((column.to_string(), key.trim().to_string()))
        }
        _ => Err(format!("expected COLUMN=KEY, got {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn map_pairs_split_at_the_last_equals_sign() {
        assert_eq!(
            parse_map_pair("e-mail=EMAIL"),
            Ok(("e-mail".to_string(), "EMAIL".to_string()))
        );
        assert_eq!(
            parse_map_pair("a=b=PHONE"),
            Ok(("a=b".to_string(), "PHONE".to_string()))
        );
        assert!(parse_map_pair("email").is_err());
        assert!(parse_map_pair("=EMAIL").is_err());
        assert!(parse_map_pair("email=").is_err());
    }
}
