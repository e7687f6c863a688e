//! What every error in this crate shares: a stable code and an exit class.
//!
//! Operators script on exit codes and on the `error[<code>]` tag the CLI prints, so
//! both are part of the interface. Codes are the Go sentinel names without the `Err`
//! prefix, in kebab-case (`ErrSnapshotTruncated` → `snapshot-truncated`), so logs from
//! the Go tools and from ours can be grepped the same way.

/// Whether an error is about the data (exit 2) or about how the tool was used or the
/// machine it ran on (exit 1). The split mirrors the Go tools' exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitClass {
    /// Usage, I/O or environment problems: exit code 1.
    Usage,
    /// The input is corrupt or rejected: exit code 2.
    Data,
}

impl ExitClass {
    /// The process exit code for this class.
    pub fn exit_code(self) -> i32 {
        match self {
            ExitClass::Usage => 1,
            ExitClass::Data => 2,
        }
    }
}

/// Implemented by every error type of the crate.
pub trait ErrorCode {
    /// Stable kebab-case code, e.g. `snapshot-truncated`.
    fn code(&self) -> &'static str;
    /// Exit class of the error.
    fn exit_class(&self) -> ExitClass;
}

/// An error that carries a code: what adapters hand back to the drivers.
pub trait CodedError: std::error::Error + ErrorCode + Send + Sync + 'static {}

impl<T: std::error::Error + ErrorCode + Send + Sync + 'static> CodedError for T {}

/// A boxed [`CodedError`].
pub type BoxError = Box<dyn CodedError>;
