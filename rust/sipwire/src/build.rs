//! Serialization and builders.
