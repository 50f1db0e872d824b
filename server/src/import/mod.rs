//! Bringing another relay's data into Tollgate. One importer so far: claude-relay-service
//! (`crs`), the relay most operators switch from.

pub mod crs;
