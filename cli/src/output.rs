//! What a command prints: tables and sentences for people, one JSON document for scripts.

use std::fmt::Write as _;
use std::path::PathBuf;

use clavis_sdk::{
    AccessToken, AuditEvent, CreatedWebhook, Credential, Delivery, IssuedSecret, LeakReport,
    Policy, Timestamp, Usage, Webhook, WebhookStatus,
};
use secrecy::ExposeSecret;
use serde_json::json;

/// What a command produced.
pub enum Outcome {
    /// A credential as it is after the command, and what was done to it.
    Credential {
        credential: Credential,
        done: Option<&'static str>,
    },
    /// A new secret (`create`, `rotate`) and the files it was written to, if any.
    Issued {
        issued: IssuedSecret,
        saved: Vec<PathBuf>,
        created: bool,
    },
    Credentials(Vec<Credential>),
    Events(Vec<AuditEvent>),
    /// A credential's or a tenant's days, as a table or CSV.
    Usage {
        usage: Usage,
        csv: bool,
    },
    /// The tenant's policy, and what was done to it.
    Policy {
        policy: Policy,
        done: Option<&'static str>,
    },
    Deleted {
        client_id: String,
    },
    Webhooks(Vec<Webhook>),
    /// A webhook endpoint as it is after the command, and what was done to it.
    Webhook {
        webhook: Webhook,
        done: Option<&'static str>,
    },
    /// A webhook endpoint with its signing secret: `new` when it was just added, else rotated.
    WebhookSecret {
        created: CreatedWebhook,
        new: bool,
    },
    WebhookDeleted {
        id: String,
    },
    WebhookTested {
        id: String,
        event_id: String,
    },
    /// An endpoint's deliveries, newest first.
    Deliveries {
        id: String,
        deliveries: Vec<Delivery>,
    },
    Token(AccessToken),
    DevToken(String),
    /// What reporting a leaked secret did.
    LeakReported(LeakReport),
}

impl Outcome {
    pub fn done(done: &'static str, credential: Credential) -> Self {
        Outcome::Credential {
            credential,
            done: Some(done),
        }
    }

    pub fn print(&self, json: bool) {
        let text = if json { self.json() } else { self.text() };
        print!("{text}");
        if let Outcome::Issued { issued, .. } = self
            && json
        {
            // Scripts read stdout; the person running them still sees the warning.
            eprintln!("{}", reminder(issued));
        }
        if let Outcome::WebhookSecret { created, .. } = self
            && json
        {
            eprintln!("{}", webhook_secret_reminder(&created.webhook.id));
        }
    }

    fn json(&self) -> String {
        let value = match self {
            Outcome::Credential { credential, .. } => json!(credential),
            Outcome::Issued {
                issued,
                saved,
                created: _,
            } => {
                let mut value = json!({
                    "credential": issued.credential,
                    "client_secret_notice": issued.notice,
                });
                if saved.is_empty() {
                    value["client_secret"] = json!(issued.client_secret.expose_secret());
                } else {
                    value["saved_to"] = json!(saved);
                }
                value
            }
            Outcome::Credentials(credentials) => json!(credentials),
            Outcome::Events(events) => json!(events),
            Outcome::Policy { policy, .. } => json!(policy),
            Outcome::Usage { usage, .. } => json!(usage),
            Outcome::Deleted { client_id } => json!({"client_id": client_id, "deleted": true}),
            Outcome::Webhooks(webhooks) => json!(webhooks),
            Outcome::Webhook { webhook, .. } => json!(webhook),
            Outcome::WebhookSecret { created, .. } => json!({
                "webhook": created.webhook,
                "secret": created.secret.expose_secret(),
            }),
            Outcome::WebhookDeleted { id } => json!({"id": id, "deleted": true}),
            Outcome::WebhookTested { id, event_id } => json!({"id": id, "event_id": event_id}),
            Outcome::Deliveries { deliveries, .. } => json!(deliveries),
            Outcome::Token(token) => json!({
                "access_token": token.secret().expose_secret(),
                "token_type": "Bearer",
                "expires_in": token.expires_in().as_secs(),
                "scope": token.scope(),
            }),
            Outcome::DevToken(token) => json!({"token": token}),
            Outcome::LeakReported(report) => json!(report),
        };
        format!("{value:#}\n")
    }

    fn text(&self) -> String {
        match self {
            Outcome::Credential { credential, done } => {
                let mut text = String::new();
                if let Some(done) = done {
                    let _ = writeln!(text, "{done} {}.\n", credential.client_id);
                }
                text + &details(credential)
            }
            Outcome::Issued {
                issued,
                saved,
                created,
            } => issued_text(issued, saved, *created),
            Outcome::Credentials(credentials) if credentials.is_empty() => {
                "No credentials. Create one with `clavis create NAME --scope resource:action`.\n"
                    .to_owned()
            }
            Outcome::Credentials(credentials) => table(
                &[
                    "CLIENT ID",
                    "NAME",
                    "STATUS",
                    "ENV",
                    "SCOPES",
                    "EXPIRES",
                    "LAST USED",
                ],
                credentials.iter().map(|c| {
                    vec![
                        c.client_id.clone(),
                        c.name.clone(),
                        c.status.to_string(),
                        c.environment.to_string(),
                        c.scopes.join(" "),
                        time_or(c.expires_at, "never"),
                        time_or(c.last_used_at, "never"),
                    ]
                }),
            ),
            Outcome::Events(events) if events.is_empty() => "No audit events.\n".to_owned(),
            Outcome::Events(events) => table(
                &["AT", "EVENT", "CLIENT ID", "ACTOR"],
                events.iter().map(|e| {
                    vec![
                        time(e.at),
                        e.kind.clone(),
                        e.client_id.clone().unwrap_or_else(|| "(tenant)".to_owned()),
                        format!("{} ({})", e.actor.subject, e.actor.role),
                    ]
                }),
            ),
            Outcome::Deleted { client_id } => {
                format!("Deleted {client_id}. The audit trail keeps a record of it.\n")
            }
            Outcome::Webhooks(webhooks) if webhooks.is_empty() => {
                "No webhook endpoints. Add one with `clavis webhooks add https://…`.\n".to_owned()
            }
            Outcome::Webhooks(webhooks) => table(
                &["ID", "URL", "STATUS", "EVENTS", "DESCRIPTION"],
                webhooks.iter().map(|w| {
                    vec![
                        w.id.clone(),
                        w.url.clone(),
                        webhook_status(w),
                        event_types(w),
                        w.description.clone().unwrap_or_default(),
                    ]
                }),
            ),
            Outcome::Webhook { webhook, done } => {
                let mut text = String::new();
                if let Some(done) = done {
                    let _ = writeln!(text, "{done} {}.\n", webhook.id);
                }
                text + &webhook_details(webhook)
            }
            Outcome::WebhookSecret { created, new } => webhook_secret_text(created, *new),
            Outcome::WebhookDeleted { id } => format!(
                "Deleted webhook endpoint {id}. The tenant's audit trail keeps a record of it.\n"
            ),
            Outcome::LeakReported(report) => leak_text(report),
            Outcome::WebhookTested { id, event_id } => format!(
                "Sent a webhook.test event ({event_id}) to {id}. `clavis webhooks deliveries {id}` shows how it went.\n"
            ),
            Outcome::Deliveries { id, deliveries } if deliveries.is_empty() => {
                format!("No deliveries to {id} yet. `clavis webhooks test {id}` sends one.\n")
            }
            Outcome::Deliveries { deliveries, .. } => table(
                &[
                    "CREATED",
                    "EVENT ID",
                    "TYPE",
                    "STATE",
                    "TRIES",
                    "LAST ANSWER",
                    "NEXT TRY",
                ],
                deliveries.iter().map(|d| {
                    let answer = match (d.last_status, &d.last_error) {
                        (Some(status), _) => format!("HTTP {status}"),
                        (None, Some(error)) => error.clone(),
                        (None, None) => "-".to_owned(),
                    };
                    vec![
                        time(d.created_at),
                        d.event_id.clone(),
                        d.kind.clone(),
                        d.state.to_string(),
                        d.attempts.to_string(),
                        answer,
                        time_or(d.next_attempt_at, "-"),
                    ]
                }),
            ),
            Outcome::Usage { usage, csv: true } => usage_csv(usage),
            Outcome::Usage { usage, csv: false } => usage_text(usage),
            Outcome::Policy { policy, done } => {
                let mut text = String::new();
                if let Some(done) = done {
                    let _ = writeln!(text, "{done} tenant {}.\n", policy.tenant);
                }
                text + &policy_details(policy)
            }
            // Alone on its line, so that `$(clavis token)` is the token.
            Outcome::Token(token) => format!("{}\n", token.secret().expose_secret()),
            Outcome::DevToken(token) => format!("{token}\n"),
        }
    }
}

fn issued_text(issued: &IssuedSecret, saved: &[PathBuf], created: bool) -> String {
    let credential = &issued.credential;
    let mut text = if created {
        format!(
            "Created {} ({:?}) in tenant {}.\n\n",
            credential.client_id, credential.name, credential.tenant
        )
    } else {
        format!(
            "Rotated {}: secret version {}.\n\n",
            credential.client_id, credential.secret_version
        )
    };
    let _ = writeln!(text, "  Client ID:      {}", credential.client_id);
    if saved.is_empty() {
        let _ = writeln!(
            text,
            "  Client secret:  {}",
            issued.client_secret.expose_secret()
        );
    } else {
        for path in saved {
            let _ = writeln!(
                text,
                "  Client secret:  written to {} (readable by you only)",
                path.display()
            );
        }
    }
    if let Some(until) = credential.previous_secret_valid_until {
        let _ = writeln!(
            text,
            "  Old secret:     keeps working until {}",
            time(until)
        );
    }
    let _ = writeln!(text, "\n{}", reminder(issued));
    text
}

/// The server's own words when it sent them, which say what to do if the secret is lost.
fn reminder(issued: &IssuedSecret) -> String {
    if issued.notice.is_empty() {
        "Store this secret now: it cannot be shown again. If you lose it, rotate the credential."
            .to_owned()
    } else {
        issued.notice.clone()
    }
}

fn webhook_secret_reminder(id: &str) -> String {
    format!(
        "Store this signing secret now: it is shown only once and cannot be retrieved again. \
         Your receiver verifies each delivery's webhook-signature header with it (any Standard \
         Webhooks library). If you lose it, rotate it: `clavis webhooks rotate-secret {id}`."
    )
}

fn webhook_secret_text(created: &CreatedWebhook, new: bool) -> String {
    let webhook = &created.webhook;
    let mut text = if new {
        format!(
            "Added webhook endpoint {} ({}).\n\n",
            webhook.id, webhook.url
        )
    } else {
        format!("Rotated the signing secret of {}.\n\n", webhook.id)
    };
    let _ = writeln!(text, "  Webhook ID:      {}", webhook.id);
    let _ = writeln!(
        text,
        "  Signing secret:  {}",
        created.secret.expose_secret()
    );
    if let Some(until) = webhook.previous_secret_valid_until {
        let _ = writeln!(
            text,
            "  Old secret:      keeps signing until {}",
            time(until)
        );
    }
    let _ = writeln!(text, "\n{}", webhook_secret_reminder(&webhook.id));
    text
}

fn webhook_status(w: &Webhook) -> String {
    match (w.status, w.disabled_reason) {
        (WebhookStatus::Disabled, Some(reason)) => format!("disabled ({reason})"),
        (status, _) => status.to_string(),
    }
}

fn event_types(w: &Webhook) -> String {
    match &w.event_types {
        None => "all".to_owned(),
        Some(types) => types.join(" "),
    }
}

fn webhook_details(w: &Webhook) -> String {
    let mut rows: Vec<(&str, String)> = vec![("Webhook ID", w.id.clone()), ("URL", w.url.clone())];
    if let Some(description) = &w.description {
        rows.push(("Description", description.clone()));
    }
    rows.push(("Events", event_types(w)));
    rows.push((
        "Status",
        match (w.status, w.disabled_reason) {
            (WebhookStatus::Disabled, Some(reason)) => format!(
                "disabled ({}); `clavis webhooks update {} --enable` sends it events again",
                match reason {
                    clavis_sdk::DisabledReason::Admin => "by an admin",
                    clavis_sdk::DisabledReason::Failing => "every delivery failed for 5 days",
                    clavis_sdk::DisabledReason::Gone => "it answered 410 Gone",
                    _ => reason.as_str(),
                },
                w.id
            ),
            (status, _) => status.to_string(),
        },
    ));
    rows.push(("Created", time(w.created_at)));
    if let Some(at) = w.updated_at {
        rows.push(("Updated", time(at)));
    }
    if let Some(at) = w.secret_rotated_at {
        rows.push(("Secret rotated", time(at)));
    }
    if let Some(until) = w.previous_secret_valid_until {
        rows.push(("Old secret", format!("keeps signing until {}", time(until))));
    }
    aligned(&rows)
}

fn details(c: &Credential) -> String {
    let mut rows: Vec<(&str, String)> =
        vec![("Client ID", c.client_id.clone()), ("Name", c.name.clone())];
    if !c.description.is_empty() {
        rows.push(("Description", c.description.clone()));
    }
    rows.extend([
        ("Tenant", c.tenant.clone()),
        ("Status", c.status.to_string()),
        ("Environment", c.environment.to_string()),
        ("Scopes", c.scopes.join(" ")),
        ("Created", by(time(c.created_at), &c.created_by)),
        (
            "Expires",
            match c.expires_at {
                None => "never".to_owned(),
                Some(at) if c.expiry_locked => {
                    format!("{} (within 72 hours: locked)", time(at))
                }
                Some(at) => time(at),
            },
        ),
        (
            "Secret",
            match c.secret_rotated_at {
                Some(at) => format!("version {}, rotated {}", c.secret_version, time(at)),
                None => format!("version {}", c.secret_version),
            },
        ),
    ]);
    if let Some(until) = c.previous_secret_valid_until {
        rows.push(("Old secret", format!("works until {}", time(until))));
    }
    if let Some(at) = c.suspended_at {
        rows.push(("Suspended", time(at)));
    }
    if let Some(at) = c.revoked_at {
        let mut revoked = by(time(at), c.revoked_by.as_deref().unwrap_or_default());
        if let Some(reason) = &c.revocation_reason {
            let _ = write!(revoked, ": {reason}");
        }
        rows.push(("Revoked", revoked));
    }
    rows.push((
        "Last used",
        match (c.last_used_at, &c.last_used_from) {
            (Some(at), Some(from)) => format!("{} from {from}", time(at)),
            (at, _) => time_or(at, "never"),
        },
    ));
    if !c.usage_month.is_empty() {
        rows.push((
            "Requests",
            match c.monthly_request_quota {
                Some(quota) => format!("{} of {quota} in {}", c.request_count, c.usage_month),
                None => format!("{} in {}", c.request_count, c.usage_month),
            },
        ));
    }
    if !c.policy_violations.is_empty() {
        rows.push((
            "Blocked",
            format!(
                "by the tenant's policy: {} Fix its expiry or scopes, or relax the policy.",
                c.policy_violations.join(" ")
            ),
        ));
    }
    rows.push(("Version", c.version.to_string()));
    aligned(&rows)
}

fn aligned(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(label, value)| format!("{label:<width$}  {value}\n"))
        .collect()
}

/// `date,uses,refused`, one line per day: what the console's Download CSV holds.
fn usage_csv(usage: &Usage) -> String {
    let mut text = String::from("date,uses,refused\n");
    for day in &usage.days {
        let _ = writeln!(text, "{},{},{}", day.date, day.uses, day.total_refused());
    }
    text
}

fn usage_text(usage: &Usage) -> String {
    let whose = match (&usage.client_id, &usage.tenant) {
        (Some(id), _) => id.clone(),
        (None, Some(tenant)) => format!("tenant {tenant}"),
        (None, None) => String::new(),
    };
    let mut text = format!(
        "Usage of {whose}, {} to {}: {} uses, {} refused.\n\n",
        usage.from, usage.to, usage.total_uses, usage.total_refused
    );
    text += &table(
        &["DATE", "USES", "REFUSED", "WHY"],
        usage.days.iter().map(|day| {
            let why: Vec<String> = day
                .refused
                .iter()
                .map(|(reason, n)| format!("{reason} {n}"))
                .collect();
            vec![
                day.date.clone(),
                day.uses.to_string(),
                day.total_refused().to_string(),
                why.join(", "),
            ]
        }),
    );
    if !usage.top.is_empty() {
        text += "\nMost used:\n";
        text += &table(
            &["CLIENT ID", "NAME", "USES"],
            usage.top.iter().map(|t| {
                vec![
                    t.client_id.clone(),
                    t.name.clone().unwrap_or_else(|| "(deleted)".to_owned()),
                    t.uses.to_string(),
                ]
            }),
        );
    }
    text
}

fn policy_details(p: &Policy) -> String {
    let rules = &p.rules;
    let environments: Vec<&str> = rules
        .allowed_environments
        .iter()
        .map(|e| e.as_str())
        .collect();
    let rows = [
        ("Tenant", p.tenant.clone()),
        (
            "Maximum lifetime",
            rules
                .max_lifetime_days
                .map_or("none".to_owned(), |days| format!("{days} days")),
        ),
        (
            "Require expiry",
            if rules.require_expiry || rules.max_lifetime_days.is_some() {
                "yes"
            } else {
                "no"
            }
            .to_owned(),
        ),
        (
            "Maximum grace",
            rules
                .max_grace_seconds
                .map_or("none".to_owned(), |seconds| format!("{seconds} seconds")),
        ),
        (
            "Allowed scopes",
            rules
                .allowed_scopes
                .as_ref()
                .map_or("any".to_owned(), |scopes| scopes.join(" ")),
        ),
        ("Environments", environments.join(" ")),
        ("When leaked", rules.leak_action.as_str().to_owned()),
        (
            "Set",
            match (p.updated_at, &p.updated_by) {
                (Some(at), Some(who)) => by(time(at), who),
                _ => "never (the open policy)".to_owned(),
            },
        ),
        ("Version", p.version.to_string()),
    ];
    aligned(&rows)
}

fn by(what: String, who: &str) -> String {
    if who.is_empty() {
        what
    } else {
        format!("{what} by {who}")
    }
}

fn time(at: Timestamp) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn time_or(at: Option<Timestamp>, otherwise: &str) -> String {
    at.map_or_else(|| otherwise.to_owned(), time)
}

/// Columns padded to their widest cell; the last one is not padded, so lines end cleanly.
fn table(headers: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = std::iter::once(headers.iter().map(|h| (*h).to_owned()).collect())
        .chain(rows)
        .collect();
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in &rows {
        let last = row.len().saturating_sub(1);
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                text.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                let _ = write!(text, "{cell}{}  ", " ".repeat(pad));
            }
        }
        text.push('\n');
    }
    text
}

fn leak_text(report: &LeakReport) -> String {
    let id = &report.client_id;
    if report.already_reported {
        return format!("The secret of {id} was reported before; nothing changed.\n");
    }
    let next = match report.action.as_str() {
        "revoked" => {
            format!("{id} is revoked. Create a new credential and move the integration to it.")
        }
        "suspended" => format!(
            "{id} is suspended. Rotate its secret (without a grace period), update the integration, then `clavis reactivate {id}`."
        ),
        _ if report.secret_current => format!(
            "{id} still works: rotate its secret now, without a grace period (`clavis rotate {id}`)."
        ),
        _ => {
            format!("The secret was an earlier one of {id}, which no longer works; nothing to do.")
        }
    };
    format!("Reported. {next}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_on_characters_not_bytes() {
        let text = table(
            &["A", "B"],
            vec![
                vec!["ü".into(), "x".into()],
                vec!["long".into(), "y".into()],
            ]
            .into_iter(),
        );
        assert_eq!(text, "A     B\nü     x\nlong  y\n");
    }
}
