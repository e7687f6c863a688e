//! How errors leave the process: `error[<code>]: <message>` on stderr and an exit code
//! scripts can rely on (1 usage or I/O, 2 data).

use std::process::ExitCode;

use elastickv_codec::{ErrorCode, ExitClass};

/// A failed command: what to print and how to exit.
#[derive(Debug)]
pub struct Failure {
    code: &'static str,
    class: ExitClass,
    message: String,
}

impl Failure {
    /// A failure with an explicit code.
    pub fn new(code: &'static str, class: ExitClass, message: impl Into<String>) -> Self {
        Failure {
            code,
            class,
            message: message.into(),
        }
    }

    /// A usage or I/O failure.
    pub fn usage(code: &'static str, message: impl Into<String>) -> Self {
        Failure::new(code, ExitClass::Usage, message)
    }

    /// Wraps a coded library error, prefixing what was being done.
    pub fn from_error<E: ErrorCode + std::fmt::Display>(context: &str, error: &E) -> Self {
        Failure::new(error.code(), error.exit_class(), format!("{context}: {error}"))
    }

    /// Prints the failure and returns its exit code.
    pub fn report(&self) -> ExitCode {
        eprintln!("error[{}]: {}", self.code, self.message);
        // Exit codes are 1 and 2 only; the cast cannot truncate.
        ExitCode::from(self.class.exit_code() as u8)
    }
}
