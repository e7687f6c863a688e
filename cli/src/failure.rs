//! How errors leave the process: `error[<code>]: <message>` on stderr and an exit code
//! scripts can rely on (1 usage or I/O, 2 data).

use std::process::ExitCode;

use elastickv_codec::pipeline::DumpError;
use elastickv_codec::{ErrorCode, ExitClass};

use crate::render;

/// A failed command: what to print and how to exit.
#[derive(Debug)]
pub struct Failure {
    code: &'static str,
    class: ExitClass,
    message: String,
    /// Further lines printed after the error line (notes, report summary).
    details: Vec<String>,
}

impl Failure {
    /// A failure with an explicit code.
    pub fn new(code: &'static str, class: ExitClass, message: impl Into<String>) -> Self {
        Failure {
            code,
            class,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// A usage or I/O failure.
    pub fn usage(code: &'static str, message: impl Into<String>) -> Self {
        Failure::new(code, ExitClass::Usage, message)
    }

    /// Wraps a coded library error, prefixing what was being done.
    pub fn from_error<E: ErrorCode + std::fmt::Display>(context: &str, error: &E) -> Self {
        Failure::new(
            error.code(),
            error.exit_class(),
            format!("{context}: {error}"),
        )
    }

    /// Wraps a pipeline error; a self-test mismatch brings its summary and notes.
    pub fn from_dump(error: &DumpError) -> Self {
        let mut failure = Failure::new(error.code(), error.exit_class(), error.to_string());
        if let DumpError::SelfTestMismatch(mismatch) = error {
            if mismatch.mismatch_path.is_some() {
                failure
                    .details
                    .push(format!("self-test: {}", mismatch.outcome.summary()));
            }
            failure.details.extend(mismatch.notes.iter().cloned());
        }
        failure
    }

    /// Adds a line printed after the error line (a hint, a note).
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.details.push(detail.into());
        self
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The exit code of our CLI (1 usage or I/O, 2 data).
    pub fn exit_code(&self) -> u8 {
        // Exit codes are 1 and 2 only; the cast cannot truncate.
        self.class.exit_code() as u8
    }

    /// `error[<code>]: <message>`.
    pub fn line(&self) -> String {
        format!("error[{}]: {}", self.code, render::one_line(&self.message))
    }

    /// Prints the failure and returns its exit code.
    pub fn report(&self) -> ExitCode {
        eprintln!("{}", self.line());
        for detail in &self.details {
            eprintln!("  {detail}");
        }
        ExitCode::from(self.exit_code())
    }
}
