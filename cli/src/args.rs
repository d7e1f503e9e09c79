//! The command line, as clap reads it. Every setting that is not specific to one command is
//! global, so that it may stand before or after the subcommand.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};
use clavis_sdk::{Environment, LeakAction, Status};
use secrecy::SecretString;

const AFTER_HELP: &str = "\
Settings come from flags, then environment variables, then a profile of the configuration
file ($XDG_CONFIG_HOME/clavis/config.toml or ~/.config/clavis/config.toml):

  [default]
  url = \"http://127.0.0.1:3000\"
  tenant = \"demo\"

Quick start against the local gateway (`make run`):

  export CLAVIS_URL=http://127.0.0.1:3000 CLAVIS_TENANT=demo
  export CLAVIS_TOKEN=$(clavis dev-token)
  clavis create \"Inventory sync\" --scope products:read --save-env inventory.env
  clavis list

An http:// URL is refused unless its host is this machine (127.0.0.0/8, ::1, localhost): the
management token, client secrets and access tokens would cross the network in cleartext. Use
https://, or, only on a network you trust, opt in with --allow-insecure-http,
CLAVIS_ALLOW_INSECURE_HTTP=1 or allow_insecure_http = true in the profile.

Exit status: 0 done; 1 the API refused or could not be reached; 2 usage or configuration
error; 3 not carried out (not confirmed, or a file would have been overwritten); 4 a local
file could not be read or written.";

#[derive(Parser)]
#[command(
    name = "clavis",
    version,
    about = "Manage Clavis API credentials and get access tokens",
    long_about = "Manage a tenant's Clavis API credentials (create, rotate, suspend, revoke, …), \
                  read their audit trail, and get access tokens for scripts.",
    after_help = AFTER_HELP,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten, next_help_heading = "Global options")]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the API is, who is asking, and how to answer.
#[derive(Args)]
pub struct Global {
    /// The API's base URL, e.g. https://api.example.com or http://127.0.0.1:3000
    #[arg(long, env = "CLAVIS_URL", global = true, value_name = "URL")]
    pub url: Option<String>,
    /// The tenant whose credentials to manage
    #[arg(long, short = 't', env = "CLAVIS_TENANT", global = true)]
    pub tenant: Option<String>,
    /// A management token from your identity provider (prefer the environment variable: a
    /// flag is visible to other users of this machine)
    #[arg(
        long,
        env = "CLAVIS_TOKEN",
        hide_env_values = true,
        global = true,
        value_parser = secret
    )]
    pub token: Option<SecretString>,
    /// The profile of the configuration file to use [default: default]
    #[arg(long, short = 'p', env = "CLAVIS_PROFILE", global = true)]
    pub profile: Option<String>,
    /// The configuration file [default: ~/.config/clavis/config.toml]
    #[arg(long, env = "CLAVIS_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Allow an http:// URL to a host other than this machine, whose traffic (tokens and
    /// secrets included) anyone on the network path can read; only for a network you trust
    #[arg(
        long,
        env = "CLAVIS_ALLOW_INSECURE_HTTP",
        global = true,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub allow_insecure_http: bool,
    /// Print JSON for scripts instead of tables
    #[arg(long, global = true)]
    pub json: bool,
}

fn secret(text: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(text))
}

#[derive(Subcommand)]
pub enum Command {
    #[command(flatten)]
    Manage(Manage),
    /// Print an access token for an integration's client ID and secret
    #[command(after_help = TOKEN_HELP)]
    Token(TokenArgs),
    /// Print a management token the local gateway (`make run`) accepts
    DevToken(DevTokenArgs),
}

/// The commands of the management API, which need its URL, a tenant and a management token.
#[derive(Subcommand)]
pub enum Manage {
    /// Create a credential; its secret is shown this once
    #[command(after_help = SHOW_ONCE_HELP)]
    Create(CreateArgs),
    /// List the tenant's credentials, newest first
    List(ListArgs),
    /// Show one credential
    Show(Target),
    /// Change a credential's name, description or scopes
    Update(UpdateArgs),
    /// Set or remove a credential's expiry
    #[command(subcommand)]
    Expiry(ExpiryCommand),
    /// Issue a new secret under the same client ID; it is shown this once
    #[command(after_help = SHOW_ONCE_HELP)]
    Rotate(RotateArgs),
    /// Stop a credential getting tokens until it is reactivated
    Suspend(Change),
    /// Let a suspended credential get tokens again
    Reactivate(Change),
    /// Revoke a credential, permanently (asks for confirmation)
    Revoke(RevokeArgs),
    /// Delete a credential (asks for confirmation); the audit trail keeps a record
    Delete(Destroy),
    /// Read the audit trail of the tenant, or of one credential, newest first
    Audit(AuditArgs),
    /// Show or set the tenant's policy: the rules every credential of the tenant follows
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Show a credential's uses and refusals day by day, or the tenant's
    Usage(UsageArgs),
    /// Manage the tenant's webhook endpoints, where Clavis posts its events
    #[command(subcommand, after_help = WEBHOOKS_HELP)]
    Webhooks(WebhooksCommand),
    /// Report a secret found where it should not be; its credential gets the tenant's
    /// leak_action (revoked by default)
    #[command(after_help = REPORT_LEAK_HELP)]
    ReportLeak(ReportLeakArgs),
}

const REPORT_LEAK_HELP: &str = "\
The secret is read from standard input, never from the command line (where shell history
and the process list would keep it):

  pbpaste | clavis report-leak --found-at https://pastebin.example/abc

Only this tenant's secrets are matched. Reporting the same secret again changes nothing.";

#[derive(Args)]
pub struct ReportLeakArgs {
    /// Where the secret was found (http or https; `--url` is the API's address)
    #[arg(long, value_name = "URL")]
    pub found_at: Option<String>,
}

const WEBHOOKS_HELP: &str = "\
Each endpoint is sent the tenant's events (credential.created, credential.revoked,
credential.expiring_soon, credential.leaked, webhook.disabled, …) as Standard Webhooks: verify
the webhook-signature header with the endpoint's signing secret and any Standard Webhooks
library. A delivery not answered with a 2xx within 15 s is tried again after 5 s, 5 min,
30 min, 2 h, 5 h, 10 h and 10 h, then failed; an endpoint whose deliveries have all failed for
5 days, or that answers 410, is disabled.";

#[derive(Subcommand)]
pub enum WebhooksCommand {
    /// List the tenant's webhook endpoints, oldest first
    List,
    /// Show one webhook endpoint
    Show(WebhookTarget),
    /// Add a webhook endpoint; its signing secret is shown this once
    Add(WebhookAddArgs),
    /// Change an endpoint's URL, event types, description, or enable or disable it
    Update(WebhookUpdateArgs),
    /// Delete a webhook endpoint (asks for confirmation)
    Delete(WebhookDeleteArgs),
    /// Issue a new signing secret, shown this once; the old one keeps signing beside it for
    /// 24 hours
    RotateSecret(WebhookTarget),
    /// Send a webhook.test event to this endpoint only
    Test(WebhookTarget),
    /// Show an endpoint's recent deliveries, newest first
    Deliveries(WebhookDeliveriesArgs),
}

/// The webhook endpoint a command is about.
#[derive(Args)]
pub struct WebhookTarget {
    /// The endpoint's ID (wh_…); `clavis webhooks list` shows them
    pub id: String,
}

#[derive(Args)]
pub struct WebhookAddArgs {
    /// Where to post events: an https:// URL (private, loopback and cloud metadata
    /// destinations are refused)
    // Not `url`: that is the global --url's ID, the API's own address.
    #[arg(id = "endpoint_url", value_name = "URL")]
    pub url: String,
    /// Send only this event type (repeat, or separate with commas) [default: every type]
    #[arg(
        long = "event",
        short = 'e',
        value_delimiter = ',',
        value_name = "TYPE"
    )]
    pub events: Vec<String>,
    /// What it is for, in a sentence
    #[arg(long, short = 'd')]
    pub description: Option<String>,
}

#[derive(Args)]
pub struct WebhookUpdateArgs {
    #[command(flatten)]
    pub target: WebhookTarget,
    /// A new URL to post events to (--url is the API's own address)
    #[arg(long = "endpoint", id = "new_endpoint_url", value_name = "URL")]
    pub url: Option<String>,
    #[command(flatten)]
    pub events: EventTypesChange,
    /// A new description ("" removes it)
    #[arg(long, short = 'd')]
    pub description: Option<String>,
    #[command(flatten)]
    pub status: StatusChange,
}

/// New event types, or every type.
#[derive(Args)]
#[group(multiple = false)]
pub struct EventTypesChange {
    /// Send only these event types from now on, replacing the current ones (repeat, or
    /// separate with commas)
    #[arg(
        long = "event",
        short = 'e',
        value_delimiter = ',',
        value_name = "TYPE"
    )]
    pub events: Vec<String>,
    /// Send every event type from now on
    #[arg(long)]
    pub all_events: bool,
}

/// Enable or disable, or neither.
#[derive(Args)]
#[group(multiple = false)]
pub struct StatusChange {
    /// Send it events again (a disabled endpoint's reason is cleared)
    #[arg(long)]
    pub enable: bool,
    /// Stop sending it events until it is enabled again
    #[arg(long)]
    pub disable: bool,
}

#[derive(Args)]
pub struct WebhookDeleteArgs {
    #[command(flatten)]
    pub target: WebhookTarget,
    /// Do not ask for confirmation (needed when stdin is not a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Args)]
pub struct WebhookDeliveriesArgs {
    #[command(flatten)]
    pub target: WebhookTarget,
    /// Show at most this many deliveries
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub limit: usize,
}

#[derive(Args)]
pub struct UsageArgs {
    /// The credential (cid_…) [default: the whole tenant, with its most used credentials]
    pub client_id: Option<String>,
    /// The first UTC day, YYYY-MM-DD [default: 29 days before --to]
    #[arg(long, value_name = "DAY", value_parser = parse_day)]
    pub from: Option<NaiveDate>,
    /// The last UTC day, YYYY-MM-DD [default: today]
    #[arg(long, value_name = "DAY", value_parser = parse_day)]
    pub to: Option<NaiveDate>,
    /// Print CSV (date,uses,refused) instead of a table
    #[arg(long)]
    pub csv: bool,
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Show the tenant's policy
    Get,
    /// Replace the tenant's policy: a rule left out allows everything (credentials that no
    /// longer comply are blocked until fixed, not revoked)
    Set(PolicySetArgs),
}

#[derive(Args)]
pub struct PolicySetArgs {
    /// Every credential expires within this many days (1-366) of when its expiry was set
    #[arg(long, value_name = "DAYS")]
    pub max_lifetime_days: Option<u16>,
    /// Every credential must have an expiry date
    #[arg(long)]
    pub require_expiry: bool,
    /// A rotated-out secret keeps working at most this long (e.g. 0, 30m, 1h, 7d)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_grace: Option<Duration>,
    /// A scope credentials may carry (repeat, or separate with commas) [default: any]
    #[arg(long = "allowed-scope", value_delimiter = ',', value_name = "SCOPE")]
    pub allowed_scopes: Vec<String>,
    /// An environment credentials may be made for: live or test (repeat) [default: both]
    #[arg(long = "allowed-environment", value_delimiter = ',', value_parser = parse_environment, value_name = "ENV")]
    pub allowed_environments: Vec<Environment>,
    /// What happens to a credential whose secret is reported leaked [default: revoke]
    #[arg(long, value_parser = parse_leak_action, value_name = "ACTION")]
    pub leak_action: Option<LeakAction>,
    /// Apply only if the policy is still at this version (`clavis policy get` prints it; 0 for
    /// a tenant that never set one)
    #[arg(long, value_name = "VERSION")]
    pub if_match: Option<u64>,
}

const SHOW_ONCE_HELP: &str = "\
The secret cannot be shown again. With --save-env or --save-json it is written to a new file
that only you can read (mode 0600) instead of the terminal; an existing file is never
overwritten, and nothing is changed on the server if the file cannot be created.";

const TOKEN_HELP: &str = "\
The client ID and secret come from --credentials FILE (a file --save-env or --save-json wrote),
else CLAVIS_CLIENT_ID and CLAVIS_CLIENT_SECRET, else client_id and client_secret in the profile.

  curl -H \"Authorization: Bearer $(clavis token --credentials inventory.env)\" …";

#[derive(Args)]
pub struct CreateArgs {
    /// A name people recognise, e.g. "Inventory sync"
    pub name: String,
    /// A scope it may ask for, as resource:action (repeat, or separate with commas)
    #[arg(
        long = "scope",
        short = 's',
        required = true,
        value_delimiter = ',',
        value_name = "SCOPE"
    )]
    pub scopes: Vec<String>,
    /// What it is for, in a sentence
    #[arg(long, short = 'd')]
    pub description: Option<String>,
    /// Which secrets it gets: live (csk_live_…) or test (csk_test_…) [default: live]
    #[arg(long, value_parser = parse_environment)]
    pub environment: Option<Environment>,
    #[command(flatten)]
    pub expiry: NewExpiry,
    /// Allow at most this many API requests per calendar month (UTC) [default: no quota]
    #[arg(long, value_name = "REQUESTS")]
    pub monthly_quota: Option<u64>,
    #[command(flatten)]
    pub save: SaveArgs,
}

/// When a new credential expires; never, unless one is given.
#[derive(Args)]
#[group(multiple = false)]
pub struct NewExpiry {
    /// Expire this many days from now
    #[arg(long, value_name = "DAYS")]
    pub expires_in_days: Option<i64>,
    /// Expire at this time (RFC 3339, e.g. 2030-01-31T00:00:00Z, or a date, 2030-01-31)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// Where to write a newly issued secret.
#[derive(Args, Clone, Default)]
pub struct SaveArgs {
    /// Write CLAVIS_URL, CLAVIS_CLIENT_ID and CLAVIS_CLIENT_SECRET to this new file (mode 0600)
    #[arg(long, value_name = "FILE")]
    pub save_env: Option<PathBuf>,
    /// Write the client ID and secret as JSON to this new file (mode 0600)
    #[arg(long, value_name = "FILE")]
    pub save_json: Option<PathBuf>,
}

#[derive(Args)]
pub struct ListArgs {
    /// Only credentials with this status: active, suspended, expired or revoked
    #[arg(long, value_parser = parse_status)]
    pub status: Option<Status>,
    /// Only credentials nobody used in the last N days (1-400)
    #[arg(long, value_name = "N")]
    pub unused_for_days: Option<u16>,
    /// Show at most this many [default: all]
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// The credential a command is about.
#[derive(Args)]
pub struct Target {
    /// The credential's client ID (cid_…); `clavis list` shows them
    pub client_id: String,
}

/// A change to one credential, made conditional on its version if asked.
#[derive(Args)]
pub struct Change {
    #[command(flatten)]
    pub target: Target,
    /// Apply only if the credential is still at this version (`clavis show` prints it)
    #[arg(long, value_name = "VERSION")]
    pub if_match: Option<u64>,
}

#[derive(Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub change: Change,
    /// A new name
    #[arg(long)]
    pub name: Option<String>,
    /// A new description
    #[arg(long, short = 'd')]
    pub description: Option<String>,
    /// The new scopes, replacing the old ones (repeat, or separate with commas)
    #[arg(
        long = "scope",
        short = 's',
        value_delimiter = ',',
        value_name = "SCOPE"
    )]
    pub scopes: Vec<String>,
    #[command(flatten)]
    pub quota: QuotaChange,
}

/// A new monthly request quota, or none.
#[derive(Args)]
#[group(multiple = false)]
pub struct QuotaChange {
    /// Allow at most this many API requests per calendar month (UTC)
    #[arg(long, value_name = "REQUESTS")]
    pub monthly_quota: Option<u64>,
    /// Remove the monthly request quota
    #[arg(long)]
    pub no_monthly_quota: bool,
}

#[derive(Subcommand)]
pub enum ExpiryCommand {
    /// Move the expiry (not within 72 hours of the current one)
    Set(ExpirySetArgs),
    /// Remove the expiry: the credential then never expires
    Remove(Change),
}

#[derive(Args)]
pub struct ExpirySetArgs {
    #[command(flatten)]
    pub change: Change,
    #[command(flatten)]
    pub when: When,
}

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct When {
    /// The new expiry (RFC 3339, e.g. 2030-01-31T00:00:00Z, or a date, 2030-01-31)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<DateTime<Utc>>,
    /// The new expiry, this many days from now
    #[arg(long, value_name = "DAYS")]
    pub in_days: Option<i64>,
}

#[derive(Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub change: Change,
    /// Keep the old secret working this long (e.g. 90s, 30m, 1h, 7d; at most 7 days) [default:
    /// it stops at once]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub grace: Option<Duration>,
    /// Also end the access tokens issued before the rotation, at once (after a leak) [default:
    /// they work until they expire]
    #[arg(long)]
    pub end_existing_tokens: bool,
    #[command(flatten)]
    pub save: SaveArgs,
}

/// A change that cannot be undone, confirmed by the person or by `--yes`.
#[derive(Args)]
pub struct Destroy {
    #[command(flatten)]
    pub change: Change,
    /// Do not ask for confirmation (needed when stdin is not a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub destroy: Destroy,
    /// Why, recorded with the revocation
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Args)]
pub struct AuditArgs {
    /// Only this credential's events
    pub client_id: Option<String>,
    /// Show at most this many events
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub limit: usize,
}

#[derive(Args)]
pub struct TokenArgs {
    /// A file written by --save-env or --save-json holding the client ID and secret
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// The client ID (the secret then comes from CLAVIS_CLIENT_SECRET or the profile)
    #[arg(long, env = "CLAVIS_CLIENT_ID")]
    pub client_id: Option<String>,
    /// Ask for these scopes only (space-separated, a subset of the credential's)
    #[arg(long)]
    pub scope: Option<String>,
}

#[derive(Args)]
pub struct DevTokenArgs {
    /// admin, advisor, or any other role (which may manage nothing)
    #[arg(long, default_value = "admin")]
    pub role: String,
    /// Tenants an advisor manages (repeat, or separate with commas)
    #[arg(long, value_delimiter = ',')]
    pub advises: Vec<String>,
    /// Who the token says you are (recorded as the actor of every change)
    #[arg(long, default_value = "dev-admin")]
    pub subject: String,
    /// How long it is valid
    #[arg(long, default_value_t = 12)]
    pub hours: i64,
    /// The local gateway's data directory, where it keeps its development key
    #[arg(long, env = "CLAVIS_DATA_DIR", default_value = ".data")]
    pub data_dir: PathBuf,
}

fn parse_status(text: &str) -> Result<Status, String> {
    text.parse()
}

fn parse_environment(text: &str) -> Result<Environment, String> {
    text.parse()
}

fn parse_day(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a day: use YYYY-MM-DD, e.g. 2026-12-01"))
}

fn parse_leak_action(text: &str) -> Result<LeakAction, String> {
    match text {
        "revoke" => Ok(LeakAction::Revoke),
        "suspend" => Ok(LeakAction::Suspend),
        "notify" => Ok(LeakAction::Notify),
        other => Err(format!("{other:?} is not one of revoke, suspend, notify")),
    }
}

/// RFC 3339, or a bare date meaning its midnight UTC.
fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|midnight| midnight.and_utc())
        .ok_or_else(|| {
            format!(
                "{text:?} is not a time: use RFC 3339 (2030-01-31T12:00:00Z) or a date (2030-01-31)"
            )
        })
}

/// A number with a unit (s, m, h, d), or plain seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid =
        || format!("{text:?} is not a duration: use e.g. 90s, 30m, 1h or 7d (0 for none)");
    let trimmed = text.trim();
    let (digits, unit) = match trimmed.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => trimmed.split_at(at),
        None => (trimmed, "s"),
    };
    let amount: u64 = digits.parse().map_err(|_| invalid())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(invalid()),
    };
    amount
        .checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn cleartext_is_allowed_only_when_asked_for() {
        // Only this test sets or reads CLAVIS_ALLOW_INSECURE_HTTP, and clears it after each
        // parse. SAFETY (set_var, remove_var): the other tests of this crate read the
        // environment only through std, which locks it, never through C's getenv.
        let parse = |args: &[&str]| {
            Cli::try_parse_from(["clavis"].iter().chain(args))
                .map(|cli| cli.global.allow_insecure_http)
        };
        let with_variable = |value: Option<&str>, args: &[&str]| {
            match value {
                Some(value) => unsafe { std::env::set_var("CLAVIS_ALLOW_INSECURE_HTTP", value) },
                None => unsafe { std::env::remove_var("CLAVIS_ALLOW_INSECURE_HTTP") },
            }
            let parsed = parse(args);
            unsafe { std::env::remove_var("CLAVIS_ALLOW_INSECURE_HTTP") };
            parsed
        };
        assert!(!with_variable(None, &["list"]).unwrap());
        assert!(with_variable(None, &["list", "--allow-insecure-http"]).unwrap());
        assert!(with_variable(None, &["--allow-insecure-http", "token"]).unwrap());
        for yes in ["1", "true", "yes", "on"] {
            assert!(with_variable(Some(yes), &["list"]).unwrap(), "{yes}");
        }
        for no in ["0", "false", "no", "off"] {
            assert!(!with_variable(Some(no), &["list"]).unwrap(), "{no}");
        }
        // Anything else is a mistake to point out, not a silent yes or no.
        assert!(with_variable(Some("maybe"), &["list"]).is_err());
        assert!(
            Cli::command()
                .render_long_help()
                .to_string()
                .contains("--allow-insecure-http")
        );
    }

    #[test]
    fn durations_and_times_read_as_people_write_them() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert!(parse_duration("1w").unwrap_err().contains("7d"));
        assert!(parse_duration("h").is_err());
        assert_eq!(
            parse_time("2030-01-31").unwrap().to_rfc3339(),
            "2030-01-31T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("2030-01-31T12:00:00+02:00")
                .unwrap()
                .to_rfc3339(),
            "2030-01-31T10:00:00+00:00"
        );
        assert!(parse_time("tomorrow").unwrap_err().contains("RFC 3339"));
    }
}
