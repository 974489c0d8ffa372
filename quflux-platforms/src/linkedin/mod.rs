//! LinkedIn adapter.
