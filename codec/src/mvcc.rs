//! MVCC visibility (filled in by the container work).
