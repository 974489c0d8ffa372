//! The API's routes, one module per area. Each module's `router()` carries its OpenAPI paths.
//! Shared here: the paging and length checks and the [`TimeZoneName`] schema.

pub mod ai;
pub mod auth;
pub mod connections;
pub mod events;
pub mod media;
pub mod ops;
pub mod posts;
pub mod publications;
pub mod schedules;

use std::borrow::Cow;

use quflux_core::Error;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use crate::error::{ApiError, ApiResult};

/// Largest page size of the list operations.
pub(crate) const MAX_LIMIT: u32 = 1000;
/// Largest offset of the list operations.
pub(crate) const MAX_OFFSET: u32 = 1_000_000;

/// Checks `limit` (1 to [`MAX_LIMIT`]) and `offset` (at most [`MAX_OFFSET`]) as documented.
pub(crate) fn check_page(limit: Option<u32>, offset: Option<u32>) -> ApiResult<()> {
    if limit.is_some_and(|l| !(1..=MAX_LIMIT).contains(&l)) {
        return Err(ApiError::bad_request(
            "limit",
            format!("limit: must be 1 to {MAX_LIMIT}"),
        ));
    }
    if offset.is_some_and(|o| o > MAX_OFFSET) {
        return Err(ApiError::bad_request(
            "offset",
            format!("offset: at most {MAX_OFFSET}"),
        ));
    }
    Ok(())
}

/// Checks a text field's documented length (`min_length`, `max_length`), in characters as
/// JSON Schema counts them: 422 `INVALID_INPUT` naming the field otherwise.
pub(crate) fn check_len(field: &str, value: &str, min: usize, max: usize) -> ApiResult<()> {
    let n = value.chars().count();
    if n < min {
        return Err(Error::invalid_input(field, "must not be empty").into());
    }
    if n > max {
        return Err(Error::invalid_input(field, format!("at most {max} characters")).into());
    }
    Ok(())
}

/// The OpenAPI schema of a time zone field: one of the IANA names the server knows
/// (`chrono_tz`), e.g. `Europe/Paris`. Only a schema; the fields stay `String`s.
#[derive(Debug)]
pub struct TimeZoneName;

impl utoipa::PartialSchema for TimeZoneName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("An IANA time zone name, e.g. `Europe/Paris`."))
            .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())))
            .into()
    }
}

impl utoipa::ToSchema for TimeZoneName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("TimeZoneName")
    }
}
