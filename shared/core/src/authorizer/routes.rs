//! The platform's routes and the scopes each requires (`ROUTE_SCOPES`).

use std::collections::HashMap;

use crate::credential::Scope;
use crate::route::RouteTemplate;

const DEFAULT_ROUTE: &str = "$default";

/// is refused unless there is a `"$default"` entry: deny by default.
#[derive(Debug, Clone)]
pub struct RouteScopes {
    routes: HashMap<String, Vec<Scope>>,
    templates: Vec<RouteTemplate>,
}

impl RouteScopes {
    pub fn parse(json: &str) -> Result<Self, String> {
        let raw: HashMap<String, Vec<String>> = serde_json::from_str(json).map_err(|e| {
            format!("must be a JSON object from route key to a list of scopes ({e})")
        })?;
        let mut routes = HashMap::with_capacity(raw.len());
        let mut templates = Vec::new();
        for (key, scopes) in raw {
            if key != DEFAULT_ROUTE {
                templates.push(RouteTemplate::parse(&key)?);
            }
            let scopes = scopes
                .iter()
                .map(|s| Scope::parse(s).map_err(|e| format!("route {key:?}: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            routes.insert(key, scopes);
        }
        Ok(Self { routes, templates })
    }

    /// The scopes `route_key` requires, falling back to `$default`; `None`: not configured.
    pub fn required(&self, route_key: &str) -> Option<&[Scope]> {
        self.routes
            .get(route_key)
            .or_else(|| self.routes.get(DEFAULT_ROUTE))
            .map(Vec::as_slice)
    }

    /// The route key API Gateway would pick for a request, if the platform's routes are the
    /// ones listed here: the most specific match, else `$default`. The local gateway uses it;
    /// in AWS, API Gateway hands the authorizer its route key.
    pub fn route_key(&self, method: &str, path: &str) -> String {
        let segments: Vec<&str> = path
            .strip_prefix('/')
            .unwrap_or(path)
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        self.templates
            .iter()
            .filter_map(|t| {
                t.matches(method, &segments)
                    .map(|m| (m.specificity, t.key()))
            })
            // The most specific; between equals, the key first in byte order, on every start.
            .max_by(|(a, a_key), (b, b_key)| a.cmp(b).then_with(|| b_key.cmp(a_key)))
            .map_or_else(|| DEFAULT_ROUTE.to_owned(), |(_, key)| key.to_owned())
    }
}
