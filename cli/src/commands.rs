//! Each command as one call of the SDK; what it prints is `output`'s business.

use std::future::Future;
use std::io::{BufRead, IsTerminal, Write};

use clavis_sdk::{
    Client, ClientCredentials, CredentialRef, CredentialUpdate, IfMatch, IssuedSecret, ListOptions,
    NewCredential, NewWebhook, Pager, PolicyRules, Tenant, TokenSource, WebhookPatch,
};
use serde::de::DeserializeOwned;

use crate::args::{
    Change, Cli, Command, Destroy, ExpiryCommand, Manage, PolicyCommand, PolicySetArgs, SaveArgs,
    TokenArgs, WebhookUpdateArgs, WebhooksCommand,
};
use crate::config::Settings;
use crate::dev_token;
use crate::error::{CliError, Context};
use crate::output::Outcome;
use crate::secret_file::{self, Reserved};

/// A failed command, with what it was about (for the hint).
pub struct Failure {
    pub error: CliError,
    pub context: Context,
}

pub async fn run(cli: Cli) -> Result<(), Failure> {
    let Cli { global, command } = cli;
    let mut context = Context {
        client_id: command.client_id().map(str::to_owned),
        webhook_id: command.webhook_id().map(str::to_owned),
        ..Context::default()
    };
    let settings = match Settings::resolve(&global) {
        Ok(settings) => settings,
        Err(error) => return Err(Failure { error, context }),
    };
    context.url = settings.url.clone();
    context.tenant = settings.tenant.clone();
    match execute(command, &settings, global.json).await {
        Ok(outcome) => {
            outcome.print(global.json);
            Ok(())
        }
        Err(error) => Err(Failure { error, context }),
    }
}

impl Command {
    fn client_id(&self) -> Option<&str> {
        let Command::Manage(command) = self else {
            return None;
        };
        let change = match command {
            Manage::Show(target) => return Some(&target.client_id),
            Manage::Audit(args) => return args.client_id.as_deref(),
            Manage::Usage(args) => return args.client_id.as_deref(),
            Manage::Create(_)
            | Manage::List(_)
            | Manage::Policy(_)
            | Manage::Webhooks(_)
            | Manage::ReportLeak(_) => {
                return None;
            }
            Manage::Update(args) => &args.change,
            Manage::Expiry(ExpiryCommand::Set(args)) => &args.change,
            Manage::Expiry(ExpiryCommand::Remove(change))
            | Manage::Suspend(change)
            | Manage::Reactivate(change) => change,
            Manage::Rotate(args) => &args.change,
            Manage::Revoke(args) => &args.destroy.change,
            Manage::Delete(destroy) => &destroy.change,
        };
        Some(&change.target.client_id)
    }

    fn webhook_id(&self) -> Option<&str> {
        let Command::Manage(Manage::Webhooks(command)) = self else {
            return None;
        };
        let target = match command {
            WebhooksCommand::List | WebhooksCommand::Add(_) => return None,
            WebhooksCommand::Show(target)
            | WebhooksCommand::RotateSecret(target)
            | WebhooksCommand::Test(target) => target,
            WebhooksCommand::Update(args) => &args.target,
            WebhooksCommand::Delete(args) => &args.target,
            WebhooksCommand::Deliveries(args) => &args.target,
        };
        Some(&target.id)
    }
}

async fn execute(command: Command, settings: &Settings, json: bool) -> Result<Outcome, CliError> {
    match command {
        Command::Manage(command) => manage(command, settings, json).await,
        Command::Token(args) => token(&args, settings).await,
        Command::DevToken(args) => {
            dev_token::mint(&args, settings.tenant.as_deref()).map(Outcome::DevToken)
        }
    }
}

async fn manage(command: Manage, settings: &Settings, json: bool) -> Result<Outcome, CliError> {
    let tenant = management(settings)?;
    let url = settings.url()?;
    Ok(match command {
        Manage::Create(args) => {
            let mut request = NewCredential::new(args.name, args.scopes);
            if let Some(description) = args.description {
                request = request.description(description);
            }
            if let Some(environment) = args.environment {
                request = request.environment(environment);
            }
            if let Some(days) = args.expiry.expires_in_days {
                request = request.expires_in_days(days);
            }
            if let Some(at) = args.expiry.expires_at {
                request = request.expires_at(at);
            }
            if let Some(requests) = args.monthly_quota {
                request = request.monthly_request_quota(requests);
            }
            issue(&args.save, url, json, true, tenant.create(&request)).await?
        }
        Manage::List(args) => {
            let mut options = ListOptions::new();
            if let Some(status) = args.status {
                options = options.status(status);
            }
            if let Some(limit) = args.limit {
                options = options.page_size(page_size(limit));
            }
            if let Some(days) = args.unused_for_days {
                options = options.unused_for_days(days);
            }
            Outcome::Credentials(take(tenant.list(options), args.limit).await?)
        }
        Manage::Show(target) => Outcome::Credential {
            credential: tenant.credential(target.client_id).get().await?,
            done: None,
        },
        Manage::Update(args) => {
            let mut update = CredentialUpdate::new();
            if let Some(name) = args.name {
                update = update.name(name);
            }
            if let Some(description) = args.description {
                update = update.description(description);
            }
            if !args.scopes.is_empty() {
                update = update.scopes(args.scopes);
            }
            if let Some(requests) = args.quota.monthly_quota {
                update = update.monthly_request_quota(Some(requests));
            }
            if args.quota.no_monthly_quota {
                update = update.monthly_request_quota(None);
            }
            if update.is_empty() {
                return Err(CliError::config(
                    "nothing to update",
                    Some("Give --name, --description, --scope (the scopes replace the current ones), --monthly-quota or --no-monthly-quota.".to_owned()),
                ));
            }
            Outcome::done(
                "Updated",
                handle(&tenant, &args.change).update(&update).await?,
            )
        }
        Manage::Expiry(ExpiryCommand::Set(args)) => {
            let at = match (args.when.at, args.when.in_days) {
                (Some(at), _) => at,
                (None, Some(days)) => in_days(days)?,
                // clap requires one of the two; this only keeps the match total.
                (None, None) => {
                    return Err(CliError::config(
                        "no new expiry given",
                        Some("Give --at TIME or --in-days DAYS.".to_owned()),
                    ));
                }
            };
            Outcome::done(
                "Moved the expiry of",
                handle(&tenant, &args.change).set_expiry(at).await?,
            )
        }
        Manage::Expiry(ExpiryCommand::Remove(change)) => Outcome::done(
            "Removed the expiry of",
            handle(&tenant, &change).remove_expiry().await?,
        ),
        Manage::Rotate(args) => {
            let credential = handle(&tenant, &args.change);
            if args.end_existing_tokens {
                let rotation = credential.rotate_ending_existing_tokens(args.grace);
                issue(&args.save, url, json, false, rotation).await?
            } else {
                issue(&args.save, url, json, false, credential.rotate(args.grace)).await?
            }
        }
        Manage::Suspend(change) => {
            Outcome::done("Suspended", handle(&tenant, &change).suspend().await?)
        }
        Manage::Reactivate(change) => {
            Outcome::done("Reactivated", handle(&tenant, &change).reactivate().await?)
        }
        Manage::Revoke(args) => {
            let credential = confirmed(&tenant, &args.destroy, "Revoke", "permanently").await?;
            Outcome::done("Revoked", credential.revoke(args.reason.as_deref()).await?)
        }
        Manage::Delete(destroy) => {
            let credential = confirmed(&tenant, &destroy, "Delete", "for good").await?;
            credential.delete().await?;
            Outcome::Deleted {
                client_id: destroy.change.target.client_id,
            }
        }
        Manage::Policy(PolicyCommand::Get) => Outcome::Policy {
            policy: tenant.policy().await?,
            done: None,
        },
        Manage::Policy(PolicyCommand::Set(args)) => {
            let if_match = args.if_match.map(IfMatch::Version);
            Outcome::Policy {
                policy: tenant.set_policy(&policy_rules(args)?, if_match).await?,
                done: Some("Set the policy of"),
            }
        }
        Manage::Usage(args) => {
            let day = |d: Option<chrono::NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
            let (from, to) = (day(args.from), day(args.to));
            let usage = match &args.client_id {
                Some(id) => {
                    tenant
                        .credential(id.clone())
                        .usage(from.as_deref(), to.as_deref())
                        .await?
                }
                None => tenant.usage(from.as_deref(), to.as_deref()).await?,
            };
            Outcome::Usage {
                usage,
                csv: args.csv,
            }
        }
        Manage::Webhooks(command) => webhooks(&tenant, command).await?,
        Manage::ReportLeak(args) => {
            let secret = read_secret_from_stdin()?;
            Outcome::LeakReported(
                tenant
                    .report_leak(&secret, args.found_at.as_deref())
                    .await?,
            )
        }
        Manage::Audit(args) => {
            let size = Some(page_size(args.limit));
            let pager = match &args.client_id {
                Some(id) => tenant.credential(id).audit(size),
                None => tenant.audit(size),
            };
            Outcome::Events(take(pager, Some(args.limit)).await?)
        }
    })
}

async fn webhooks(tenant: &Tenant, command: WebhooksCommand) -> Result<Outcome, CliError> {
    Ok(match command {
        WebhooksCommand::List => Outcome::Webhooks(tenant.webhooks().await?),
        WebhooksCommand::Show(target) => Outcome::Webhook {
            webhook: tenant.webhook(&target.id).await?,
            done: None,
        },
        WebhooksCommand::Add(args) => {
            let mut request = NewWebhook::new(args.url);
            if !args.events.is_empty() {
                request = request.event_types(args.events);
            }
            if let Some(description) = args.description {
                request = request.description(description);
            }
            Outcome::WebhookSecret {
                created: tenant.create_webhook(&request).await?,
                new: true,
            }
        }
        WebhooksCommand::Update(args) => {
            let id = args.target.id.clone();
            let patch = webhook_patch(args)?;
            Outcome::Webhook {
                webhook: tenant.update_webhook(&id, &patch).await?,
                done: Some("Updated"),
            }
        }
        WebhooksCommand::Delete(args) => {
            let id = args.target.id;
            if !args.yes {
                confirm_webhook_deletion(tenant, &id).await?;
            }
            tenant.delete_webhook(&id).await?;
            Outcome::WebhookDeleted { id }
        }
        WebhooksCommand::RotateSecret(target) => Outcome::WebhookSecret {
            created: tenant.rotate_webhook_secret(&target.id).await?,
            new: false,
        },
        WebhooksCommand::Test(target) => Outcome::WebhookTested {
            event_id: tenant.test_webhook(&target.id).await?,
            id: target.id,
        },
        WebhooksCommand::Deliveries(args) => {
            let id = args.target.id;
            let limit = args.limit.max(1);
            let mut deliveries = Vec::new();
            let mut cursor: Option<String> = None;
            // Only the pages needed for `limit`.
            while deliveries.len() < limit {
                let left = limit - deliveries.len();
                let page = tenant
                    .webhook_deliveries(&id, Some(page_size(left)), cursor.as_deref())
                    .await?;
                deliveries.extend(page.deliveries.into_iter().take(left));
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            Outcome::Deliveries { id, deliveries }
        }
    })
}

/// What `webhooks update` sends: only what a flag says.
fn webhook_patch(args: WebhookUpdateArgs) -> Result<WebhookPatch, CliError> {
    let mut patch = WebhookPatch::new();
    if let Some(url) = args.url {
        patch = patch.url(url);
    }
    if args.events.all_events {
        patch = patch.all_event_types();
    } else if !args.events.events.is_empty() {
        patch = patch.event_types(args.events.events);
    }
    if let Some(description) = args.description {
        patch = patch.description((!description.is_empty()).then_some(description));
    }
    if args.status.enable {
        patch = patch.enable();
    } else if args.status.disable {
        patch = patch.disable();
    }
    if patch.is_empty() {
        return Err(CliError::config(
            "nothing to update",
            Some("Give --endpoint URL, --event (the types replace the current ones), --all-events, --description, --enable or --disable.".to_owned()),
        ));
    }
    Ok(patch)
}

/// Asks the person before a webhook endpoint is deleted, naming it.
async fn confirm_webhook_deletion(tenant: &Tenant, id: &str) -> Result<(), CliError> {
    require_terminal(&format!("webhooks delete {id}"))?;
    let current = tenant.webhook(id).await?;
    if answered_yes(&format!(
        "Delete webhook endpoint {id} ({}) of tenant {} for good?",
        current.url,
        tenant.id()
    ))? {
        Ok(())
    } else {
        Err(CliError::refused(
            format!("not confirmed: {id} was not deleted"),
            None,
        ))
    }
}

/// Refuses to ask for a confirmation nobody can give: waiting for an answer nobody will type
/// would hang a script. `command` is what to add `--yes` to.
fn require_terminal(command: &str) -> Result<(), CliError> {
    if std::io::stdin().is_terminal() {
        return Ok(());
    }
    Err(CliError::refused(
        format!("not confirmed: {command} needs confirmation, and stdin is not a terminal"),
        Some(format!(
            "Run it in a terminal to be asked, or add --yes: `clavis {command} --yes`."
        )),
    ))
}

/// Asks `question` on the terminal; only `y` or `yes` is a yes.
fn answered_yes(question: &str) -> Result<bool, CliError> {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::file("read the answer from", std::path::Path::new("stdin"), e))?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}

/// The whole policy `policy set` sends: what a flag does not say is allowed.
fn policy_rules(args: PolicySetArgs) -> Result<PolicyRules, CliError> {
    let open = PolicyRules::default();
    let max_grace_seconds = args
        .max_grace
        .map(|grace| u32::try_from(grace.as_secs()))
        .transpose()
        .map_err(|_| CliError::config("--max-grace is too long: at most 7d", None))?;
    let mut rules = PolicyRules::default();
    rules.max_lifetime_days = args.max_lifetime_days;
    rules.require_expiry = args.require_expiry;
    rules.max_grace_seconds = max_grace_seconds;
    rules.allowed_scopes = (!args.allowed_scopes.is_empty()).then_some(args.allowed_scopes);
    rules.allowed_environments = if args.allowed_environments.is_empty() {
        open.allowed_environments
    } else {
        args.allowed_environments
    };
    rules.leak_action = args.leak_action.unwrap_or(open.leak_action);
    Ok(rules)
}

fn management(settings: &Settings) -> Result<Tenant, CliError> {
    let client = Client::builder(settings.url()?, settings.token()?.clone())
        .allow_insecure_http(settings.allow_insecure_http)
        .build()
        .map_err(CliError::from_builder)?;
    Ok(client.tenant(settings.tenant()?))
}

fn handle(tenant: &Tenant, change: &Change) -> CredentialRef {
    tenant
        .credential(&change.target.client_id)
        .with_precondition(change.if_match.map(IfMatch::Version))
}

fn page_size(limit: usize) -> u32 {
    u32::try_from(limit.clamp(1, 100)).unwrap_or(100)
}

/// At most `limit` items of a listing, reading only the pages needed.
async fn take<T: DeserializeOwned + Send + 'static>(
    mut pager: Pager<T>,
    limit: Option<usize>,
) -> Result<Vec<T>, CliError> {
    let mut items = Vec::new();
    while limit.is_none_or(|limit| items.len() < limit) {
        match pager.next().await? {
            Some(item) => items.push(item),
            None => break,
        }
    }
    Ok(items)
}

fn in_days(days: i64) -> Result<chrono::DateTime<chrono::Utc>, CliError> {
    chrono::TimeDelta::try_days(days)
        .and_then(|delta| chrono::Utc::now().checked_add_signed(delta))
        .ok_or_else(|| {
            CliError::config(
                format!("--in-days {days} is out of range"),
                Some("The expiry can be at most 3650 days ahead.".to_owned()),
            )
        })
}

/// Issues a secret, having first created the files it goes to: an existing file refuses the
/// command before anything changes on the server.
async fn issue(
    save: &SaveArgs,
    url: &str,
    json: bool,
    created: bool,
    request: impl Future<Output = clavis_sdk::Result<IssuedSecret>>,
) -> Result<Outcome, CliError> {
    let reserved = Reserved::open(save)?;
    let issued = request.await?;
    if reserved.is_empty() {
        return Ok(Outcome::Issued {
            issued,
            saved: Vec::new(),
            created,
        });
    }
    match reserved.write(&issued, url) {
        Ok(saved) => Ok(Outcome::Issued {
            issued,
            saved,
            created,
        }),
        Err(error) => {
            // The secret exists nowhere else: show it rather than lose it.
            Outcome::Issued {
                issued,
                saved: Vec::new(),
                created,
            }
            .print(json);
            Err(error)
        }
    }
}

/// The credential to revoke or delete, once the person has confirmed (or `--yes` said so).
async fn confirmed(
    tenant: &Tenant,
    destroy: &Destroy,
    verb: &str,
    how: &str,
) -> Result<CredentialRef, CliError> {
    let credential = handle(tenant, &destroy.change);
    if destroy.yes {
        return Ok(credential);
    }
    let id = credential.client_id().to_owned();
    require_terminal(&format!("{} {id}", verb.to_lowercase()))?;
    // Naming the credential guards against a pasted wrong ID; it also fails early if it is gone.
    let current = credential.get().await?;
    if answered_yes(&format!(
        "{verb} {id} ({:?}, {}) in tenant {} {how}?",
        current.name,
        current.status,
        tenant.id()
    ))? {
        Ok(credential)
    } else {
        Err(CliError::refused(
            format!("not confirmed: {id} was not changed"),
            None,
        ))
    }
}

/// An access token for the integration's credentials.
async fn token(args: &TokenArgs, settings: &Settings) -> Result<Outcome, CliError> {
    let (url, credentials) = match &args.credentials {
        Some(path) => {
            let file = secret_file::read_credentials(path)?;
            let url = settings.url.clone().or(file.url);
            (
                url,
                ClientCredentials::new(file.client_id, file.client_secret),
            )
        }
        None => {
            let client_id = args
                .client_id
                .clone()
                .or_else(|| settings.client_id.clone())
                .ok_or_else(|| {
                    settings.missing(
                        "client ID",
                        "--credentials FILE or --client-id",
                        "CLAVIS_CLIENT_ID",
                        "client_id",
                        None,
                    )
                })?;
            let secret = settings.client_secret.clone().ok_or_else(|| {
                settings.missing(
                    "client secret",
                    "--credentials FILE",
                    "CLAVIS_CLIENT_SECRET",
                    "client_secret",
                    None,
                )
            })?;
            (
                settings.url.clone(),
                ClientCredentials::new(client_id, secret),
            )
        }
    };
    let url = url.ok_or_else(|| settings.missing("API URL", "--url", "CLAVIS_URL", "url", None))?;
    let mut builder =
        TokenSource::builder(url, credentials).allow_insecure_http(settings.allow_insecure_http);
    if let Some(scope) = &args.scope {
        builder = builder.scope(scope.clone());
    }
    let tokens = builder.build().map_err(CliError::from_builder)?;
    Ok(Outcome::Token(tokens.token().await?))
}

/// The first line of standard input, trimmed: a leaked secret, which never belongs on the
/// command line.
fn read_secret_from_stdin() -> Result<secrecy::SecretString, CliError> {
    if std::io::stdin().is_terminal() {
        eprintln!("Paste the leaked secret and press Enter (it is not shown):");
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| CliError::file("read the secret from", std::path::Path::new("stdin"), e))?;
    let secret = secrecy::SecretString::from(line.trim().to_owned());
    line.clear();
    Ok(secret)
}
