struct S;

impl S {
    #[dockhand::test]
    async fn t(&self) {}
}

fn main() {}
