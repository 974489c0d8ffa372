//! Reading environment-like variables through a lookup, shared by every config's
//! `from_lookup` and by the registry.

use quflux_core::{Error, Result};

/// Variables read through a lookup (`|name| std::env::var(name).ok()` for the process
/// environment); values are trimmed and blank values count as unset.
#[derive(Clone, Copy)]
pub(crate) struct Vars<'a>(pub(crate) &'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    /// The trimmed value of `name`, `None` when unset or blank.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// Whether `name` has a non-blank value.
    pub(crate) fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// An optional http(s) URL. The value is not repeated in the error (it may carry userinfo).
    ///
    /// # Errors
    /// [`Error::Config`] naming `name` when the value is not an http(s) URL with a host.
    #[cfg_attr(
        not(any(
            feature = "twitter",
            feature = "linkedin",
            feature = "meta",
            feature = "bluesky",
            feature = "mastodon"
        )),
        allow(dead_code)
    )]
    pub(crate) fn url(&self, name: &str) -> Result<Option<String>> {
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
}
