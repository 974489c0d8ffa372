//! Stand-in of the mastodon API.
