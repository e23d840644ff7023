#[dockhand::test(flavour = "multi_thread")]
async fn t() {}

fn main() {}
