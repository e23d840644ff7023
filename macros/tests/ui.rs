//! Compile-time errors of `#[dockhand::test]`, checked against reviewed
//! snapshots (`tests/ui/*.stderr`). Refresh with `TRYBUILD=overwrite` and
//! read the diff: the messages are part of the product.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail_*.rs");
    t.pass("tests/ui/pass_*.rs");
}
