// Every bad value is reported at once.
#[dockhand::test(timeout = "soon", keep = "maybe", worker_threads = 0, flavor = 3, skip_without_engine = "yes")]
async fn t() {}

fn main() {}
