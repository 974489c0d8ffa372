//! Stand-in of the twitter API.
