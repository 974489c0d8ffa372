//! Stand-in of the bluesky API.
