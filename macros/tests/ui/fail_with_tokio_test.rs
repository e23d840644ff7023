#[dockhand::test]
#[tokio::test]
async fn t() {}

fn main() {}
