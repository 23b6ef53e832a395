//! Typed header views.
