//! API Gateway route keys (`"GET /products"`, `"POST /orders/{id}"`, `"ANY /files/{path+}"`)
//! and how a request matches one, as API Gateway matches them: the one matcher for Clavis's
//! own route table (`clavis_api::routes`) and for the platform routes the authorizer guards
//! (`ROUTE_SCOPES`).

/// The methods a route key may name; `ANY` matches every method.
const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

/// One segment of a route's path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{name}`: any one non-empty segment.
    Parameter(String),
    /// `{name+}`, last only: one or more segments.
    Greedy(String),
}

/// A parsed route key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTemplate {
    key: String,
    /// `None` for `ANY`.
    method: Option<String>,
    segments: Vec<Segment>,
}

/// How specific a match is, as API Gateway ranks routes: more literal segments, then no greedy
/// segment, then a named method over `ANY`, then the longer run of literal segments from the
/// start. Compared in that order.
pub type Specificity = (usize, bool, bool, usize);

/// A request's match with a template: how specific, and the path parameters by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'t> {
    pub specificity: Specificity,
    pub parameters: Vec<(&'t str, String)>,
}

impl RouteTemplate {
    /// Parses `"METHOD /path"`; the error says what is wrong with the key.
    pub fn parse(key: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("route key {key:?} {why}");
        let (method, path) = key
            .split_once(' ')
            .ok_or_else(|| bad("is not \"METHOD /path\" or \"$default\""))?;
        if !METHODS.contains(&method) {
            return Err(bad(&format!(
                "has an unknown method (one of {})",
                METHODS.join(", ")
            )));
        }
        let rest = path
            .strip_prefix('/')
            .ok_or_else(|| bad("has a path that does not start with /"))?;
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) if name.ends_with('+') && name.len() > 1 => {
                    if i + 1 != parts.len() {
                        return Err(bad("has a greedy {name+} that is not the last segment"));
                    }
                    Segment::Greedy(name.trim_end_matches('+').to_owned())
                }
                Some(name) if !name.is_empty() && !name.contains(['{', '}', '+']) => {
                    Segment::Parameter(name.to_owned())
                }
                Some(_) => return Err(bad("has an empty or malformed {parameter}")),
                None if part.is_empty() => return Err(bad("has an empty path segment")),
                None if part.contains(['{', '}']) => {
                    return Err(bad("has a segment that is part literal, part parameter"));
                }
                None => Segment::Literal((*part).to_owned()),
            };
            segments.push(segment);
        }
        Ok(Self {
            key: key.to_owned(),
            method: (method != "ANY").then(|| method.to_owned()),
            segments,
        })
    }

    /// The key as written.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether a request with `method` and the path `segments` (split at `/`, after the
    /// leading one) matches, and if so how specifically, with its parameters. An empty
    /// segment never fills a parameter.
    pub fn matches(&self, method: &str, path: &[&str]) -> Option<RouteMatch<'_>> {
        if self.method.as_deref().is_some_and(|m| m != method) {
            return None;
        }
        let greedy = matches!(self.segments.last(), Some(Segment::Greedy(_)));
        let fixed = self.segments.len() - usize::from(greedy);
        let length_ok = if greedy {
            path.len() > fixed
        } else {
            path.len() == fixed
        };
        if !length_ok {
            return None;
        }
        let mut literals = 0;
        let mut parameters = Vec::new();
        for (segment, actual) in self.segments.iter().zip(path) {
            match segment {
                Segment::Literal(text) if text == actual => literals += 1,
                Segment::Parameter(name) if !actual.is_empty() => {
                    parameters.push((name.as_str(), (*actual).to_owned()));
                }
                Segment::Greedy(name) => {
                    parameters.push((name.as_str(), path[fixed..].join("/")));
                }
                _ => return None,
            }
        }
        let literal_prefix = self
            .segments
            .iter()
            .take_while(|segment| matches!(segment, Segment::Literal(_)))
            .count();
        Some(RouteMatch {
            specificity: (literals, !greedy, self.method.is_some(), literal_prefix),
            parameters,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(path: &str) -> Vec<&str> {
        path.strip_prefix('/').unwrap_or(path).split('/').collect()
    }

    #[test]
    fn parameters_are_captured_by_name_and_never_empty() {
        let template = RouteTemplate::parse("GET /v1/tenants/{tenant}/credentials/{id}").unwrap();
        let found = template
            .matches("GET", &segments("/v1/tenants/acme/credentials/cid_1"))
            .expect("a match");
        assert_eq!(
            found.parameters,
            [("tenant", "acme".to_owned()), ("id", "cid_1".to_owned())]
        );
        assert_eq!(found.specificity, (3, true, true, 2));
        for path in [
            "/v1/tenants//credentials/x",
            "/v1/tenants/acme/credentials/",
        ] {
            assert!(template.matches("GET", &segments(path)).is_none(), "{path}");
        }
        assert!(
            template
                .matches("POST", &segments("/v1/tenants/a/credentials/b"))
                .is_none()
        );
    }

    #[test]
    fn a_greedy_segment_takes_the_rest_and_any_takes_every_method() {
        let template = RouteTemplate::parse("ANY /files/{path+}").unwrap();
        let found = template
            .matches("DELETE", &segments("/files/a/b/c"))
            .expect("a match");
        assert_eq!(found.parameters, [("path", "a/b/c".to_owned())]);
        assert_eq!(found.specificity, (1, false, false, 1));
        assert!(template.matches("GET", &segments("/files")).is_none());
    }

    #[test]
    fn malformed_keys_are_refused_saying_why() {
        for (key, why) in [
            ("GET", "is not"),
            ("FETCH /a", "unknown method"),
            ("GET a", "does not start with /"),
            ("GET /{a+}/b", "greedy"),
            ("GET /{}", "malformed"),
            ("GET /a//b", "empty path segment"),
            ("GET /a{b}", "part literal"),
        ] {
            let error = RouteTemplate::parse(key).unwrap_err();
            assert!(error.contains(why), "{key}: {error}");
        }
    }
}
