//! The store conformance suite (`usermgmt_core::testing::store_suite`) against every store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

usermgmt_core::store_conformance_tests!(memory, async {
    Some(
        std::sync::Arc::new(usermgmt_core::store::memory::MemoryStore::new())
            as std::sync::Arc<dyn usermgmt_core::Store>,
    )
});

usermgmt_core::store_conformance_tests!(sqlite, async {
    Some(usermgmt_core::testing::databases::sqlite_test_store().await)
});

usermgmt_core::store_conformance_tests!(postgres, async {
    usermgmt_core::testing::databases::postgres_test_store().await
});
