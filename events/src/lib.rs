//! Event catalog.
