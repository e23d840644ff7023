#[dockhand::test]
async fn t<T: Default>() {
    let _ = T::default();
}

fn main() {}
