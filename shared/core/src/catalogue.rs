//! The platform's scope catalogue: the scopes it offers, each with a description an admin reads
//! when choosing what an integration may do. Configured with `SCOPE_CATALOGUE` (a JSON file's
//! path, or the JSON itself); without one, any well-formed scope is accepted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::credential::{Scope, Scopes, ValidationError};

/// Descriptions are shown beside a checkbox: a sentence, not an essay.
const DESCRIPTION_MAX_LEN: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueEntry {
    pub scope: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    #[error("is not a JSON list of {{\"scope\", \"description\"}} objects: {0}")]
    NotJson(String),
    #[error("lists {0:?}, which is not a scope of the form resource:action")]
    InvalidScope(String),
    #[error("lists {0:?} twice")]
    Duplicate(String),
    #[error("describes {0:?} in more than {DESCRIPTION_MAX_LEN} characters")]
    DescriptionTooLong(String),
    #[error("cannot be read from {path}: {reason}")]
    Unreadable { path: String, reason: String },
}

/// The scopes on offer, in scope order. Empty means "no catalogue": anything well formed goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeCatalogue {
    entries: BTreeMap<String, CatalogueEntry>,
}

impl ScopeCatalogue {
    /// The catalogue in a `SCOPE_CATALOGUE` setting: inline JSON (it starts with `[`), or the
    /// path of a JSON file.
    pub fn from_setting(setting: &str) -> Result<Self, CatalogueError> {
        let trimmed = setting.trim_start();
        if trimmed.starts_with('[') {
            return Self::from_json(trimmed);
        }
        let text = std::fs::read_to_string(setting).map_err(|e| CatalogueError::Unreadable {
            path: setting.to_owned(),
            reason: e.to_string(),
        })?;
        Self::from_json(&text)
    }

    pub fn from_json(text: &str) -> Result<Self, CatalogueError> {
        let listed: Vec<CatalogueEntry> =
            serde_json::from_str(text).map_err(|e| CatalogueError::NotJson(e.to_string()))?;
        let mut entries = BTreeMap::new();
        for entry in listed {
            Scope::parse(&entry.scope)
                .map_err(|_| CatalogueError::InvalidScope(entry.scope.clone()))?;
            if entry.description.chars().count() > DESCRIPTION_MAX_LEN {
                return Err(CatalogueError::DescriptionTooLong(entry.scope));
            }
            if entries.contains_key(&entry.scope) {
                return Err(CatalogueError::Duplicate(entry.scope));
            }
            entries.insert(entry.scope.clone(), entry);
        }
        Ok(Self { entries })
    }

    pub fn entries(&self) -> impl Iterator<Item = &CatalogueEntry> {
        self.entries.values()
    }

    /// Refuses scopes the catalogue does not list, naming them; with no catalogue, accepts all.
    pub fn check(&self, scopes: &Scopes) -> Result<(), ValidationError> {
        if self.entries.is_empty() {
            return Ok(());
        }
        let unknown: Vec<&str> = scopes
            .iter()
            .map(Scope::as_str)
            .filter(|scope| !self.entries.contains_key(*scope))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        Err(ValidationError::new(
            "scopes",
            "unknown_scope",
            format!(
                "{} not offered by this platform; GET /v1/scopes lists the scopes it offers",
                match unknown.as_slice() {
                    [one] => format!("scope {one:?} is"),
                    many => format!("scopes {} are", many.join(", ")),
                }
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOGUE: &str = r#"[
        {"scope": "products:read", "description": "Read the product catalogue"},
        {"scope": "orders:write", "description": "Place and change orders"}
    ]"#;

    fn scopes(items: &[&str]) -> Scopes {
        Scopes::parse(items).unwrap()
    }

    #[test]
    fn a_catalogue_accepts_its_scopes_and_names_the_others() {
        let catalogue = ScopeCatalogue::from_json(CATALOGUE).unwrap();
        assert_eq!(
            catalogue
                .entries()
                .map(|e| e.scope.as_str())
                .collect::<Vec<_>>(),
            ["orders:write", "products:read"]
        );
        assert!(catalogue.check(&scopes(&["products:read"])).is_ok());
        let refused = catalogue
            .check(&scopes(&["products:read", "stock:write", "users:admin"]))
            .unwrap_err();
        assert_eq!((refused.field, refused.code), ("scopes", "unknown_scope"));
        assert!(refused.message.contains("stock:write, users:admin"));
    }

    #[test]
    fn without_a_catalogue_any_well_formed_scope_goes() {
        assert!(
            ScopeCatalogue::default()
                .check(&scopes(&["anything:goes"]))
                .is_ok()
        );
    }

    #[test]
    fn a_malformed_catalogue_is_refused_with_the_reason() {
        let cases = [
            ("{}", "is not a JSON list"),
            (r#"[{"scope": "Products"}]"#, "\"Products\""),
            (
                r#"[{"scope": "a:b"}, {"scope": "a:b", "description": "again"}]"#,
                "twice",
            ),
            (r#"[{"scope": "a:b", "extra": 1}]"#, "is not a JSON list"),
        ];
        for (json, says) in cases {
            let error = ScopeCatalogue::from_json(json).unwrap_err().to_string();
            assert!(error.contains(says), "{json}: {error}");
        }
        let long = format!(
            r#"[{{"scope": "a:b", "description": "{}"}}]"#,
            "x".repeat(201)
        );
        assert!(matches!(
            ScopeCatalogue::from_json(&long),
            Err(CatalogueError::DescriptionTooLong(_))
        ));
    }

    #[test]
    fn a_setting_is_inline_json_or_a_file() {
        let inline = ScopeCatalogue::from_setting(CATALOGUE).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scopes.json");
        std::fs::write(&path, CATALOGUE).unwrap();
        let from_file = ScopeCatalogue::from_setting(path.to_str().unwrap()).unwrap();
        assert_eq!(inline, from_file);
        assert!(matches!(
            ScopeCatalogue::from_setting("/nonexistent/scopes.json"),
            Err(CatalogueError::Unreadable { .. })
        ));
    }
}
