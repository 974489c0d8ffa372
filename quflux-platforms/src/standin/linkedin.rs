//! Stand-in of the linkedin API.
