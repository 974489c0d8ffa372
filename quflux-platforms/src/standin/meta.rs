//! Stand-in of the meta API.
