//! E-mail addresses with an optional display name: `noreply@example.com` or
//! `Quflux <noreply@example.com>`.

use std::fmt;

/// An e-mail address and an optional display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress {
    /// Display name, without quotes.
    pub name: Option<String>,
    /// The address, `local@domain`.
    pub email: String,
}

impl EmailAddress {
    /// Parses `addr@example.com`, `Name <addr@example.com>` or `"Name, Inc." <addr@example.com>`.
    ///
    /// The check is deliberately simple (one `@`, a dot-atom local part, a domain of letter,
    /// digit and hyphen labels); it rejects whitespace, control characters and anything that
    /// could inject a header.
    ///
    /// # Errors
    /// Why the text is not an address.
    pub fn parse(input: &str) -> Result<Self, String> {
        let input = input.trim();
        if input.chars().any(char::is_control) {
            return Err("contains control characters".to_owned());
        }
        let (name, email) = match input.rfind('<') {
            Some(open) => {
                let rest = &input[open + 1..];
                let close = rest
                    .find('>')
                    .ok_or_else(|| "an address opened with `<` must close with `>`".to_owned())?;
                if !rest[close + 1..].trim().is_empty() {
                    return Err("text after `>`".to_owned());
                }
                let name = clean_name(input[..open].trim().trim_matches('"'));
                (Some(name).filter(|n| !n.is_empty()), &rest[..close])
            }
            None => (None, input),
        };
        let email = email.trim();
        check_address(email)?;
        Ok(Self {
            name,
            email: email.to_owned(),
        })
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "\"{}\" <{}>", name.replace('"', "'"), self.email),
            None => f.write_str(&self.email),
        }
    }
}

/// A display name without control characters, quotes, angle brackets or backslashes.
pub(super) fn clean_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '"' | '<' | '>' | '\\') {
                ' '
            } else {
                c
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn check_address(email: &str) -> Result<(), String> {
    let (local, domain) = email
        .rsplit_once('@')
        .ok_or_else(|| "not an e-mail address (no `@`)".to_owned())?;
    if local.is_empty() || local.len() > 64 {
        return Err("the part before `@` must be 1 to 64 characters".to_owned());
    }
    let atext =
        |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii();
    if local
        .split('.')
        .any(|atom| atom.is_empty() || !atom.chars().all(atext))
    {
        return Err("the part before `@` has a character not allowed in an address".to_owned());
    }
    if domain.is_empty() || domain.len() > 253 {
        return Err("the domain must be 1 to 253 characters".to_owned());
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c == '-' || c.is_alphanumeric())
    };
    if !domain.split('.').all(label_ok) {
        return Err("the domain is not a host name".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn plain_and_named_addresses_parse() {
        let a = EmailAddress::parse(" noreply@example.com ").unwrap();
        assert_eq!(a.email, "noreply@example.com");
        assert_eq!(a.name, None);
        let b = EmailAddress::parse("Quflux <noreply@example.com>").unwrap();
        assert_eq!(b.name.as_deref(), Some("Quflux"));
        assert_eq!(b.email, "noreply@example.com");
        let c = EmailAddress::parse("\"Quflux, Inc.\" <a.b+tag@mail.example.co>").unwrap();
        assert_eq!(c.name.as_deref(), Some("Quflux, Inc."));
        assert_eq!(c.to_string(), "\"Quflux, Inc.\" <a.b+tag@mail.example.co>");
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "",
            "no-at-sign",
            "@example.com",
            "a@",
            "a b@example.com",
            "a@exa mple.com",
            "a..b@example.com",
            "Name <a@example.com",
            "Name <a@example.com> trailing",
            "a@example.com\r\nBcc: victim@example.com",
            "a@-bad-.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_lose_header_breaking_characters() {
        assert_eq!(clean_name(" Ada \"the\" <Count>\t"), "Ada the Count");
    }
}
