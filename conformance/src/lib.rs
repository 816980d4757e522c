//! Receiver conformance suite.
