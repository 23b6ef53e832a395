//! Validation of the typed headers every consumer reads.

use super::index::MessageIndex;
use crate::error::Error;
use crate::limits::ParseOptions;

impl MessageIndex {
    /// Checks the typed headers of a parsed message.
    pub fn validate(&mut self, _buf: &[u8], _opts: &ParseOptions) -> Result<(), Error> {
        Ok(())
    }
}
