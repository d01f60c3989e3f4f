//! Template model.
