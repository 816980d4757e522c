//! Secret loading, shared with the conformance suite so every command reads the secret the
//! same way.

pub use ::conformance::secret::*;
