//! What the CLI reports when something fails: one sentence naming the problem, and a hint
//! saying what to do about it.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Api(#[from] clavis_sdk::Error),
    /// A setting is missing or unusable.
    #[error("{message}")]
    Config {
        message: String,
        hint: Option<String>,
    },
    /// The command was not carried out: not confirmed, or it would overwrite a file.
    #[error("{message}")]
    Refused {
        message: String,
        hint: Option<String>,
    },
    #[error("cannot {action} {}: {source}", path.display())]
    File {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl CliError {
    pub fn config(message: impl Into<String>, hint: impl Into<Option<String>>) -> Self {
        CliError::Config {
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn refused(message: impl Into<String>, hint: impl Into<Option<String>>) -> Self {
        CliError::Refused {
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// An SDK builder's refusal, in the CLI's words: a cleartext URL is refused for the same
    /// reason, but the way to opt in is a flag or variable, not a builder method.
    pub fn from_builder(error: clavis_sdk::Error) -> Self {
        match error {
            clavis_sdk::Error::InsecureUrl { host } => CliError::config(
                format!(
                    "refusing http://{host}: it is not this machine (loopback), so the management \
                     token, client secret and access tokens would cross the network in cleartext"
                ),
                Some(
                    "Use the API's https:// URL. Only on a network you trust, pass \
                     --allow-insecure-http, set CLAVIS_ALLOW_INSECURE_HTTP=1, or add \
                     allow_insecure_http = true to the profile."
                        .to_owned(),
                ),
            ),
            other => CliError::Api(other),
        }
    }

    pub fn file(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        CliError::File {
            action,
            path: path.to_owned(),
            source,
        }
    }

    /// The process's exit status: scripts tell an API refusal from a mistake on the command
    /// line, and both from a change that was deliberately not made.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Api(clavis_sdk::Error::Config(_)) => 2,
            CliError::Api(_) => 1,
            CliError::Config { .. } => 2,
            CliError::Refused { .. } => 3,
            CliError::File { .. } => 4,
        }
    }

    /// What to do about it, where the error alone does not say.
    pub fn hint(&self, context: &Context) -> Option<String> {
        match self {
            CliError::Config { hint, .. } | CliError::Refused { hint, .. } => hint.clone(),
            CliError::File { source, .. } => match source.kind() {
                std::io::ErrorKind::PermissionDenied => {
                    Some("Check the file's permissions, or choose a path you may use.".to_owned())
                }
                std::io::ErrorKind::NotFound => {
                    Some("Check the path; a directory it names must exist already.".to_owned())
                }
                _ => None,
            },
            CliError::Api(error) => api_hint(error, context),
        }
    }
}

/// Prints `error` and what to do about it to stderr: two lines for people, or one JSON object
/// for scripts that asked for JSON.
pub fn report(error: &CliError, context: &Context, json: bool) {
    let hint = error.hint(context);
    if json {
        let code = match error {
            CliError::Api(api) => api.code(),
            _ => None,
        };
        eprintln!(
            "{}",
            serde_json::json!({"error": error.to_string(), "code": code, "hint": hint})
        );
    } else {
        eprintln!("error: {error}");
        if let Some(hint) = hint {
            eprintln!("  hint: {hint}");
        }
    }
}

/// What the command was about, for hints.
#[derive(Debug, Default, Clone)]
pub struct Context {
    pub url: Option<String>,
    pub tenant: Option<String>,
    pub client_id: Option<String>,
    pub webhook_id: Option<String>,
}

fn api_hint(error: &clavis_sdk::Error, context: &Context) -> Option<String> {
    let id = context.client_id.as_deref().unwrap_or("CLIENT_ID");
    let webhook = context.webhook_id.as_deref().unwrap_or("ID");
    let tenant = context
        .tenant
        .as_deref()
        .map_or_else(|| "the tenant".to_owned(), |t| format!("tenant {t}"));
    if let clavis_sdk::Error::Transport { .. } = error {
        return Some(format!(
            "Check that the API is running at {} (--url or CLAVIS_URL); locally, start it with `make run`.",
            context.url.as_deref().unwrap_or("the URL given")
        ));
    }
    let hint = match error.code()? {
        "unauthorized" => "The management token was refused. Set CLAVIS_TOKEN (or --token) to a current token from your identity provider; for the local gateway, `clavis dev-token` prints one.".to_owned(),
        "forbidden" => format!("Your token's role may not manage {tenant}: it needs an admin of {tenant}, or an advisor who advises it."),
        "credential_not_found" => format!("There is no credential {id} in {tenant}. `clavis list` shows the tenant's credentials."),
        "version_mismatch" => {
            let current = error
                .problem()
                .and_then(|p| p.credential.as_ref())
                .map_or_else(|| "its current version".to_owned(), |c| c.version.to_string());
            format!("The credential changed since the version you gave. Review it with `clavis show {id}`, then retry with --if-match {current}.")
        }
        "credential_revoked" => "Revocation is permanent: create a new credential with `clavis create`.".to_owned(),
        "credential_expired" => "An expired credential can only be revoked or deleted; create a new one with `clavis create`.".to_owned(),
        "credential_suspended" => format!("Reactivate it first: `clavis reactivate {id}`."),
        "expiry_locked" => "The expiry can no longer be changed this close to it (72 hours). Create a new credential if the integration must keep working.".to_owned(),
        "webhook_not_found" => format!("There is no webhook endpoint {webhook} in {tenant}. `clavis webhooks list` shows the tenant's endpoints."),
        "webhook_disabled" => format!("The endpoint is disabled; enable it first: `clavis webhooks update {webhook} --enable`."),
        "webhook_limit_reached" => "A tenant has at most 10 webhook endpoints. Delete one (`clavis webhooks delete ID`), or send more event types to one you have (`clavis webhooks update ID --event …`).".to_owned(),
        "invalid_webhook_url" => "Give an https:// URL whose host resolves to public addresses: loopback, private, link-local and cloud metadata destinations are refused (a local gateway started with WEBHOOK_ALLOW_PRIVATE=true, as `make run` does, accepts them).".to_owned(),
        "not_found" => format!(
            "Check that {} is the API's base URL (--url or CLAVIS_URL), with no path of its own.",
            context.url.as_deref().unwrap_or("the URL given")
        ),
        "invalid_client" => "Check the client ID and secret (CLAVIS_CLIENT_ID, CLAVIS_CLIENT_SECRET or --credentials). A suspended, revoked or expired credential is refused the same way.".to_owned(),
        "invalid_scope" => "Ask only for scopes the credential holds (`clavis show` lists them); scopes look like resource:action.".to_owned(),
        "slow_down" | "too_many_requests" => match error.retry_after() {
            Some(wait) => format!("Too many requests; try again in {} seconds.", wait.as_secs()),
            None => "Too many requests; try again shortly.".to_owned(),
        },
        _ => return None,
    };
    Some(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cleartext_url_is_a_configuration_error_that_names_the_opt_in() {
        let refused = clavis_sdk::Client::builder("http://api.example.com", "token")
            .build()
            .unwrap_err();
        let error = CliError::from_builder(refused);
        assert_eq!(error.exit_code(), 2);
        let message = error.to_string();
        assert!(message.contains("http://api.example.com"), "{message}");
        assert!(message.contains("cleartext"), "{message}");
        let hint = error.hint(&Context::default()).unwrap();
        assert!(hint.contains("--allow-insecure-http"), "{hint}");
        assert!(hint.contains("CLAVIS_ALLOW_INSECURE_HTTP=1"), "{hint}");

        let allowed = clavis_sdk::Client::builder("http://api.example.com", "token")
            .allow_insecure_http(true)
            .build();
        assert!(allowed.is_ok());
        // Other refusals keep their own exit status.
        let malformed = clavis_sdk::Client::new("api.example.com", "token").unwrap_err();
        assert!(matches!(
            CliError::from_builder(malformed),
            CliError::Api(clavis_sdk::Error::Config(_))
        ));
    }
}
