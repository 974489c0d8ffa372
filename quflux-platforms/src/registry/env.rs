//! Reading the variables: which platforms are configured, and the token keys. Each platform's
//! own variables are read by its config's `from_lookup`; only the decision "configured or
//! not" (and a partly configured app) is made here.

use quflux_core::cipher::{AesGcmCipher, decode_key};
use quflux_core::{Error, Result, Secret};

use super::{Slot, TOKEN_KEYS_VAR};
use crate::common::vars::Vars;

/// `false` when none of `intent` is set; an error naming the first missing variable of
/// `required` when only some are.
fn app(vars: Vars<'_>, label: &str, intent: &[&str], required: &[&str]) -> Result<bool> {
    if !intent.iter().any(|n| vars.is_set(n)) {
        return Ok(false);
    }
    match required.iter().find(|n| !vars.is_set(n)) {
        Some(missing) => Err(Error::Config(format!(
            "{missing} is not set ({label} is partly configured: set it, or unset {})",
            intent.join(" and ")
        ))),
        None => Ok(true),
    }
}

/// Parses [`TOKEN_KEYS_VAR`] (`id:base64[,id:base64…]`, a bare key gets the id `default`);
/// `None` when it is unset.
///
/// # Errors
/// [`Error::Config`] naming the variable and the key id (never the key).
pub fn token_cipher_from_lookup(
    get: impl Fn(&str) -> Option<String>,
) -> Result<Option<AesGcmCipher>> {
    let Some(value) = Vars(&get).get(TOKEN_KEYS_VAR) else {
        return Ok(None);
    };
    let mut cipher: Option<AesGcmCipher> = None;
    let mut ids: Vec<String> = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (id, key) = entry.split_once(':').unwrap_or(("default", entry));
        let id = id.trim();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(Error::Config(format!(
                "{TOKEN_KEYS_VAR}: a key id must be letters, digits, `-`, `_` or `.`"
            )));
        }
        if ids.iter().any(|known| known == id) {
            return Err(Error::Config(format!(
                "{TOKEN_KEYS_VAR}: key id `{id}` appears twice"
            )));
        }
        let key = decode_key(&Secret::new(key.trim().to_owned())).map_err(|_| {
            Error::Config(format!(
                "{TOKEN_KEYS_VAR}: key `{id}` must be the base64 of 32 random bytes \
                 (e.g. `openssl rand -base64 32`)"
            ))
        })?;
        cipher = Some(match cipher {
            None => AesGcmCipher::new(id, &key),
            Some(c) => c.with_old_key(id, &key),
        });
        ids.push(id.to_owned());
    }
    cipher
        .map(Some)
        .ok_or_else(|| Error::Config(format!("{TOKEN_KEYS_VAR}: no key in the value")))
}

#[cfg(feature = "twitter")]
pub(super) fn twitter_from(vars: Vars<'_>) -> Result<Slot<crate::twitter::XConfig>> {
    use crate::twitter::{CLIENT_ID_VAR, CLIENT_SECRET_VAR, REDIRECT_URL_VAR, XConfig};
    if !app(
        vars,
        "X",
        &[CLIENT_ID_VAR, CLIENT_SECRET_VAR],
        &[CLIENT_ID_VAR, REDIRECT_URL_VAR],
    )? {
        return Ok(Slot::unset(format!("{CLIENT_ID_VAR} not set")));
    }
    XConfig::from_lookup(vars.0).map(Slot::Set)
}

#[cfg(feature = "linkedin")]
pub(super) fn linkedin_from(vars: Vars<'_>) -> Result<Slot<crate::linkedin::LinkedInConfig>> {
    use crate::linkedin::{CLIENT_ID_VAR, CLIENT_SECRET_VAR, LinkedInConfig, REDIRECT_URL_VAR};
    let (id, secret) = (CLIENT_ID_VAR, CLIENT_SECRET_VAR);
    if !app(
        vars,
        "LinkedIn",
        &[id, secret],
        &[id, secret, REDIRECT_URL_VAR],
    )? {
        return Ok(Slot::unset(format!("{id} and {secret} not set")));
    }
    LinkedInConfig::from_lookup(vars.0).map(Slot::Set)
}

#[cfg(feature = "meta")]
pub(super) fn meta_from(vars: Vars<'_>) -> Result<Slot<crate::meta::MetaConfig>> {
    use crate::meta::{APP_ID_VAR, APP_SECRET_VAR, MetaConfig, REDIRECT_URL_VAR};
    let (id, secret) = (APP_ID_VAR, APP_SECRET_VAR);
    if !app(vars, "Meta", &[id, secret], &[id, secret, REDIRECT_URL_VAR])? {
        return Ok(Slot::unset(format!("{id} and {secret} not set")));
    }
    MetaConfig::from_lookup(vars.0).map(Slot::Set)
}

#[cfg(feature = "bluesky")]
pub(super) fn bluesky_from(vars: Vars<'_>) -> Result<Slot<crate::bluesky::BlueskyConfig>> {
    crate::bluesky::BlueskyConfig::from_lookup(vars.0).map(Slot::Set)
}

#[cfg(feature = "mastodon")]
pub(super) fn mastodon_from(vars: Vars<'_>) -> Result<Slot<crate::mastodon::MastodonConfig>> {
    crate::mastodon::MastodonConfig::from_lookup(vars.0).map(Slot::Set)
}
