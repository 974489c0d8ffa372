//! Reading the variables: per-platform settings and the token keys.

use quflux_core::cipher::{AesGcmCipher, decode_key};
use quflux_core::{Error, Result, Secret};

use super::{Slot, TOKEN_KEYS_VAR};

/// Environment-like variables read through a lookup; blank values count as unset.
pub(super) struct Vars<'a>(pub(super) &'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// An optional http(s) URL. The value is not repeated in the error (it may carry userinfo).
    pub(super) fn url(&self, name: &str) -> Result<Option<String>> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let url = url::Url::parse(&value)
            .map_err(|e| Error::Config(format!("{name}: not a valid URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(Error::Config(format!(
                "{name}: expected an http(s) URL with a host"
            )));
        }
        Ok(Some(value))
    }

    /// `false` when none of `intent` is set; an error naming the first missing variable of
    /// `required` when only some are.
    fn app(&self, label: &str, intent: &[&str], required: &[&str]) -> Result<bool> {
        if !intent.iter().any(|n| self.is_set(n)) {
            return Ok(false);
        }
        match required.iter().find(|n| !self.is_set(n)) {
            Some(missing) => Err(Error::Config(format!(
                "{missing} is not set ({label} is partly configured: set it, or unset {})",
                intent.join(" and ")
            ))),
            None => Ok(true),
        }
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
pub(super) fn twitter_from(
    vars: &Vars<'_>,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Slot<crate::twitter::XConfig>> {
    const ID: &str = "QUFLUX_X_CLIENT_ID";
    if !vars.app(
        "X",
        &[ID, "QUFLUX_X_CLIENT_SECRET"],
        &[ID, "QUFLUX_X_REDIRECT_URL"],
    )? {
        return Ok(Slot::unset(format!("{ID} not set")));
    }
    vars.url("QUFLUX_X_REDIRECT_URL")?;
    vars.url("QUFLUX_X_API_BASE")?;
    crate::twitter::XConfig::from_lookup(get).map(Slot::Set)
}

#[cfg(feature = "linkedin")]
pub(super) fn linkedin_from(vars: &Vars<'_>) -> Result<Slot<crate::linkedin::LinkedInConfig>> {
    const ID: &str = "QUFLUX_LINKEDIN_CLIENT_ID";
    const SECRET: &str = "QUFLUX_LINKEDIN_CLIENT_SECRET";
    const REDIRECT: &str = "QUFLUX_LINKEDIN_REDIRECT_URL";
    if !vars.app("LinkedIn", &[ID, SECRET], &[ID, SECRET, REDIRECT])? {
        return Ok(Slot::unset(format!("{ID} and {SECRET} not set")));
    }
    let (Some(id), Some(secret), Some(redirect)) =
        (vars.get(ID), vars.get(SECRET), vars.url(REDIRECT)?)
    else {
        return Err(Error::Config(format!("{REDIRECT} is not set")));
    };
    let mut config = crate::linkedin::LinkedInConfig::new(id, Secret::new(secret), redirect);
    if let Some(base) = vars.url("QUFLUX_LINKEDIN_API_BASE")? {
        config = config.with_api_base(base);
    }
    if let Some(base) = vars.url("QUFLUX_LINKEDIN_OAUTH_BASE")? {
        config = config.with_oauth_base(base);
    }
    if let Some(version) = vars.get("QUFLUX_LINKEDIN_VERSION") {
        if version.len() != 6 || !version.chars().all(|c| c.is_ascii_digit()) {
            return Err(Error::Config(
                "QUFLUX_LINKEDIN_VERSION: expected YYYYMM, e.g. 202608".into(),
            ));
        }
        config = config.with_version(version);
    }
    Ok(Slot::Set(config))
}

#[cfg(feature = "meta")]
pub(super) fn meta_from(vars: &Vars<'_>) -> Result<Slot<crate::meta::MetaConfig>> {
    const ID: &str = "QUFLUX_META_APP_ID";
    const SECRET: &str = "QUFLUX_META_APP_SECRET";
    const REDIRECT: &str = "QUFLUX_META_REDIRECT_URL";
    if !vars.app("Meta", &[ID, SECRET], &[ID, SECRET, REDIRECT])? {
        return Ok(Slot::unset(format!("{ID} and {SECRET} not set")));
    }
    let (Some(id), Some(secret), Some(redirect)) =
        (vars.get(ID), vars.get(SECRET), vars.url(REDIRECT)?)
    else {
        return Err(Error::Config(format!("{REDIRECT} is not set")));
    };
    let mut config = crate::meta::MetaConfig::new()
        .with_app(id, Secret::new(secret))
        .with_redirect_url(redirect);
    if let Some(base) = vars.url("QUFLUX_META_GRAPH_BASE")? {
        config = config.with_graph_base(base);
    }
    if let Some(version) = vars.get("QUFLUX_META_API_VERSION") {
        let ok = version.strip_prefix('v').is_some_and(|rest| {
            rest.split_once('.').is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.chars().chain(b.chars()).all(|c| c.is_ascii_digit())
            })
        });
        if !ok {
            return Err(Error::Config(
                "QUFLUX_META_API_VERSION: expected a Graph API version like v24.0".into(),
            ));
        }
        config = config.with_api_version(version);
    }
    if let Some(url) = vars.url("QUFLUX_META_DIALOG_URL")? {
        config = config.with_dialog_url(url);
    }
    if let Some(base) = vars.url("QUFLUX_PUBLIC_MEDIA_BASE_URL")? {
        config = config.with_media_url_base(base);
    }
    Ok(Slot::Set(config))
}

#[cfg(feature = "bluesky")]
pub(super) fn bluesky_from(vars: &Vars<'_>) -> Result<Slot<crate::bluesky::BlueskyConfig>> {
    let mut config = crate::bluesky::BlueskyConfig::default();
    if let Some(url) = vars.url("QUFLUX_BLUESKY_PDS_URL")? {
        config = config.with_pds_url(url);
    }
    if let Some(url) = vars.url("QUFLUX_BLUESKY_APP_VIEW_URL")? {
        config = config.with_app_view_url(url);
    }
    Ok(Slot::Set(config))
}

#[cfg(feature = "mastodon")]
pub(super) fn mastodon_from(vars: &Vars<'_>) -> Result<Slot<crate::mastodon::MastodonConfig>> {
    use crate::mastodon::{INSTANCE_VAR, MastodonConfig, REDIRECT_URL_VAR, normalize_instance};
    let mut config = MastodonConfig::default();
    if let Some(instance) = vars.get(INSTANCE_VAR) {
        let instance = normalize_instance(&instance).map_err(|_| {
            Error::Config(format!(
                "{INSTANCE_VAR}: expected an instance host or http(s) URL without a path"
            ))
        })?;
        config = config.with_instance(instance);
    }
    if let Some(url) = vars.url(REDIRECT_URL_VAR)? {
        config = config.with_redirect_url(url);
    }
    Ok(Slot::Set(config))
}
