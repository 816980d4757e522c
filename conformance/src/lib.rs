//! Receiver conformance suite for AresGen webhook integrators.
//!
//! The suite sends signed deliveries, malformed ones and attacks to a receiver and grades
//! the answers against the delivery contract. Its checks are data in
//! `scenarios/conformance/`, compiled in by [`catalog`]. The crate also holds the reference
//! receiver ([`receiver`]) and, behind the `testing` feature, receivers that each make one
//! common mistake ([`faulty`]).

pub mod catalog;
pub mod cli;
#[cfg(feature = "testing")]
pub mod faulty;
pub mod ids;
pub mod receiver;
pub mod report;
pub mod request;
pub mod runner;
pub mod secret;
pub mod selection;
pub mod verdict;

pub use catalog::{Catalog, Check, Severity};
pub use cli::{ConformanceArgs, ReceiveArgs, run_conformance, run_receive};
pub use runner::{RunReport, SuiteConfig, run_suite};
pub use verdict::Verdict;
