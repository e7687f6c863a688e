//! Bench workloads.
