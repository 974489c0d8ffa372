//! Reading `QUFLUX_<ADAPTER>_<FIELD>` settings for the builders' `from_env()`.

use std::str::FromStr;

/// Reads one adapter's variables; malformed values are collected, for `build()` to report.
#[derive(Debug)]
pub(crate) struct EnvReader {
    adapter: &'static str,
    prefix: &'static str,
    errors: Vec<String>,
}

impl EnvReader {
    /// A reader of `{prefix}{FIELD}` variables; errors name `adapter`.
    pub(crate) fn new(adapter: &'static str, prefix: &'static str) -> Self {
        Self {
            adapter,
            prefix,
            errors: Vec::new(),
        }
    }

    /// The variable's name for `field`.
    pub(crate) fn name(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    /// The trimmed value of `{prefix}{field}`, if set and not blank.
    pub(crate) fn string(&self, field: &str) -> Option<String> {
        std::env::var(self.name(field))
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The parsed value of `{prefix}{field}`; a value that does not parse is recorded.
    pub(crate) fn parse<T: FromStr>(&mut self, field: &str, expected: &str) -> Option<T> {
        let value = self.string(field)?;
        match value.parse() {
            Ok(v) => Some(v),
            Err(_) => {
                self.errors.push(format!(
                    "{}: {} `{value}` is not {expected}",
                    self.adapter,
                    self.name(field)
                ));
                None
            }
        }
    }

    /// The first malformed value, if any.
    pub(crate) fn into_error(self) -> Option<String> {
        self.errors.into_iter().next()
    }
}
