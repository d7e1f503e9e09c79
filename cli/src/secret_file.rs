//! Files holding a newly issued secret (`--save-env`, `--save-json`), and reading them back
//! (`clavis token --credentials`).
//!
//! The files are created before the request that issues the secret: a path that already exists
//! is refused while nothing has changed on the server yet, and the secret, once issued, always
//! has somewhere to go.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use clavis_sdk::IssuedSecret;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::args::SaveArgs;
use crate::error::CliError;

#[derive(Clone, Copy)]
enum Format {
    Env,
    Json,
}

/// Files created empty and waiting for the secret. Dropped unwritten (the request failed),
/// they are removed again, so that a failed command leaves nothing behind.
pub struct Reserved {
    files: Vec<(PathBuf, Format, File)>,
    written: bool,
}

impl Reserved {
    pub fn open(save: &SaveArgs) -> Result<Self, CliError> {
        let mut reserved = Reserved {
            files: Vec::new(),
            written: false,
        };
        let wanted = [
            (&save.save_env, Format::Env),
            (&save.save_json, Format::Json),
        ];
        for (path, format) in wanted {
            let Some(path) = path else { continue };
            if reserved.files.iter().any(|(p, _, _)| p == path) {
                return Err(CliError::config(
                    format!("--save-env and --save-json both name {}", path.display()),
                    Some("Give each its own file.".to_owned()),
                ));
            }
            // Dropping `reserved` on error removes the files created so far.
            let file = create_private(path)?;
            reserved.files.push((path.clone(), format, file));
        }
        Ok(reserved)
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Writes the client ID and secret (and where to use them) to every file.
    pub fn write(mut self, issued: &IssuedSecret, url: &str) -> Result<Vec<PathBuf>, CliError> {
        let saved = SavedCredentials {
            url: Some(url.to_owned()),
            tenant: Some(issued.credential.tenant.clone()),
            client_id: issued.credential.client_id.clone(),
            client_secret: issued.client_secret.expose_secret().to_owned(),
        };
        // From here on the files hold (or were meant to hold) a secret that exists nowhere else:
        // never remove them, even half-written.
        self.written = true;
        let mut paths = Vec::new();
        for (path, format, file) in &mut self.files {
            let contents = match format {
                Format::Env => saved.env_file(&issued.credential.name),
                Format::Json => saved.json_file(),
            };
            file.write_all(contents.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| CliError::file("write", path, e))?;
            paths.push(path.clone());
        }
        Ok(paths)
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        if !self.written {
            for (path, _, _) in &self.files {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// A new file only its owner may read or write. `create_new` makes the kernel refuse a path
/// that exists (a symlink included), so no file is ever overwritten, even by a race.
fn create_private(path: &Path) -> Result<File, CliError> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                CliError::refused(
                    format!(
                        "{} already exists: clavis writes a secret only to a new file and never overwrites one",
                        path.display()
                    ),
                    Some(
                        "Choose another path (e.g. add the date to the name), or move the old file away first. Nothing was changed on the server."
                            .to_owned(),
                    ),
                )
            } else {
                CliError::file("create", path, e)
            }
        })
}

/// What the files hold: the JSON file field for field, the env file as variables.
#[derive(Serialize, Deserialize)]
struct SavedCredentials {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant: Option<String>,
    client_id: String,
    client_secret: String,
}

impl SavedCredentials {
    fn env_file(&self, name: &str) -> String {
        let mut text = format!(
            "# Clavis credential {name:?} of tenant {}. The secret cannot be shown again: keep this file private.\n",
            self.tenant.as_deref().unwrap_or("?")
        );
        if let Some(url) = &self.url {
            text.push_str(&format!("CLAVIS_URL={}\n", shell_quote(url)));
        }
        text.push_str(&format!(
            "CLAVIS_CLIENT_ID={}\nCLAVIS_CLIENT_SECRET={}\n",
            shell_quote(&self.client_id),
            shell_quote(&self.client_secret)
        ));
        text
    }

    fn json_file(&self) -> String {
        // Through `Value`, whose pretty printing cannot fail: a secret must not become "".
        let value = serde_json::json!(self);
        format!("{value:#}\n")
    }
}

/// As it is when nothing in it means anything to a shell; single-quoted otherwise, so that
/// `source FILE` and dotenv readers agree on the value.
fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.:/@%+,".contains(c));
    if plain {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// Client credentials read back from a file `--save-env` or `--save-json` wrote.
pub struct CredentialsFile {
    pub url: Option<String>,
    pub client_id: String,
    pub client_secret: SecretString,
}

pub fn read_credentials(path: &Path) -> Result<CredentialsFile, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::file("read the credentials file", path, e))?;
    let saved = if text.trim_start().starts_with('{') {
        serde_json::from_str::<SavedCredentials>(&text)
            .map_err(|e| unreadable(path, &e.to_string()))?
    } else {
        from_env_lines(&text).ok_or_else(|| {
            unreadable(
                path,
                "it has no CLAVIS_CLIENT_ID and CLAVIS_CLIENT_SECRET lines",
            )
        })?
    };
    Ok(CredentialsFile {
        url: saved.url,
        client_id: saved.client_id,
        client_secret: SecretString::from(saved.client_secret),
    })
}

fn unreadable(path: &Path, why: &str) -> CliError {
    CliError::config(
        format!("{} is not a credentials file: {why}", path.display()),
        Some("Give a file that `clavis create` or `clavis rotate` wrote with --save-env or --save-json.".to_owned()),
    )
}

fn from_env_lines(text: &str) -> Option<SavedCredentials> {
    let mut url = None;
    let mut client_id = None;
    let mut client_secret = None;
    for line in text.lines() {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let value = unquote(value.trim());
        match name.trim() {
            "CLAVIS_URL" => url = Some(value),
            "CLAVIS_CLIENT_ID" => client_id = Some(value),
            "CLAVIS_CLIENT_SECRET" => client_secret = Some(value),
            _ => {}
        }
    }
    Some(SavedCredentials {
        url,
        tenant: None,
        client_id: client_id?,
        client_secret: client_secret?,
    })
}

fn unquote(value: &str) -> String {
    if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        inner.replace(r"'\''", "'")
    } else if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        inner.to_owned()
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_survive_quoting() {
        for value in [
            "csk_live_abc123",
            "http://127.0.0.1:3000",
            "it's odd",
            "a b$c",
        ] {
            let saved = SavedCredentials {
                url: None,
                tenant: None,
                client_id: "cid_x".into(),
                client_secret: value.into(),
            };
            let read = from_env_lines(&saved.env_file("n")).unwrap();
            assert_eq!(read.client_secret, value);
        }
        assert_eq!(shell_quote("csk_live_abc"), "csk_live_abc");
        assert_eq!(shell_quote("a b"), "'a b'");
    }
}
