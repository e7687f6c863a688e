//! External merge sort (filled in by the container work).
