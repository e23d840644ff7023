#[dockhand::test(keep = "always", keep = "never")]
async fn t() {}

fn main() {}
