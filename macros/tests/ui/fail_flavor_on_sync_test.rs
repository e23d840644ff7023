// A sync test has no async runtime to configure.
#[dockhand::test(flavor = "multi_thread")]
fn t() {}

fn main() {}
