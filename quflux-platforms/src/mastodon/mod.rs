//! Mastodon adapter.
