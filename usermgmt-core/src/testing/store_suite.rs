//! Store conformance suite (see `store_conformance_tests!`).
