#[dockhand::test]
async fn t(#[spec] c: dockhand::Container, #[spec(a())] #[spec(b())] d: dockhand::Container) {
    let _ = (c, d);
}

fn main() {}
