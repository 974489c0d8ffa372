//! Bluesky / AT Protocol adapter.
