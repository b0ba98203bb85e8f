//! The console's conformance cases (run through both adapters on every store).

mod http;
