use super::*;

#[test]
fn names_are_trimmed_and_bounded() {
    assert_eq!(Name::parse("  CRM sync ").unwrap().as_str(), "CRM sync");
    assert_eq!(Name::parse("").unwrap_err().code, "invalid_name");
    assert_eq!(Name::parse("   ").unwrap_err().code, "invalid_name");
    assert!(
        Name::parse(&"é".repeat(100)).is_ok(),
        "limit counts characters, not bytes"
    );
    assert_eq!(
        Name::parse(&"x".repeat(101)).unwrap_err().code,
        "invalid_name"
    );
    assert_eq!(
        Name::parse("a\u{1b}[31mred").unwrap_err().code,
        "invalid_name"
    );
    assert_eq!(Name::parse("line\nbreak").unwrap_err().code, "invalid_name");
    // Checked as sent: trimming does not hide a control character or excess length.
    assert_eq!(Name::parse("CRM sync\n").unwrap_err().code, "invalid_name");
    assert_eq!(
        Name::parse(&format!("{} ", "x".repeat(100)))
            .unwrap_err()
            .code,
        "invalid_name"
    );
}

#[test]
fn descriptions_allow_newlines_but_not_other_controls() {
    assert!(Description::parse("").is_ok());
    assert!(Description::parse("first line\nsecond\tline").is_ok());
    assert_eq!(
        Description::parse("bell\u{7}").unwrap_err().code,
        "invalid_description"
    );
    assert_eq!(
        Description::parse(&"x".repeat(501)).unwrap_err().code,
        "invalid_description"
    );
}

#[test]
fn text_fields_refuse_pasted_secrets() {
    let secret = crate::secret::ClientSecret::generate(Environment::Live);
    let text = format!("rotated to {} today", secret.expose());
    assert_eq!(
        Description::parse(&text).unwrap_err().code,
        "secret_in_text"
    );
    assert_eq!(Reason::parse(&text).unwrap_err().code, "secret_in_text");
    assert_eq!(
        Name::parse(secret.expose()).unwrap_err().code,
        "secret_in_text"
    );
}

#[test]
fn scopes_follow_the_pattern() {
    for good in [
        "products:read",
        "events-register:read",
        "a:b",
        "admin.users:write_all",
    ] {
        assert!(Scope::parse(good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "products",
        "products:",
        ":read",
        "Products:read",
        "products:read:all",
        "1products:read",
        "products :read",
        "prod#ucts:read",
    ] {
        assert_eq!(
            Scope::parse(bad).unwrap_err().code,
            "invalid_scope",
            "{bad:?}"
        );
    }
    let long = format!("{}:read", "a".repeat(65));
    assert!(Scope::parse(&long).is_err());
}

#[test]
fn scope_sets_are_deduplicated_sorted_and_bounded() {
    let scopes = Scopes::parse(&["b:read", "a:read", "b:read"]).unwrap();
    assert_eq!(scopes.to_strings(), ["a:read", "b:read"]);
    assert_eq!(scopes.to_oauth_string(), "a:read b:read");
    assert_eq!(
        Scopes::parse::<&str>(&[]).unwrap_err().code,
        "missing_scopes"
    );
    let many: Vec<String> = (0..51).map(|i| format!("r{i}:read")).collect();
    assert_eq!(Scopes::parse(&many).unwrap_err().code, "too_many_scopes");
    assert!(Scopes::parse(&many[..50]).is_ok());
}
