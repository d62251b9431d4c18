//! End-to-end tests live in `tests/`; this library holds shared harness code.
